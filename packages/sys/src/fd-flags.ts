/**
 * fcntl(2) on fd flags, with the kernel's spelling: close-on-exec dups and the FD_CLOEXEC bit.
 * STYLE.md rule 7: everything gmempool opens or receives is close-on-exec, so that a process it
 * spawns (a VMM, a helper) inherits nothing by accident.
 */
import { asFd, type Fd } from "./fd.ts";
import { F_DUPFD_CLOEXEC, F_GETFD, F_SETFD, FD_CLOEXEC } from "./kernel-constants.ts";
import { libc } from "./libc.ts";
import { check } from "./syscall-check.ts";

/** fcntl(F_DUPFD_CLOEXEC): a close-on-exec dup of `fd` (borrowed). The caller owns the result. */
export function dupCloexec(fd: number): Fd {
  return asFd(check(libc.fcntl(fd, F_DUPFD_CLOEXEC, "int", 0), "fcntl(F_DUPFD_CLOEXEC)", `fd ${fd}`));
}

/**
 * Sets FD_CLOEXEC on `fd` (borrowed). For fds the kernel installs without it, e.g. a
 * guest_memfd (__kvm_gmem_create: get_unused_fd_flags(0), KERNEL.md §3).
 */
export function setCloexec(fd: number): void {
  const flags = check(libc.fcntl(fd, F_GETFD, "int", 0), "fcntl(F_GETFD)", `fd ${fd}`);
  check(libc.fcntl(fd, F_SETFD, "int", flags | FD_CLOEXEC), "fcntl(F_SETFD, FD_CLOEXEC)", `fd ${fd}`);
}

/** True if `fd` (borrowed) has FD_CLOEXEC set; KernelError EBADF if it is not open. */
export function isCloexec(fd: number): boolean {
  return (check(libc.fcntl(fd, F_GETFD, "int", 0), "fcntl(F_GETFD)", `fd ${fd}`) & FD_CLOEXEC) !== 0;
}

/** True if `fd` is an open file descriptor of this process (F_GETFD succeeds). */
export function isOpenFd(fd: number): boolean {
  return Number.isInteger(fd) && fd >= 0 && libc.fcntl(fd, F_GETFD, "int", 0) !== -1;
}
