/**
 * What the kernel holds, unit by unit: a side-unit of a lease populated in part (4 KiB pages
 * punched inside it, which only a 4 KiB punch granularity does) is a huge page broken up.
 *
 * `fragmentationReport` counts the pages punched inside units only for single-file arenas; this
 * counts them for pairs too (a pair under 4 KiB punching has them on both sides), so the table can
 * show both figures.
 */
import { PAGE_BYTES, UNIT_BYTES, type Pool } from "../../src/pool/index.ts";

const PAGES = 512;
type Predicate = (priv: number, discarded: number, pop0: number, pop1: number) => number;
const POPULATED: readonly Predicate[] = [(_p, _d, pop0) => pop0, (_p, _d, _pop0, pop1) => pop1];

export interface PhysicalFragmentation {
  /** Side-units populated in part: 2 MiB of memory no longer in one piece. */
  readonly brokenUnits: number;
  /** Bytes punched inside those units: free memory, but not in intact units. */
  readonly punchedInsideBytes: number;
  /** Free memory in intact units / all free memory, with pairs' punched pages included. */
  readonly intactFreeFraction: number;
}

export function physicalFragmentation(pool: Pool): PhysicalFragmentation {
  let brokenUnits = 0;
  let punchedPages = 0;
  for (const lease of pool.leases()) {
    for (let side = 0; side < lease.pages.sides; side++) {
      const populated = POPULATED[side]!;
      for (let u = 0; u < lease.unitCount; u++) {
        const n = lease.pages.count(u * PAGES, (u + 1) * PAGES, populated);
        if (n > 0 && n < PAGES) {
          brokenUnits++;
          punchedPages += PAGES - n;
        }
      }
    }
  }
  const intactFree = pool.reserve.freeUnits * UNIT_BYTES;
  const punchedInsideBytes = punchedPages * PAGE_BYTES;
  return { brokenUnits, punchedInsideBytes, intactFreeFraction: intactFree + punchedInsideBytes === 0 ? 1 : intactFree / (intactFree + punchedInsideBytes) };
}
