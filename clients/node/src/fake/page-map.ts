/**
 * The 4 KiB pages of one fake lease: for each page, its visibility, whether the guest discarded
 * it, and on which side file it is populated (DESIGN.md §2 "Page state"). Side 0 is the arena's
 * own file (guest_memfd or memfd); side 1 exists only in a pair and is its memfd, where shared
 * pages live.
 *
 * Compact only as far as tests need: a unit whose 512 pages agree is one number; a unit whose
 * pages differ ("split", as the daemon counts them) is one byte per page. Every operation works
 * on page ranges.
 *
 * Invariant (`assertInvariants`): a unit stored per page is not uniform (it would be folded back
 * to one number), so `isSplit` is exactly the daemon's "split unit".
 */
import { PAGES_PER_UNIT } from "../units.ts";

export type PageFlags = number;
export const PRIVATE: PageFlags = 1;
export const DISCARDED: PageFlags = 2;
export const POPULATED_SIDE0: PageFlags = 4;
export const POPULATED_SIDE1: PageFlags = 8;

export type Side = 0 | 1;

export function populatedFlag(side: Side): PageFlags {
  return side === 0 ? POPULATED_SIDE0 : POPULATED_SIDE1;
}

const PAGES = PAGES_PER_UNIT;

export class PageMap {
  readonly unitCount: number;
  readonly #units: (PageFlags | Uint8Array)[];

  /** Every page starts with `flags`. */
  constructor(unitCount: number, flags: PageFlags) {
    this.unitCount = unitCount;
    this.#units = new Array<PageFlags | Uint8Array>(unitCount).fill(flags);
  }

  get pageCount(): number {
    return this.unitCount * PAGES;
  }

  /** Replaces the flags of pages [startPage, endPage) with `change(flags)`. */
  update(startPage: number, endPage: number, change: (flags: PageFlags) => PageFlags): void {
    for (let unit = Math.floor(startPage / PAGES); unit * PAGES < endPage; unit++) {
      const lo = Math.max(startPage - unit * PAGES, 0);
      const hi = Math.min(endPage - unit * PAGES, PAGES);
      const stored = this.#units[unit]!;
      if (typeof stored === "number") {
        const changed = change(stored);
        if (changed === stored) continue;
        if (lo === 0 && hi === PAGES) {
          this.#units[unit] = changed;
          continue;
        }
        const pages = new Uint8Array(PAGES).fill(stored);
        pages.fill(changed, lo, hi);
        this.#units[unit] = pages;
        continue;
      }
      for (let p = lo; p < hi; p++) stored[p] = change(stored[p]!);
      this.#fold(unit, stored);
    }
  }

  /** Pages of [startPage, endPage) whose flags pass `test`. */
  count(startPage: number, endPage: number, test: (flags: PageFlags) => boolean): number {
    let total = 0;
    for (let unit = Math.floor(startPage / PAGES); unit * PAGES < endPage; unit++) {
      const lo = Math.max(startPage - unit * PAGES, 0);
      const hi = Math.min(endPage - unit * PAGES, PAGES);
      const stored = this.#units[unit]!;
      if (typeof stored === "number") {
        if (test(stored)) total += hi - lo;
        continue;
      }
      for (let p = lo; p < hi; p++) if (test(stored[p]!)) total++;
    }
    return total;
  }

  /** The first page of [startPage, endPage) whose flags pass `test`, if any. */
  firstPage(startPage: number, endPage: number, test: (flags: PageFlags) => boolean): number | undefined {
    for (let unit = Math.floor(startPage / PAGES); unit * PAGES < endPage; unit++) {
      const lo = Math.max(startPage - unit * PAGES, 0);
      const hi = Math.min(endPage - unit * PAGES, PAGES);
      const stored = this.#units[unit]!;
      if (typeof stored === "number") {
        if (test(stored)) return unit * PAGES + lo;
        continue;
      }
      for (let p = lo; p < hi; p++) if (test(stored[p]!)) return unit * PAGES + p;
    }
    return undefined;
  }

  /** Pages of lease-relative unit `unit` whose flags pass `test`. */
  countInUnit(unit: number, test: (flags: PageFlags) => boolean): number {
    return this.count(unit * PAGES, (unit + 1) * PAGES, test);
  }

  /** Whether the unit's pages are in mixed states (the daemon's "split unit"). */
  isSplit(unit: number): boolean {
    return typeof this.#units[unit] !== "number";
  }

  get splitUnitCount(): number {
    let n = 0;
    for (const stored of this.#units) if (typeof stored !== "number") n++;
    return n;
  }

  clone(): PageMap {
    const copy = new PageMap(this.unitCount, 0);
    this.#units.forEach((stored, unit) => {
      copy.#units[unit] = typeof stored === "number" ? stored : stored.slice();
    });
    return copy;
  }

  #fold(unit: number, pages: Uint8Array): void {
    const first = pages[0]!;
    for (let p = 1; p < PAGES; p++) if (pages[p] !== first) return;
    this.#units[unit] = first;
  }

  assertInvariants(): void {
    this.#units.forEach((stored, unit) => {
      if (typeof stored === "number") return;
      if (stored.every((flags) => flags === stored[0])) throw new Error(`PageMap: unit ${unit} is uniform but stored per page`);
    });
  }
}
