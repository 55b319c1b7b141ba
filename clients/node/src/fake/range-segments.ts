/**
 * A range call (Discard, Populate, Convert) names a 4 KiB-aligned byte range of an arena that may
 * span several of the caller's leases; the daemon cuts it into one segment per lease
 * (#rangeSegments) and refuses a range with a gap. Also the daemon's order of planning them and
 * the small figures conversions report.
 */
import { FailedPreconditionError, InvalidArgumentError } from "../pool-errors.ts";
import type { ByteRange } from "../pool.ts";
import type { UnitSpan } from "../resources.ts";
import { PAGES_PER_UNIT, PAGE_BYTES, UNIT_BYTES } from "../units.ts";
import { hex } from "./daemon-text.ts";
import { leaseEnd, sortedLeases, type FakeArena, type FakeLease } from "./fake-records.ts";
import { PRIVATE } from "./page-map.ts";
import { requireUint64 } from "./request-checks.ts";

/** The part of a range inside one lease, in lease-relative pages. */
export interface Segment {
  readonly lease: FakeLease;
  readonly startPage: number;
  readonly endPage: number;
}

/** Checks `range` against the arena and cuts it at lease boundaries; `what` names the call. */
export function rangeSegments(arena: FakeArena, range: ByteRange, what: string): Segment[] {
  const offset = requireUint64(range.offsetBytes, "offset_bytes");
  const length = requireUint64(range.lengthBytes, "length_bytes");
  if (offset % PAGE_BYTES !== 0n || length % PAGE_BYTES !== 0n) throw new InvalidArgumentError(`${what} offset ${offset} and length ${length} must be multiples of 4096`);
  if (length === 0n) throw new InvalidArgumentError(`${what} length is 0`);
  const size = BigInt(arena.unitCount) * UNIT_BYTES;
  if (offset + length > size) throw new InvalidArgumentError(`${what} range [${offset}, ${offset + length}) passes the end of arena "${arena.id}" (${size} bytes)`);
  const startPage = Number(offset / PAGE_BYTES);
  const endPage = Number((offset + length) / PAGE_BYTES);
  const segments: Segment[] = [];
  let cursor = startPage;
  const leases = sortedLeases(arena);
  for (const lease of leases) {
    const leaseStart = lease.firstUnit * PAGES_PER_UNIT;
    const leaseEndPage = leaseEnd(lease) * PAGES_PER_UNIT;
    if (leaseEndPage <= cursor || leaseStart >= endPage) continue;
    if (leaseStart > cursor) break;
    const segmentEnd = Math.min(leaseEndPage, endPage);
    segments.push({ lease, startPage: cursor - leaseStart, endPage: segmentEnd - leaseStart });
    cursor = segmentEnd;
    if (cursor >= endPage) break;
  }
  if (cursor < endPage) {
    const next = leases.map((l) => l.firstUnit * PAGES_PER_UNIT).find((s) => s > cursor);
    const gapEnd = Math.min(next ?? endPage, endPage);
    throw new FailedPreconditionError(`${what} range [${hex(BigInt(cursor) * PAGE_BYTES)}, ${hex(BigInt(gapEnd) * PAGE_BYTES)}) of arena "${arena.id}" is not leased by the caller`);
  }
  return segments;
}

/**
 * The order the daemon plans segments in: the first and the last (the only ones with
 * sub-granule edges, hence the only ones a policy can refuse) first. It decides which error a
 * call that fails in two places reports.
 */
export function planningOrder(segments: readonly Segment[]): Segment[] {
  if (segments.length <= 2) return [...segments];
  return [segments[0]!, segments[segments.length - 1]!, ...segments.slice(1, -1)];
}

/** Lease-relative units the segment touches that are not all private (collapse candidates). */
export function unitsNotAllPrivate(segment: Segment): number[] {
  const units: number[] = [];
  for (let u = Math.floor(segment.startPage / PAGES_PER_UNIT); u * PAGES_PER_UNIT < segment.endPage; u++) {
    if (segment.lease.pages.countInUnit(u, (f) => (f & PRIVATE) !== 0) < PAGES_PER_UNIT) units.push(u);
  }
  return units;
}

/** Sorted unit numbers as runs. */
export function spans(units: readonly number[]): UnitSpan[] {
  const result: UnitSpan[] = [];
  for (const u of [...new Set(units)].sort((a, b) => a - b)) {
    const last = result[result.length - 1];
    if (last !== undefined && last.firstUnit + last.unitCount === u) result[result.length - 1] = { firstUnit: last.firstUnit, unitCount: last.unitCount + 1 };
    else result.push({ firstUnit: u, unitCount: 1 });
  }
  return result;
}
