/**
 * Turns a libc return value into a result or a KernelError. Use as
 * `check(libc.close(fd), "close")`: the call returns, then `check` reads errno as its very first
 * statement, before any other JS can run a syscall and overwrite it.
 */
import { errnoName } from "./errno-names.ts";
import { KernelError } from "./kernel-error.ts";
import { lastErrno } from "./libc.ts";

export function check(result: number, syscall: string, detail?: string): number {
  if (result !== -1) return result;
  const errno = errnoName(lastErrno());
  throw new KernelError(syscall, errno, detail === undefined ? {} : { detail });
}

/** The KernelError for an errno number already read (async completions, fs errors). */
export function kernelError(syscall: string, errno: number, detail?: string): KernelError {
  return new KernelError(syscall, errnoName(errno), detail === undefined ? {} : { detail });
}
