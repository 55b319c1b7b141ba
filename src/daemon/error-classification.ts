/**
 * Where other layers' errors become the daemon's vocabulary (STYLE.md rule 3): pool errors by
 * kind, kernel errors by errno and call. Nothing raw crosses into the transport.
 */
import { PoolError, UNIT_BYTES } from "../pool/index.ts";
import { KernelError } from "../kvm/kernel-error.ts";
import { DaemonError, type DaemonErrorKind } from "./pool-service.ts";

/**
 * A pool error in the daemon's words. NotOwnerError becomes not-found with the exact message an
 * unknown id gets, so a client cannot tell someone else's id from one that does not exist
 * (pool.proto, Pool service comment; DESIGN.md invariant 5).
 */
export function fromPoolError(error: PoolError): DaemonError {
  if (error.kind === "permission-denied") {
    const match = /^(arena|lease) "(.*)" is not owned by /.exec(error.message);
    return new DaemonError("not-found", match === null ? "not found" : `${match[1]} "${match[2]}" does not exist`);
  }
  return new DaemonError(error.kind, error.message, { cause: error });
}

/** What the daemon was doing when the kernel said no: named in the message. */
export interface KernelContext {
  /** e.g. `populate arena "a-1" side 0`. */
  readonly what: string;
  /** Arena byte range the call covered (reported as units when unit-aligned). */
  readonly offset: bigint;
  readonly length: bigint;
}

/** Describes a byte range as units when it is unit-aligned, else as bytes. */
export function describeRange(offset: bigint, length: bigint): string {
  const unit = BigInt(UNIT_BYTES);
  if (offset % unit === 0n && length % unit === 0n) return `units [${offset / unit}, ${(offset + length) / unit})`;
  return `bytes [0x${offset.toString(16)}, 0x${(offset + length).toString(16)})`;
}

/**
 * Classifies a kernel error by errno and call (never passed through raw):
 * - ENOMEM / ENOSPC: the host (or the hugetlb pool) has no memory: exhausted;
 * - EAGAIN from KVM_SET_MEMORY_ATTRIBUTES2: a page stayed pinned: unavailable with the offset;
 * - ENOTTY from KVM_SET_MEMORY_ATTRIBUTES2: no in-place conversion in this kernel: unimplemented;
 * - EINVAL from KVM_SET_MEMORY_ATTRIBUTES2: the VM has no private memory: failed-precondition;
 * - EFAULT on a host access: the pages are private (SIGBUS): failed-precondition;
 * - EOPNOTSUPP: the file cannot do it: unimplemented;
 * - anything else (EINVAL from fallocate means the daemon asked for a wrong range, EBADF a lost
 *   fd, EIO...): internal. The message names the operation, the range and the errno.
 */
export function classifyKernelError(error: KernelError, context: KernelContext): DaemonError {
  const attributes2 = error.syscall.includes("KVM_SET_MEMORY_ATTRIBUTES2");
  let kind: DaemonErrorKind = "internal";
  let hint = "";
  switch (error.errno) {
    case "ENOMEM":
    case "ENOSPC":
      kind = "exhausted";
      hint = ": the host has no memory for it";
      break;
    case "EAGAIN":
      if (attributes2) {
        kind = "unavailable";
        hint = ": a page stayed pinned through the retries; retry after the pin is dropped";
      }
      break;
    case "ENOTTY":
      if (attributes2) {
        kind = "unimplemented";
        hint = ": the kernel lacks KVM_SET_MEMORY_ATTRIBUTES2 (in-place conversion); use mode notify";
      }
      break;
    case "EINVAL":
      if (attributes2) {
        kind = "failed-precondition";
        hint = ": the guest_memfd's VM has no private memory";
      }
      break;
    case "EFAULT":
      kind = "failed-precondition";
      hint = ": the host cannot access these pages (private)";
      break;
    case "EOPNOTSUPP":
      kind = "unimplemented";
      hint = ": the file does not support it";
      break;
    default:
      break;
  }
  const at = error.errorOffset === undefined ? "" : ` at offset 0x${error.errorOffset.toString(16)}`;
  const message = `${context.what} ${describeRange(context.offset, context.length)} failed: ${error.syscall} ${error.errno}${at}${hint}`;
  return new DaemonError(kind, message, { cause: error, ...(error.errorOffset === undefined ? {} : { errorOffsetBytes: error.errorOffset }) });
}

/** Any error in the daemon's words: DaemonError as is, pool and kernel errors classified. */
export function toDaemonError(error: unknown, context?: KernelContext): DaemonError {
  if (error instanceof DaemonError) return error;
  if (error instanceof PoolError) return fromPoolError(error);
  if (error instanceof KernelError) return classifyKernelError(error, context ?? { what: "kernel call", offset: 0n, length: 0n });
  const message = error instanceof Error ? error.message : String(error);
  return new DaemonError("internal", `internal error: ${message}`, { cause: error });
}
