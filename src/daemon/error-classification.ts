/**
 * Where kernel errors become gmempool's vocabulary (STYLE.md rule 3): by errno and call. The
 * pool core already throws GmempoolError, which passes unchanged; nothing raw crosses into the
 * transport.
 */
import { UNIT_BYTES } from "../pool/index.ts";
import { KernelError } from "@gmempool/sys";
import { GmempoolError, type ErrorKind } from "../pool/errors.ts";

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
export function classifyKernelError(error: KernelError, context: KernelContext): GmempoolError {
  const attributes2 = error.syscall.includes("KVM_SET_MEMORY_ATTRIBUTES2");
  let kind: ErrorKind = "internal";
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
  return new GmempoolError(kind, message, { cause: error, ...(error.errorOffset === undefined ? {} : { errorOffsetBytes: error.errorOffset }) });
}

/**
 * Any error in gmempool's words: a GmempoolError as it is (its kind survives every layer), a
 * kernel error classified, anything else a bug (internal).
 */
export function toGmempoolError(error: unknown, context?: KernelContext): GmempoolError {
  if (error instanceof GmempoolError) return error;
  if (error instanceof KernelError) return classifyKernelError(error, context ?? { what: "kernel call", offset: 0n, length: 0n });
  const message = error instanceof Error ? error.message : String(error);
  return new GmempoolError("internal", `internal error: ${message}`, { cause: error });
}
