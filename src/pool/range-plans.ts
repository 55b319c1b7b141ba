/**
 * Discard, Populate and Convert over an ARENA byte range, as the API asks for them: the range
 * is validated once, split into the owner's lease segments, and planned one plan per lease
 * (Pool.discard / populate / convert). The first and last segments — the only ones with
 * sub-granule edges, hence the only ones a discard policy can refuse — are planned first; if
 * any planning throws, the plans made so far are cancelled (Pool.cancel: none of their steps
 * reached the kernel, so their page marks go too) and the error returns: a refused call changes
 * nothing (pool.proto).
 */
import type { ArenaId } from "./arena.ts";
import { FailedPreconditionError, InvalidArgumentError } from "./errors.ts";
import { PolicyRejectError } from "./discard-decision.ts";
import type { LeaseId } from "./lease.ts";
import type { Plan } from "./plan.ts";
import type { Pool } from "./pool.ts";
import { PAGE_BYTES, UNIT_BYTES } from "./units.ts";

export interface ArenaRangeRequest {
  readonly arenaId: ArenaId;
  /** Arena file offset in bytes. */
  readonly offsetBytes: number;
  readonly lengthBytes: number;
}

export type RangeOperation = "discard" | "populate" | "convert";

interface Segment {
  readonly leaseId: LeaseId;
  readonly offsetBytes: number;
  readonly lengthBytes: number;
}

const hex = (v: number): string => `0x${v.toString(16)}`;

/**
 * The owner's leases covering the range, as segments. The request rules of every range RPC:
 * 4 KiB multiples, not empty, inside the arena, wholly leased by the caller.
 */
function segmentsOf(pool: Pool, owner: string, request: ArenaRangeRequest, what: RangeOperation): Segment[] {
  const arena = pool.ownedArena(owner, request.arenaId);
  const { offsetBytes: offset, lengthBytes: length } = request;
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset % PAGE_BYTES !== 0 || length % PAGE_BYTES !== 0) {
    throw new InvalidArgumentError(`${what} offset ${offset} and length ${length} must be multiples of 4096`, { field: offset % PAGE_BYTES !== 0 ? "offset_bytes" : "length_bytes", value: String(offset % PAGE_BYTES !== 0 ? offset : length) });
  }
  if (length === 0) throw new InvalidArgumentError(`${what} length is 0`, { field: "length_bytes", value: "0" });
  const size = arena.sizeUnits * UNIT_BYTES;
  const end = offset + length;
  if (end > size) throw new InvalidArgumentError(`${what} range [${offset}, ${end}) passes the end of arena "${arena.id}" (${size} bytes)`, { resource: "arena", id: arena.id, field: "length_bytes", value: String(length) });
  const leases = [...arena.leases.values()].sort((a, b) => a.start - b.start);
  const segments: Segment[] = [];
  let cursor = offset;
  for (const lease of leases) {
    const ls = lease.start * UNIT_BYTES;
    const le = lease.end * UNIT_BYTES;
    if (le <= cursor || ls >= end) continue;
    if (ls > cursor) break;
    const segEnd = Math.min(le, end);
    segments.push({ leaseId: lease.id, offsetBytes: cursor, lengthBytes: segEnd - cursor });
    cursor = segEnd;
    if (cursor >= end) break;
  }
  if (cursor < end) {
    const next = leases.map((l) => l.start * UNIT_BYTES).find((s) => s > cursor);
    const gapEnd = Math.min(next ?? end, end);
    throw new FailedPreconditionError(`${what} range [${hex(cursor)}, ${hex(gapEnd)}) of arena "${arena.id}" is not leased by the caller`, { resource: "arena", id: arena.id, field: "offset_bytes", value: String(cursor) });
  }
  return segments;
}

/** Plans every segment, edges first; cancels what it made when one is refused. */
export function planRange(pool: Pool, owner: string, request: ArenaRangeRequest, what: RangeOperation, plan: (segment: Segment) => Plan): Plan[] {
  const segments = segmentsOf(pool, owner, request, what);
  const order = segments.length <= 2 ? segments.map((_, i) => i) : [0, segments.length - 1, ...segments.slice(1, -1).map((_, i) => i + 1)];
  const plans = new Array<Plan>(segments.length);
  const made: Plan[] = [];
  try {
    for (const i of order) {
      const p = plan(segments[i]!);
      plans[i] = p;
      made.push(p);
    }
  } catch (error) {
    for (const p of made) pool.cancel(p.id);
    if (what === "discard" && error instanceof PolicyRejectError) throw explainReject(pool, request, error);
    throw error;
  }
  return plans;
}

/**
 * A discard refused by policy — the arena's REJECT, or the overflow policy REJECT past the
 * deferred cap — names the enclosing granule boundaries (pool.proto, Discard): "discard
 * [0x1000, 0x3000) of arena "a" is inside [0x0, 0x200000), which it does not cover whole;
 * policy reject: discard whole units (...)".
 */
function explainReject(pool: Pool, request: ArenaRangeRequest, error: PolicyRejectError): PolicyRejectError {
  const arena = pool.arena(request.arenaId);
  const g = Math.max(pool.granularityOf(arena), UNIT_BYTES);
  const start = request.offsetBytes;
  const end = start + request.lengthBytes;
  const lo = Math.floor(start / g) * g;
  const hi = Math.ceil(end / g) * g;
  return new PolicyRejectError(
    `discard [${hex(start)}, ${hex(end)}) of arena "${arena.id}" is inside [${hex(lo)}, ${hex(hi)}), which it does not cover whole; policy reject: discard whole ${g === UNIT_BYTES ? "units" : "granules"} (${error.message})`,
    { resource: "arena", id: arena.id, field: "offset_bytes", value: String(start), cause: error },
  );
}
