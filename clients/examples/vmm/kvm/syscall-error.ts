/**
 * The example VMM's one error type for a failed libc call or ioctl, and `check`, the helper that
 * turns a libc return value into a result or that error.
 *
 * The errno travels as its NAME ("EINVAL", from Node's own table `os.constants.errno`), never as
 * a numeric `.code` (STYLE.md rule 3). `syscall` is kernel spelling
 * (`ioctl(KVM_CREATE_GUEST_MEMFD)`), so a grep from a message lands on the binding.
 */
import { constants } from "node:os";
import koffi from "koffi";

const ERRNO_NAMES: ReadonlyMap<number, string> = new Map(Object.entries(constants.errno).map(([name, value]) => [value, name]));

/** "EINVAL" for 22; `E<n>` for a number Node does not name. */
export function errnoName(errno: number): string {
  return ERRNO_NAMES.get(errno) ?? `E${errno}`;
}

export class SyscallError extends Error {
  readonly syscall: string;
  /** The errno's name, e.g. "EINVAL". */
  readonly errno: string;

  constructor(syscall: string, errno: string, detail?: string) {
    super(`${syscall} failed: ${errno}${detail === undefined ? "" : ` (${detail})`}`);
    this.name = "SyscallError";
    this.syscall = syscall;
    this.errno = errno;
  }
}

/**
 * `result` unless it is -1; then a SyscallError with the errno of the call that just returned.
 * Use as `check(libc.close(fd), "close")`: koffi.errno() is read as this function's first
 * statement, before any other JS can make a syscall that overwrites errno (STYLE.md, koffi).
 */
export function check(result: number, syscall: string, detail?: string): number {
  if (result !== -1) return result;
  const errno = koffi.errno();
  throw new SyscallError(syscall, errnoName(errno), detail);
}
