/**
 * close(2) for cleanup paths: an fd the caller owns and gives up, where a failure has nothing
 * left to report. Linux releases the fd even when close reports an error (filp_close runs
 * before the error is returned; only EBADF means it was not open), so the result is ignored.
 * Code that must know (the daemon's KernelPort.close) checks libc.close itself.
 */
import { libc } from "./libc.ts";

export function closeFd(fd: number): void {
  libc.close(fd);
}
