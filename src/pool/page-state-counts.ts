/**
 * The pool-wide figures derived from page state: deferred pages (discarded but still populated),
 * stale pages (a pair's live page populated on the side it does not live on) and split units.
 */
import type { LeasePages } from "./lease-pages.ts";
import { PAGES_PER_UNIT } from "./units.ts";

export interface PageStateCounts {
  readonly deferredPages: number;
  readonly stalePages: number;
  readonly splitUnits: number;
}

const PAGES = PAGES_PER_UNIT as number;

/** Counts over lease-relative units [startUnit, endUnit). */
export function countPageStates(pages: LeasePages, startUnit: number, endUnit: number): PageStateCounts {
  const lo = startUnit * PAGES;
  const hi = endUnit * PAGES;
  const deferredPages = pages.count(lo, hi, (_p, d, p0) => d & p0) + (pages.sides === 2 ? pages.count(lo, hi, (_p, d, _p0, p1) => d & p1) : 0);
  const stalePages = pages.sides === 2 ? pages.count(lo, hi, (p, d, p0, p1) => ~d & ((p & p1) | (~p & p0))) : 0;
  let splitUnits = 0;
  for (let u = startUnit; u < endUnit; u++) if (pages.isSplit(u)) splitUnits++;
  return { deferredPages, stalePages, splitUnits };
}
