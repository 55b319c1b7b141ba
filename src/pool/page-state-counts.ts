/**
 * The pool-wide figures derived from page state: deferred pages (discarded but still populated),
 * stale pages (a pair's live page populated on the side it does not live on) and split units.
 *
 * Counted before and after every change to keep the pool's running totals exact, so this is on
 * the hot path: a uniform unit is answered from a table indexed by its state byte, and only
 * split units go through their bitmaps (one pass for both figures).
 */
import type { LeasePages } from "./lease-pages.ts";
import { popcount32 } from "./page-bitmap.ts";
import { PAGES_PER_UNIT } from "./units.ts";

export interface PageStateCounts {
  readonly deferredPages: number;
  readonly stalePages: number;
  readonly splitUnits: number;
}

const PAGES = PAGES_PER_UNIT as number;

/** [deferred, stale (pair)] pages of a uniform unit, by its byte (PRIVATE 1, DISCARDED 2, POP0 4, POP1 8). */
const UNIFORM_DEFERRED = new Uint16Array(16);
const UNIFORM_STALE = new Uint16Array(16);
for (let byte = 0; byte < 16; byte++) {
  const priv = (byte & 1) !== 0;
  const disc = (byte & 2) !== 0;
  const pop0 = (byte & 4) !== 0;
  const pop1 = (byte & 8) !== 0;
  UNIFORM_DEFERRED[byte] = disc ? (Number(pop0) + Number(pop1)) * PAGES : 0;
  UNIFORM_STALE[byte] = !disc && ((priv && pop1) || (!priv && pop0)) ? PAGES : 0;
}

/** Counts over lease-relative units [startUnit, endUnit). */
export function countPageStates(pages: LeasePages, startUnit: number, endUnit: number): PageStateCounts {
  const pair = pages.sides === 2;
  let deferredPages = 0;
  let stalePages = 0;
  let splitUnits = 0;
  for (let u = startUnit; u < endUnit; u++) {
    const byte = pages.unitByte(u);
    if (byte < 16) {
      deferredPages += UNIFORM_DEFERRED[byte]!;
      if (pair) stalePages += UNIFORM_STALE[byte]!;
      continue;
    }
    splitUnits++;
    const record = pages.splitRecord(u);
    for (let w = 0; w < 16; w++) {
      const p = record[w]!;
      const d = record[16 + w]!;
      const p0 = record[32 + w]!;
      const p1 = record[48 + w]!;
      deferredPages += popcount32((d & p0) >>> 0) + popcount32((d & p1) >>> 0);
      if (pair) stalePages += popcount32((~d & ((p & p1) | (~p & p0))) >>> 0);
    }
  }
  return { deferredPages, stalePages, splitUnits };
}

