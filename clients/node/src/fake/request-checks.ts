/**
 * The checks the daemon (and its gRPC decoding) makes on request fields before it looks at any
 * state, with its messages: uint64 fields, sizes, names, enums, punch granularities, and the
 * fds a request sends on the fd channel.
 */
import { FailedPreconditionError, InvalidArgumentError } from "../pool-errors.ts";
import type { ByteRange, SetPolicyRequest } from "../pool.ts";
import type { DiscardPolicy, PageVisibility } from "../resources.ts";
import { PAGE_BYTES, UNIT_BYTES } from "../units.ts";
import { utf8Bytes } from "./daemon-text.ts";
import type { FakeArena, FakeArenaFile } from "./fake-records.ts";
import { describeFd, inspectFd, type FdInspection } from "./memfd.ts";

const MAX_NAME_BYTES = 64;
const MAX_ARENA_UNITS = 2n ** 32n;
const UINT64_MAX = 2n ** 64n - 1n;
const GIB = 1024n * 1024n * 1024n;
const DISCARD_POLICIES: readonly DiscardPolicy[] = ["reject", "zero", "defer"];
const VISIBILITIES: readonly PageVisibility[] = ["shared", "private"];

/** The fd channel step that sends an fd to the daemon (the operation its errors name). */
export const SEND_FD = "fd channel SEND_FD";

/** A uint64 field as the daemon decodes it (bytesFromProto). */
export function requireUint64(value: bigint, field: string): bigint {
  if (typeof value !== "bigint" || value < 0n) throw new InvalidArgumentError(`${field} is not an unsigned integer: ${JSON.stringify(String(value))}`);
  if (value > UINT64_MAX) throw new InvalidArgumentError(`${field} ${value} exceeds 2^64 - 1`);
  return value;
}

/** The daemon's limit for values it keeps as numbers (#safeNumber). */
export function safeNumber(value: bigint, field: string): bigint {
  requireUint64(value, field);
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw new InvalidArgumentError(`${field} ${value} is out of range`);
  return value;
}

/** An arena's size in units: a positive multiple of 2 MiB, at most 2^32 units. */
export function arenaUnits(sizeBytes: bigint): number {
  const size = requireUint64(sizeBytes, "size_bytes");
  if (size <= 0n || size % UNIT_BYTES !== 0n) throw new InvalidArgumentError(`size_bytes ${size} is not a positive multiple of 2 MiB`);
  if (size / UNIT_BYTES > MAX_ARENA_UNITS) throw new InvalidArgumentError(`size_bytes ${size} is more than 2^32 units`);
  return Number(size / UNIT_BYTES);
}

export function isVisibility(value: string): value is PageVisibility {
  return (VISIBILITIES as readonly string[]).includes(value);
}

/** A required visibility (UNSPECIFIED, or anything else, is invalid). */
export function requireVisibility(visibility: PageVisibility, field: string): void {
  if (!isVisibility(visibility)) throw new InvalidArgumentError(`${field} is unspecified`);
}

/** Names and labels: at most 64 bytes of UTF-8. */
export function checkName(name: string, field: string): void {
  const bytes = utf8Bytes(name);
  if (bytes > MAX_NAME_BYTES) throw new InvalidArgumentError(`${field} is ${bytes} bytes, more than ${MAX_NAME_BYTES}`);
}

/** An fd a request sends (borrowed): it must be open. */
export function requireOpenFd(fd: number): FdInspection {
  const file = inspectFd(fd);
  if (file === undefined) throw new InvalidArgumentError(`fd ${fd} is not an open file descriptor (EBADF)`, { operation: SEND_FD });
  return file;
}

/** The daemon's reattach checks of one file (type, size, memfd name), plus device and inode. */
export function checkReattachedFile(arena: FakeArena, journaled: FakeArenaFile, received: FdInspection): void {
  const expected = journaled.fdType === "guest_memfd" ? "guest_memfd" : "memfd";
  if (received.kind !== expected) throw new FailedPreconditionError(`the fd is ${describeFd(received)}, not a ${journaled.fdType}`);
  const size = BigInt(arena.unitCount) * UNIT_BYTES;
  if (received.sizeBytes !== size) throw new FailedPreconditionError(`size_bytes ${size} differs from the fd's size ${received.sizeBytes}`);
  if (journaled.memfdName !== "" && !received.link.startsWith(`/memfd:${journaled.memfdName}`)) {
    throw new FailedPreconditionError(`the memfd is "${received.link}", not the arena's "/memfd:${journaled.memfdName}"`);
  }
  if (received.device !== journaled.device || received.inode !== journaled.inode) {
    throw new FailedPreconditionError(`the fd is not arena "${arena.id}"'s file (journaled device ${journaled.device} inode ${journaled.inode}, received device ${received.device} inode ${received.inode})`);
  }
}

/** The admin handler's decoding of SetPolicy fields (present enum values must be valid). */
export function decodePolicyFields(request: SetPolicyRequest): void {
  if (request.discardPolicy !== undefined && !DISCARD_POLICIES.includes(request.discardPolicy)) {
    throw new InvalidArgumentError(`${request.discardPolicy as string} is not a DiscardPolicy (one of ${DISCARD_POLICIES.join(", ")})`);
  }
  if (request.punchGranularityBytes !== undefined) requireUint64(request.punchGranularityBytes, "punch_granularity_bytes");
  if (request.deferredCapBytes !== undefined) requireUint64(request.deferredCapBytes, "deferred_cap_bytes");
  const overflow: string | undefined = request.deferredOverflowPolicy;
  if (overflow !== undefined && overflow !== "reject" && overflow !== "zero") {
    throw new InvalidArgumentError(`deferred_overflow_policy DISCARD_POLICY_${overflow.toUpperCase()} is not allowed: REJECT or ZERO`);
  }
}

/** 4 KiB or a power-of-two multiple of 2 MiB up to 1 GiB (the daemon's validateGranularity). */
export function validateGranularity(granularity: bigint): void {
  const multiple = granularity / UNIT_BYTES;
  const ok = granularity === PAGE_BYTES || (granularity >= UNIT_BYTES && granularity <= GIB && granularity % UNIT_BYTES === 0n && (multiple & (multiple - 1n)) === 0n);
  if (!ok) throw new InvalidArgumentError(`punch granularity ${granularity} must be 4 KiB or a power-of-two multiple of 2 MiB up to 1 GiB (e.g. ${UNIT_BYTES}, ${GIB})`);
}

/** The fields of a request that identify it for idempotency (its fingerprint). */
export function policyFields(request: SetPolicyRequest): object {
  return {
    ...(request.discardPolicy === undefined ? {} : { discardPolicy: request.discardPolicy }),
    ...(request.punchGranularityBytes === undefined ? {} : { punchGranularityBytes: request.punchGranularityBytes }),
    ...(request.deferredCapBytes === undefined ? {} : { deferredCapBytes: request.deferredCapBytes }),
    ...(request.deferredOverflowPolicy === undefined ? {} : { deferredOverflowPolicy: request.deferredOverflowPolicy }),
  };
}

export function rangeFields(range: ByteRange): { offsetBytes: bigint; lengthBytes: bigint } {
  return { offsetBytes: range.offsetBytes, lengthBytes: range.lengthBytes };
}
