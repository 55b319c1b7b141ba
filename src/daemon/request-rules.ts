/**
 * The request rules the daemon checks itself, each in one place with one message style
 * (`<proto field> <value> <what is wrong>`): those about the wire (a uint64 that must fit a
 * safe integer), names, memfd backings and per-process limits. Rules about units, ranges and
 * placement are the pool core's (src/pool), checked there once.
 */
import { GmempoolError } from "../pool/errors.ts";
import { UNIT_BYTES } from "../pool/index.ts";
import type { DaemonContext } from "./daemon-context.ts";
import type { Caller, FdType, MemfdBacking } from "./pool-service.ts";

export const MAX_NAME_BYTES = 64;

export function checkName(name: string, field: "name" | "label"): void {
  const bytes = Buffer.byteLength(name, "utf8");
  if (bytes > MAX_NAME_BYTES) throw new GmempoolError("invalid-argument", `${field} is ${bytes} bytes, more than ${MAX_NAME_BYTES}`, { field, value: name });
}

/** A proto uint64 the core takes as a plain number. */
export function safeNumber(value: bigint, field: string): number {
  if (value < 0n || value > BigInt(Number.MAX_SAFE_INTEGER)) throw new GmempoolError("invalid-argument", `${field} ${value} is out of range`, { field, value: String(value) });
  return Number(value);
}

/**
 * Allocate's placement `offset_bytes` as the core's first unit: a multiple of 2 MiB (whether
 * it fits the arena and its granularity is the core's rule).
 */
export function placementUnitsOf(offsetBytes: bigint): number {
  if (offsetBytes < 0n || offsetBytes % BigInt(UNIT_BYTES) !== 0n) throw new GmempoolError("invalid-argument", `offset_bytes ${offsetBytes} is not a multiple of 2 MiB`, { field: "offset_bytes", value: String(offsetBytes) });
  return safeNumber(offsetBytes / BigInt(UNIT_BYTES), "offset_bytes");
}

/** A required enum that arrived UNSPECIFIED. */
export function required<T>(value: T | undefined, field: string): T {
  if (value === undefined) throw new GmempoolError("invalid-argument", `${field} is unspecified`, { field, value: "UNSPECIFIED" });
  return value;
}

/** The memfd type a backing asks for, if this daemon's reserve can back it. */
export function memfdTypeOf(ctx: DaemonContext, backing: MemfdBacking | undefined, field: "backing" | "shared_backing"): FdType {
  const b = required(backing, field);
  if (b === "hugetlb" && ctx.reserve.mode !== "hugetlb") {
    throw new GmempoolError("failed-precondition", `${field} HUGETLB needs reserve mode hugetlb; this daemon's reserve mode is ${ctx.reserve.mode}`, { field, value: "HUGETLB" });
  }
  return b === "hugetlb" ? "memfd_hugetlb" : "memfd_shmem";
}

/** limits.arenas_per_process, for a process about to own one more arena (a creation or a handover). */
export function checkArenaLimit(ctx: DaemonContext, owner: Pick<Caller, "identity" | "pid">): void {
  const limit = ctx.config.limits.arenasPerProcess;
  if (ctx.registry.countOwnedBy(owner.identity) >= limit) throw new GmempoolError("exhausted", `process ${owner.pid} has reached the limit of ${limit} arenas`, { resource: "arena", value: String(limit) });
}
