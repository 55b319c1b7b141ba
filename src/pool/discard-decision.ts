/**
 * What a discard does with each part of its range (DESIGN.md §2 "Discard policy"): whole
 * granularity blocks inside it are always discarded (and punched); the sub-granularity edges
 * follow the policy — reject, zero in place, or defer — and `defer` falls back to the overflow
 * policy once the pool-wide deferred cap would be exceeded.
 *
 * Pure: it reads page state and decides; the pool applies the decision.
 */
import { FailedPreconditionError } from "./errors.ts";
import type { LeasePages } from "./lease-pages.ts";
import type { DiscardOutcome, Side } from "./plan.ts";
import type { DeferOverflow, DiscardPolicy } from "./policy.ts";
import { PAGE_BYTES, formatBytes } from "./units.ts";

/**
 * A sub-granularity discard refused by policy reject, or by the overflow policy reject past the
 * deferred cap. Its own class so that the daemon can name the enclosing boundaries of the
 * request (pool.proto, Discard) for exactly these refusals, and not for other preconditions.
 */
export class PolicyRejectError extends FailedPreconditionError {}

export interface DiscardInput {
  readonly pages: LeasePages;
  /** Lease-relative page range requested. */
  readonly startPage: number;
  readonly endPage: number;
  readonly granularityBytes: number;
  readonly policy: DiscardPolicy;
  readonly deferredCapBytes: number;
  readonly deferOverflow: DeferOverflow;
  /** Pages deferred pool-wide before this discard. */
  readonly deferredPagesNow: number;
  /** The side that holds shared pages (1 in a pair, else 0). */
  readonly sharedSide: Side;
  /** Renders a lease-relative page as an arena byte offset, for messages. */
  readonly offsetOf: (page: number) => number;
}

export interface DiscardDecision {
  readonly policy: DiscardOutcome["policy"];
  /** Lease-relative page ranges to mark discarded. */
  readonly marked: readonly (readonly [number, number])[];
  /**
   * The live pages of `marked` (runs): the pages this discard newly marks, the only ones it can
   * defer. Pages discarded before are already-discarded (pool.proto, DiscardResponse); they
   * show only in punched bytes, when their block is punched now.
   */
  readonly newlyMarked: readonly (readonly [number, number])[];
  /** Lease-relative page runs to zero in place on `sharedSide`. */
  readonly zeroRuns: readonly (readonly [number, number])[];
}

export function decideDiscard(input: DiscardInput): DiscardDecision {
  const { pages, startPage, endPage, granularityBytes } = input;
  const gPages = granularityBytes / PAGE_BYTES;
  const innerStart = Math.ceil(startPage / gPages) * gPages;
  const innerEnd = Math.floor(endPage / gPages) * gPages;
  const hasInner = innerStart < innerEnd;
  const edges: [number, number][] = hasInner
    ? ([[startPage, innerStart], [innerEnd, endPage]] as [number, number][]).filter(([s, e]) => s < e)
    : [[startPage, endPage]];
  const edgePages = edges.reduce((n, [s, e]) => n + e - s, 0);
  let policy: DiscardDecision["policy"] = edgePages === 0 ? "none" : input.policy;

  if (policy === "defer") {
    const wouldDefer = edges.reduce((n, [s, e]) => n + pages.count(s, e, (_p, d, p0, p1) => ~d & (p0 | p1)), 0);
    if (input.deferredPagesNow + wouldDefer > input.deferredCapBytes / PAGE_BYTES) policy = input.deferOverflow;
  }
  if (policy === "reject") {
    const reason = input.policy === "defer"
      ? `the deferred cap of ${formatBytes(input.deferredCapBytes)} is reached (${formatBytes(input.deferredPagesNow * PAGE_BYTES)} deferred)`
      : "policy is reject";
    throw new PolicyRejectError(
      `discard [${input.offsetOf(startPage)}, ${input.offsetOf(endPage)}) is not aligned to the ${formatBytes(granularityBytes)} punch granularity and ${reason}; ` +
        (hasInner ? `the aligned part is [${input.offsetOf(innerStart)}, ${input.offsetOf(innerEnd)})` : `no whole ${formatBytes(granularityBytes)} block lies inside it`),
    );
  }
  const zeroRuns: [number, number][] = [];
  if (policy === "zero") {
    const populatedShared = input.sharedSide === 0 ? (_p: number, d: number, p0: number) => ~d & p0 : (_p: number, d: number, _p0: number, p1: number) => ~d & p1;
    for (const [s, e] of edges) {
      const privatePage = pages.runs(s, e, (p, d) => p & ~d)[0];
      if (privatePage !== undefined) {
        throw new FailedPreconditionError(`discard policy zero cannot zero private page at offset ${input.offsetOf(privatePage[0])}: the host cannot write private memory`);
      }
      zeroRuns.push(...pages.runs(s, e, populatedShared));
    }
  }
  const marked: [number, number][] = policy === "defer" ? [[startPage, endPage]] : hasInner ? [[innerStart, innerEnd]] : [];
  const newlyMarked = marked.flatMap(([s, e]) => pages.runs(s, e, (_p, d) => ~d));
  return { policy, marked, newlyMarked, zeroRuns };
}
