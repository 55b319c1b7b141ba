/**
 * What a Discard does with one segment (the daemon's decideDiscard, then its page-state change):
 * whole punch granules inside the range are always discarded (and punched); the sub-granule
 * head and tail follow the arena's discard policy — reject, zero shared pages in place, or defer
 * (mark discarded; punched once the whole granule is) — and defer falls back to the pool's
 * overflow policy when the deferred cap would be passed.
 *
 * Reported figures follow DiscardResponse in pool.proto, as the daemon's pool core computes them
 * (its DiscardOutcome): every page of the range is punched now, zeroed, deferred or discarded
 * before. `deferredBytes` are the pages this call newly marked discarded that some side still
 * holds after the backing change (not punched by it, not discarded before); `punchedBytes` is what
 * the backing change punched, per side and whole blocks, so it can include pages outside the range
 * and pages of it discarded before: the range's punched share is at most `punchedBytes`.
 */
import { FailedPreconditionError } from "../pool-errors.ts";
import type { ByteRange } from "../pool.ts";
import type { DiscardPolicy, DiscardResult, Policy } from "../resources.ts";
import { PAGES_PER_UNIT, PAGE_BYTES, UNIT_BYTES } from "../units.ts";
import type { BackingChange } from "./backing.ts";
import { exactSize, hex } from "./daemon-text.ts";
import type { FakeArena } from "./fake-records.ts";
import { DISCARDED, POPULATED_SIDE0, POPULATED_SIDE1, PRIVATE, type PageFlags } from "./page-map.ts";
import type { Segment } from "./range-segments.ts";

/** Tags the pages a discard marks, during that call only (never left set). */
const MARKED_NOW = 16;

export interface DiscardContext {
  readonly arena: FakeArena;
  readonly granularityBytes: bigint;
  /** The arena's discard policy (its override, else the pool's). */
  readonly arenaPolicy: DiscardPolicy;
  readonly poolPolicy: Policy;
  /** Discarded-but-populated pages pool-wide before this segment (per side). */
  readonly deferredPagesNow: number;
  /** Re-derives the segment's backing after its flags changed; throws when the reserve cannot supply it. */
  readonly updateBacking: (segment: Segment) => BackingChange;
}

/** A sub-granule discard refused by policy reject or the overflow policy reject. */
export class PolicyRejectError extends FailedPreconditionError {}

const live = (f: PageFlags): boolean => (f & DISCARDED) === 0;
const populated = (f: PageFlags): boolean => (f & (POPULATED_SIDE0 | POPULATED_SIDE1)) !== 0;

export function discardSegment(segment: Segment, context: DiscardContext): DiscardResult {
  const { lease, startPage, endPage } = segment;
  const { arena, granularityBytes, arenaPolicy, poolPolicy, deferredPagesNow } = context;
  const pages = lease.pages;
  const gPages = Number(granularityBytes / PAGE_BYTES);
  const innerStart = Math.ceil(startPage / gPages) * gPages;
  const innerEnd = Math.floor(endPage / gPages) * gPages;
  const hasInner = innerStart < innerEnd;
  const edges: [number, number][] = hasInner ? ([[startPage, innerStart], [innerEnd, endPage]] as [number, number][]).filter(([s, e]) => s < e) : [[startPage, endPage]];
  const edgePages = edges.reduce((n, [s, e]) => n + e - s, 0);
  let policy: DiscardPolicy | undefined = edgePages === 0 ? undefined : arenaPolicy;
  if (policy === "defer") {
    const wouldDefer = edges.reduce((n, [s, e]) => n + pages.count(s, e, (f) => live(f) && populated(f)), 0);
    if (BigInt(deferredPagesNow + wouldDefer) * PAGE_BYTES > poolPolicy.deferredCapBytes) policy = poolPolicy.deferredOverflowPolicy;
  }
  const at = (page: number): bigint => BigInt(lease.firstUnit * PAGES_PER_UNIT + page) * PAGE_BYTES;
  if (policy === "reject") {
    const reason = arenaPolicy === "defer" ? `the deferred cap of ${exactSize(poolPolicy.deferredCapBytes)} is reached (${exactSize(BigInt(deferredPagesNow) * PAGE_BYTES)} deferred)` : "policy is reject";
    throw new PolicyRejectError(
      `discard [${at(startPage)}, ${at(endPage)}) is not aligned to the ${exactSize(granularityBytes)} punch granularity and ${reason}; ` +
        (hasInner ? `the aligned part is [${at(innerStart)}, ${at(innerEnd)})` : `no whole ${exactSize(granularityBytes)} block lies inside it`),
    );
  }
  let zeroedPages = 0;
  if (policy === "zero") {
    const sharedSide = arena.layout === "pair" ? POPULATED_SIDE1 : POPULATED_SIDE0;
    for (const [s, e] of edges) {
      const privatePage = pages.firstPage(s, e, (f) => live(f) && (f & PRIVATE) !== 0);
      if (privatePage !== undefined) throw new FailedPreconditionError(`discard policy zero cannot zero private page at offset ${at(privatePage)}: the host cannot write private memory`);
      zeroedPages += pages.count(s, e, (f) => live(f) && (f & sharedSide) !== 0);
    }
  }
  // Marked discarded: the whole range under defer, else only its whole granules.
  const [markStart, markEnd] = policy === "defer" ? [startPage, endPage] : hasInner ? [innerStart, innerEnd] : [0, 0];
  if (markStart < markEnd) pages.update(markStart, markEnd, (f) => (live(f) ? f | DISCARDED | MARKED_NOW : f));
  const backing = context.updateBacking(segment);
  const deferredPages = policy === "defer" ? pages.count(startPage, endPage, (f) => (f & MARKED_NOW) !== 0 && populated(f)) : 0;
  pages.update(startPage, endPage, (f) => f & ~MARKED_NOW);
  return { punchedBytes: backing.punchedBytes, releasedUnitCount: backing.unitsReturned, zeroedBytes: BigInt(zeroedPages) * PAGE_BYTES, deferredBytes: BigInt(deferredPages) * PAGE_BYTES, appliedPolicy: policy };
}

/**
 * A discard refused by policy — the arena's REJECT, or the overflow policy REJECT past the
 * deferred cap — names the enclosing granule boundaries of the whole request (pool.proto; the
 * daemon's #explainReject wraps its pool core's PolicyRejectError the same way).
 */
export function explainReject(arena: FakeArena, range: ByteRange, granularityBytes: bigint, error: unknown): unknown {
  if (!(error instanceof PolicyRejectError)) return error;
  const g = granularityBytes > UNIT_BYTES ? granularityBytes : UNIT_BYTES;
  const start = range.offsetBytes;
  const end = start + range.lengthBytes;
  const lo = (start / g) * g;
  const hi = ((end + g - 1n) / g) * g;
  return new FailedPreconditionError(`discard [${hex(start)}, ${hex(end)}) of arena "${arena.id}" is inside [${hex(lo)}, ${hex(hi)}), which it does not cover whole; policy reject: discard whole ${g === UNIT_BYTES ? "units" : "granules"} (${error.details})`);
}
