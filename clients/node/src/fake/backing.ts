/**
 * Which side-units of a lease are populated, as a rule instead of kernel calls: the daemon makes
 * the kernel hold exactly the pages a lease needs, a punch block at a time (its
 * population-planner, stated declaratively in its header comment). The fake applies the same rule
 * to its page flags and counts what the daemon would report:
 *
 * - a page is *needed* on a side when it is live (not discarded) and lives there: in a one-file
 *   arena every live page lives in side 0; in a pair a private page lives in the guest_memfd
 *   (side 0) and a shared page in the memfd (side 1). Releasing a lease needs nothing;
 * - per block (the punch granularity, never less than a unit) and side: a block that holds no
 *   needed page and some populated one is punched whole (its populated units go back to the
 *   reserve); a block with a needed page that is not populated is populated whole (its empty
 *   units come from the reserve); with a 4 KiB granularity a block that stays needed has just
 *   its populated, unneeded pages punched (no unit moves: the unit stays leased, split).
 */
import { PAGE_BYTES, PAGES_PER_UNIT, UNIT_BYTES } from "../units.ts";
import { DISCARDED, PRIVATE, populatedFlag, type PageFlags, type PageMap, type Side } from "./page-map.ts";

export type Layout = "single" | "pair";

export interface BackingChange {
  /** Units taken from the reserve and populated. */
  readonly unitsTaken: number;
  /** Units punched and given back to the reserve. */
  readonly unitsReturned: number;
  /** Bytes punched in the arena's files (whole blocks, or single pages at 4 KiB granularity). */
  readonly punchedBytes: bigint;
}

export function isNeeded(flags: PageFlags, side: Side, layout: Layout): boolean {
  if ((flags & DISCARDED) !== 0) return false;
  if (layout === "single") return side === 0;
  return ((flags & PRIVATE) !== 0) === (side === 0);
}

export function isPopulated(flags: PageFlags, side: Side): boolean {
  return (flags & populatedFlag(side)) !== 0;
}

/**
 * Brings lease-relative units [startUnit, endUnit) (aligned to the block) in line with the rule.
 * Mutates `pages`; the caller restores a clone when the reserve cannot supply `unitsTaken`.
 */
export function reconcileBacking(pages: PageMap, layout: Layout, granularityBytes: bigint, startUnit: number, endUnit: number, releasing = false): BackingChange {
  const blockUnits = Number((granularityBytes > UNIT_BYTES ? granularityBytes : UNIT_BYTES) / UNIT_BYTES);
  const pagePunch = granularityBytes === PAGE_BYTES;
  const sides: Side[] = layout === "pair" ? [0, 1] : [0];
  let unitsTaken = 0;
  let unitsReturned = 0;
  let punchedPages = 0;
  for (const side of sides) {
    const needed = (flags: PageFlags): boolean => !releasing && isNeeded(flags, side, layout);
    const populated = (flags: PageFlags): boolean => isPopulated(flags, side);
    const bit = populatedFlag(side);
    for (let block = startUnit; block < endUnit; block += blockUnits) {
      const lo = block * PAGES_PER_UNIT;
      const hi = (block + blockUnits) * PAGES_PER_UNIT;
      let populatedUnits = 0;
      for (let unit = block; unit < block + blockUnits; unit++) if (pages.countInUnit(unit, populated) > 0) populatedUnits++;
      const anyNeeded = pages.count(lo, hi, needed) > 0;
      if (!anyNeeded && populatedUnits > 0) {
        pages.update(lo, hi, (flags) => flags & ~bit);
        unitsReturned += populatedUnits;
        punchedPages += hi - lo;
      } else if (pages.count(lo, hi, (flags) => needed(flags) && !populated(flags)) > 0) {
        pages.update(lo, hi, (flags) => flags | bit);
        unitsTaken += blockUnits - populatedUnits;
      } else if (pagePunch) {
        const unneeded = (flags: PageFlags): boolean => populated(flags) && !needed(flags);
        punchedPages += pages.count(lo, hi, unneeded);
        pages.update(lo, hi, (flags) => (unneeded(flags) ? flags & ~bit : flags));
      }
    }
  }
  return { unitsTaken, unitsReturned, punchedBytes: BigInt(punchedPages) * PAGE_BYTES };
}
