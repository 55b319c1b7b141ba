/**
 * Decides which blocks of a lease must be populated or punched so that the kernel holds exactly
 * the pages the lease needs, at the arena's punch granularity.
 *
 * The rule is declarative: page state (attribute, discarded) says which pages are *needed* on
 * which side; population follows. A side-block that holds no needed page is punched; a
 * side-block with a needed page that is not fully populated is populated (whole block: never
 * less than a unit). With a 4 KiB granularity a block is one unit: a unit that keeps some needed
 * pages has only its unneeded pages punched, page run by page run, and stays leased (split).
 *
 * Needed pages (DESIGN.md §2): in a single-file arena every live page lives in side 0. In a pair,
 * a live private page lives in the gmem (side 0) and a live shared page in the memfd (side 1);
 * the copy on the other side is stale.
 */
import { FIELD_POPULATED_SIDE0, FIELD_POPULATED_SIDE1, type LeasePages, type PageField, type PageWordPredicate } from "./lease-pages.ts";
import type { Side } from "./plan.ts";
import { PAGES_PER_UNIT, PAGE_BYTES, UNIT_BYTES } from "./units.ts";

const PAGES = PAGES_PER_UNIT as number;

/** One kernel action on a page range of a lease (lease-relative pages). */
export interface PopulationAction {
  readonly op: "populate" | "punch";
  readonly side: Side;
  readonly startPage: number;
  readonly endPage: number;
  /** Units taken from (populate) or returned to (punch) the reserve. */
  readonly units: number;
  /** False for a 4 KiB page punch inside a unit that stays leased; such runs never merge. */
  readonly wholeBlocks: boolean;
}

export const NEEDED: Record<"single" | "pair", readonly [PageWordPredicate, PageWordPredicate]> = {
  single: [(_priv, disc) => ~disc, () => 0],
  pair: [(priv, disc) => priv & ~disc, (priv, disc) => ~priv & ~disc],
};
const NOTHING_NEEDED: readonly [PageWordPredicate, PageWordPredicate] = [() => 0, () => 0];

const POPULATED: readonly [PageWordPredicate, PageWordPredicate] = [
  (_p, _d, pop0) => pop0,
  (_p, _d, _pop0, pop1) => pop1,
];

export function populatedPredicate(side: Side): PageWordPredicate {
  return POPULATED[side];
}

export function populatedFieldOf(side: Side): PageField {
  return side === 0 ? FIELD_POPULATED_SIDE0 : FIELD_POPULATED_SIDE1;
}

export interface PlanPopulationInput {
  readonly pages: LeasePages;
  readonly layout: "single" | "pair";
  readonly granularityBytes: number;
  /** Lease-relative unit range to reconcile, aligned to the populate block. */
  readonly startUnit: number;
  readonly endUnit: number;
  /** The largest number of units one action may cover (so that steps can run in parallel). */
  readonly maxStepUnits: number;
  /** Release: nothing is needed any more. */
  readonly releasing?: boolean;
}

export function planPopulation(input: PlanPopulationInput): PopulationAction[] {
  const { pages, layout, granularityBytes, startUnit, endUnit, maxStepUnits } = input;
  const needed = input.releasing === true ? NOTHING_NEEDED : NEEDED[layout];
  const blockUnits = Math.max(granularityBytes, UNIT_BYTES) / UNIT_BYTES;
  const pagePunch = granularityBytes === PAGE_BYTES;
  const actions: PopulationAction[] = [];
  for (let side: Side = 0; side < pages.sides; side = (side + 1) as Side) {
    const isPopulated = POPULATED[side];
    const isNeeded = needed[side];
    const populatedAndUnneeded: PageWordPredicate = (p, d, p0, p1) => isPopulated(p, d, p0, p1) & ~isNeeded(p, d, p0, p1);
    for (let block = startUnit; block < endUnit; block += blockUnits) {
      const lo = block * PAGES;
      const hi = (block + blockUnits) * PAGES;
      const populatedPages = pages.count(lo, hi, isPopulated);
      const anyNeeded = pages.any(lo, hi, isNeeded);
      if (!anyNeeded && populatedPages > 0) {
        push(actions, { op: "punch", side, startPage: lo, endPage: hi, units: unitsWithAny(pages, block, blockUnits, isPopulated), wholeBlocks: true }, maxStepUnits);
      } else if (anyNeeded && populatedPages < hi - lo) {
        const empty = blockUnits - unitsWithAny(pages, block, blockUnits, isPopulated);
        push(actions, { op: "populate", side, startPage: lo, endPage: hi, units: empty, wholeBlocks: true }, maxStepUnits);
      } else if (pagePunch && populatedPages > 0) {
        // 4 KiB granularity: free the unneeded pages of a unit that stays leased (it splits).
        for (const [s, e] of pages.runs(lo, hi, populatedAndUnneeded)) {
          actions.push({ op: "punch", side, startPage: s, endPage: e, units: 0, wholeBlocks: false });
        }
      }
    }
  }
  return actions;
}

/** Appends `action`, merging it into the previous one when contiguous and alike. */
function push(actions: PopulationAction[], action: PopulationAction, maxStepUnits: number): void {
  const last = actions[actions.length - 1];
  if (
    last?.wholeBlocks === true &&
    last.op === action.op &&
    last.side === action.side &&
    last.endPage === action.startPage &&
    (action.endPage - last.startPage) / PAGES <= maxStepUnits
  ) {
    actions[actions.length - 1] = { ...last, endPage: action.endPage, units: last.units + action.units };
    return;
  }
  actions.push(action);
}

function unitsWithAny(pages: LeasePages, block: number, blockUnits: number, predicate: PageWordPredicate): number {
  let n = 0;
  for (let unit = block; unit < block + blockUnits; unit++) {
    if (pages.any(unit * PAGES, (unit + 1) * PAGES, predicate)) n++;
  }
  return n;
}
