/**
 * Decides which blocks of a lease must be populated or punched so that the kernel holds exactly
 * the pages the lease needs, at the arena's punch granularity.
 *
 * The rule is declarative: page state (attribute, discarded) says which pages are *needed* on
 * which side; population follows. A side-block that holds no needed page is punched; a
 * side-block with a needed page that is not populated is populated (whole block: never less than
 * a unit). With a 4 KiB granularity a block is one unit: a unit that keeps some needed pages has
 * only its unneeded pages punched, page run by page run, and stays leased (split).
 *
 * Needed pages (DESIGN.md §2): in a single-file arena every live page lives in side 0. In a pair,
 * a live private page lives in the gmem (side 0) and a live shared page in the memfd (side 1);
 * the copy on the other side is stale.
 *
 * Speed: a block whose units are all uniform (no split record) is decided from the unit bytes
 * alone, so work grows with units touched, not pages; only split units go through bitmaps.
 */
import { FIELD_POPULATED_SIDE0, FIELD_POPULATED_SIDE1, type LeasePages, type PageField, type PageWordPredicate } from "./lease-pages.ts";
import type { Lease } from "./lease.ts";
import type { Side } from "./plan.ts";
import { PAGES_PER_UNIT, PAGE_BYTES, UNIT_BYTES } from "./units.ts";

const PAGES = PAGES_PER_UNIT as number;
const PRIVATE_BIT = 1;
const DISCARDED_BIT = 2;
const SPLIT_BIT = 16;

/** One kernel action on a page range of a lease (lease-relative pages). */
export interface PopulationAction {
  readonly op: "populate" | "punch";
  readonly side: Side;
  startPage: number;
  endPage: number;
  /** Units taken from (populate) or returned to (punch) the reserve. */
  units: number;
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

/**
 * The arena byte runs [start, end) of `lease` that the books say are populated on `side`,
 * inside the arena byte range [startBytes, endBytes) (default: the whole lease): what a file
 * must hold (reconcile after a restart) and what an undo must leave (plan-executor.ts).
 */
export function populatedByteRuns(lease: Lease, side: Side, startBytes = lease.start * UNIT_BYTES, endBytes = lease.end * UNIT_BYTES): [number, number][] {
  const base = lease.start * UNIT_BYTES;
  return lease.pages.runs((startBytes - base) / PAGE_BYTES, (endBytes - base) / PAGE_BYTES, POPULATED[side]).map(([s, e]) => [base + s * PAGE_BYTES, base + e * PAGE_BYTES]);
}

/** The side-units of a lease populated on any page: what the lease holds from the pool. */
export function populatedSideUnits(lease: Lease, sides: 1 | 2): number {
  const pagesPerUnit = PAGES_PER_UNIT as number;
  let n = 0;
  for (let side = 0 as Side; side < sides; side++) {
    const isPopulated = populatedPredicate(side);
    for (let u = 0; u < lease.unitCount; u++) if (lease.pages.any(u * pagesPerUnit, (u + 1) * pagesPerUnit, isPopulated)) n++;
  }
  return n;
}

export function populatedFieldOf(side: Side): PageField {
  return side === 0 ? FIELD_POPULATED_SIDE0 : FIELD_POPULATED_SIDE1;
}

/** Whether a uniform unit (its byte) needs its pages on `side`. */
function uniformNeeds(byte: number, side: Side, layout: "single" | "pair", releasing: boolean): boolean {
  if (releasing || (byte & DISCARDED_BIT) !== 0) return false;
  if (layout === "single") return side === 0;
  return ((byte & PRIVATE_BIT) !== 0) === (side === 0);
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
  const releasing = input.releasing === true;
  const needed = releasing ? NOTHING_NEEDED : NEEDED[layout];
  const blockUnits = Math.max(granularityBytes, UNIT_BYTES) / UNIT_BYTES;
  const pagePunch = granularityBytes === PAGE_BYTES;
  const actions: PopulationAction[] = [];
  for (let side: Side = 0; side < pages.sides; side = (side + 1) as Side) {
    const popBit = side === 0 ? 4 : 8;
    const isPopulated = POPULATED[side];
    const isNeeded = needed[side];
    const populatedAndUnneeded: PageWordPredicate = (p, d, p0, p1) => isPopulated(p, d, p0, p1) & ~isNeeded(p, d, p0, p1);
    const neededAndUnpopulated: PageWordPredicate = (p, d, p0, p1) => isNeeded(p, d, p0, p1) & ~isPopulated(p, d, p0, p1);
    for (let block = startUnit; block < endUnit; block += blockUnits) {
      // Per block: units with any page populated, whether any page is needed, whether a needed
      // page is missing, whether a populated page is unneeded.
      let populatedUnits = 0;
      let anyNeeded = false;
      let neededMissing = false;
      let hasSplit = false;
      for (let unit = block; unit < block + blockUnits; unit++) {
        const byte = pages.unitByte(unit);
        if ((byte & SPLIT_BIT) !== 0) {
          hasSplit = true;
          const lo = unit * PAGES;
          const hi = lo + PAGES;
          if (pages.any(lo, hi, isPopulated)) populatedUnits++;
          if (!anyNeeded && pages.any(lo, hi, isNeeded)) anyNeeded = true;
          if (!neededMissing && pages.any(lo, hi, neededAndUnpopulated)) neededMissing = true;
          continue;
        }
        const populated = (byte & popBit) !== 0;
        const needs = uniformNeeds(byte, side, layout, releasing);
        if (populated) populatedUnits++;
        if (needs) anyNeeded = true;
        if (needs && !populated) neededMissing = true;
      }
      const lo = block * PAGES;
      const hi = (block + blockUnits) * PAGES;
      if (!anyNeeded && populatedUnits > 0) {
        push(actions, "punch", side, lo, hi, populatedUnits, maxStepUnits);
      } else if (neededMissing) {
        push(actions, "populate", side, lo, hi, blockUnits - populatedUnits, maxStepUnits);
      } else if (pagePunch && hasSplit && populatedUnits > 0) {
        // 4 KiB granularity: free the unneeded pages of a unit that stays leased (it splits).
        // Only a split unit can hold unneeded populated pages next to needed ones.
        for (const [s, e] of pages.runs(lo, hi, populatedAndUnneeded)) {
          actions.push({ op: "punch", side, startPage: s, endPage: e, units: 0, wholeBlocks: false });
        }
      }
    }
  }
  return actions;
}

/** Appends an action, merging it into the previous one when contiguous and alike. */
function push(actions: PopulationAction[], op: "populate" | "punch", side: Side, startPage: number, endPage: number, units: number, maxStepUnits: number): void {
  const last = actions[actions.length - 1];
  if (last?.wholeBlocks === true && last.op === op && last.side === side && last.endPage === startPage && (endPage - last.startPage) / PAGES <= maxStepUnits) {
    last.endPage = endPage;
    last.units += units;
    return;
  }
  actions.push({ op, side, startPage, endPage, units, wholeBlocks: true });
}
