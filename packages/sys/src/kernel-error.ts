import type { ErrnoName } from "./errno-names.ts";

/** An errno name, or `E<n>` for a number Linux does not define (never seen so far). */
export type KernelErrno = ErrnoName | `E${number}`;

export interface KernelErrorOptions {
  /** Extra words after the errno name: the values that matter ("offset 0x1000 of a 2 MiB file"). */
  readonly detail?: string;
  /** KVM_SET_MEMORY_ATTRIBUTES2 EAGAIN: the first busy offset the kernel wrote back. */
  readonly errorOffset?: bigint;
  readonly cause?: unknown;
}

/**
 * The one error type of a failed syscall or ioctl, wherever it is made (the daemon's kernel
 * port, the client library's fd channel, the example VMM).
 *
 * `syscall` names the call in kernel spelling, e.g. `fallocate(PUNCH_HOLE)` or
 * `ioctl(KVM_CREATE_GUEST_MEMFD)`, so that a grep from the message lands on the binding.
 * `errno` is the NAME ("EINVAL"), a string: this object must never carry a numeric `.code`,
 * which grpc-js would read as a status code. The daemon classifies these errors into its own
 * vocabulary (STYLE.md rule 3) and the client library maps them to its PoolError classes; they
 * never cross into the transport or a client's API raw.
 *
 * A host access to memory the kernel would answer with SIGBUS (a guest_memfd page that is
 * private, or not shared at all) surfaces as `EFAULT` on the access call: the real port reads and
 * writes mapped memory with process_vm_readv/writev, which return EFAULT where a plain load would
 * raise SIGBUS, and the fake does the same.
 */
export class KernelError extends Error {
  readonly syscall: string;
  readonly errno: KernelErrno;
  readonly errorOffset: bigint | undefined;

  constructor(syscall: string, errno: KernelErrno, options: KernelErrorOptions = {}) {
    const detail = options.detail === undefined ? "" : ` (${options.detail})`;
    const at = options.errorOffset === undefined ? "" : ` at offset 0x${options.errorOffset.toString(16)}`;
    super(`${syscall} failed: ${errno}${at}${detail}`, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "KernelError";
    this.syscall = syscall;
    this.errno = errno;
    this.errorOffset = options.errorOffset;
  }
}

/** True when `error` is a KernelError with errno `errno` (for tests and classification). */
export function isKernelError(error: unknown, errno?: KernelErrno): error is KernelError {
  return error instanceof KernelError && (errno === undefined || error.errno === errno);
}
