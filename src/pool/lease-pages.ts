/**
 * Per-page state of one lease: for every 4 KiB page, its attribute (shared / private), whether
 * the guest discarded it, and on which side file it is populated.
 *
 * Compact by construction (DESIGN.md §2 "Page state"): one byte per unit holds the state of a
 * unit whose 512 pages all agree; only a mixed ("split") unit carries a 256-byte record of four
 * 512-bit bitmaps. Every mutation works on page ranges: whole units by flipping a bit of their
 * byte, the at most two partial units at the ends through their bitmaps.
 *
 * Sides: side 0 is the arena's own file (guest_memfd or memfd); side 1 exists only for an arena
 * pair and is its memfd, where shared pages live (private pages live in the gmem, side 0).
 *
 * Invariants (checked by `assertInvariants`):
 * - a unit is split iff its byte has SPLIT and it has a record in `split`;
 * - a split record never describes a uniform unit (it would have been folded back);
 * - with one side, no page is ever populated on side 1.
 */
import { ALL_ONES, WORDS_PER_UNIT, popcount32, wordMask } from "./page-bitmap.ts";
import { PAGES_PER_UNIT } from "./units.ts";

/** The four per-page fields, each a bit of the unit byte and a bitmap of a split record. */
export type PageField = 0 | 1 | 2 | 3;
export const FIELD_PRIVATE: PageField = 0;
export const FIELD_DISCARDED: PageField = 1;
export const FIELD_POPULATED_SIDE0: PageField = 2;
export const FIELD_POPULATED_SIDE1: PageField = 3;

const SPLIT = 16;
const FIELD_COUNT = 4;
const RECORD_WORDS = FIELD_COUNT * WORDS_PER_UNIT;
const PAGES = PAGES_PER_UNIT as number;

export function populatedField(side: 0 | 1): PageField {
  return side === 0 ? FIELD_POPULATED_SIDE0 : FIELD_POPULATED_SIDE1;
}

/**
 * A predicate over the four field words of 32 pages; returns the mask of pages that satisfy it.
 * Must be pure bitwise arithmetic; the result is taken as unsigned.
 */
export type PageWordPredicate = (priv: number, discarded: number, pop0: number, pop1: number) => number;

/** The state of a unit range, saved so that a tentative change can be undone. */
interface SavedUnits {
  readonly start: number;
  readonly bytes: Uint8Array;
  /** Copies of the records of split units, when there were any. */
  readonly records: ReadonlyMap<number, Uint32Array> | undefined;
}

export class LeasePages {
  readonly unitCount: number;
  readonly sides: 1 | 2;
  private readonly bytes: Uint8Array;
  private readonly split = new Map<number, Uint32Array>();

  /** All pages start live, with attribute `initiallyPrivate`, populated nowhere. */
  constructor(unitCount: number, sides: 1 | 2, initiallyPrivate: boolean) {
    this.unitCount = unitCount;
    this.sides = sides;
    this.bytes = new Uint8Array(unitCount).fill(initiallyPrivate ? 1 : 0);
  }

  get pageCount(): number {
    return this.unitCount * PAGES;
  }

  /** Number of split units in this lease. */
  get splitUnitCount(): number {
    return this.split.size;
  }

  isSplit(unit: number): boolean {
    return this.split.has(unit);
  }

  /** Heap bytes held by split records (for the memory benchmark and metrics). */
  splitRecordBytes(): number {
    return this.split.size * RECORD_WORDS * 4;
  }

  /** Sets or clears `field` for pages [start, end) of the lease. */
  setField(field: PageField, start: number, end: number, on: boolean): void {
    const bit = 1 << field;
    for (let unit = Math.floor(start / PAGES); unit * PAGES < end; unit++) {
      const lo = Math.max(start - unit * PAGES, 0);
      const hi = Math.min(end - unit * PAGES, PAGES);
      const byte = this.bytes[unit]!;
      if ((byte & SPLIT) === 0 && (lo === 0 && hi === PAGES || ((byte & bit) !== 0) === on)) {
        this.bytes[unit] = on ? byte | bit : byte & ~bit;
        continue;
      }
      const record = this.materialize(unit);
      const base = field * WORDS_PER_UNIT;
      for (let w = 0; w < WORDS_PER_UNIT; w++) {
        const mask = wordMask(w, lo, hi);
        if (mask === 0) continue;
        record[base + w] = on ? (record[base + w]! | mask) >>> 0 : (record[base + w]! & ~mask) >>> 0;
      }
      this.foldIfUniform(unit, record);
    }
  }

  /** Number of pages in [start, end) for which `predicate` holds. */
  count(start: number, end: number, predicate: PageWordPredicate): number {
    let total = 0;
    for (let unit = Math.floor(start / PAGES); unit * PAGES < end; unit++) {
      const lo = Math.max(start - unit * PAGES, 0);
      const hi = Math.min(end - unit * PAGES, PAGES);
      const byte = this.bytes[unit]!;
      if ((byte & SPLIT) === 0) {
        const word = predicate(ones(byte, 0), ones(byte, 1), ones(byte, 2), ones(byte, 3)) >>> 0;
        total += word === 0 ? 0 : word === ALL_ONES ? hi - lo : countMasked(word, lo, hi);
        continue;
      }
      const record = this.split.get(unit)!;
      for (let w = 0; w < WORDS_PER_UNIT; w++) {
        const mask = wordMask(w, lo, hi);
        if (mask === 0) continue;
        const word = predicate(record[w]!, record[16 + w]!, record[32 + w]!, record[48 + w]!);
        total += popcount32((word & mask) >>> 0);
      }
    }
    return total;
  }

  /** True when some page of [start, end) satisfies `predicate`. */
  any(start: number, end: number, predicate: PageWordPredicate): boolean {
    return this.count(start, end, predicate) > 0;
  }

  /**
   * The maximal runs of pages in [start, end) for which `predicate` holds, ascending.
   * Used where the punch granularity is 4 KiB and work is per page run.
   */
  runs(start: number, end: number, predicate: PageWordPredicate): [number, number][] {
    const result: [number, number][] = [];
    let runStart = -1;
    const close = (at: number): void => {
      if (runStart >= 0) {
        result.push([runStart, at]);
        runStart = -1;
      }
    };
    for (let unit = Math.floor(start / PAGES); unit * PAGES < end; unit++) {
      const base = unit * PAGES;
      const lo = Math.max(start - base, 0);
      const hi = Math.min(end - base, PAGES);
      const byte = this.bytes[unit]!;
      const record = (byte & SPLIT) !== 0 ? this.split.get(unit)! : undefined;
      if (record === undefined) {
        // A uniform unit answers once for all its pages (a whole-unit discard asks for one).
        const word = predicate(ones(byte, 0), ones(byte, 1), ones(byte, 2), ones(byte, 3)) >>> 0;
        if (word === ALL_ONES) {
          if (runStart < 0) runStart = base + lo;
          continue;
        }
        if (word === 0) {
          close(base + lo);
          continue;
        }
      }
      for (let w = Math.floor(lo / 32); w * 32 < hi; w++) {
        const mask = wordMask(w, lo, hi);
        const word = (record === undefined
          ? predicate(ones(byte, 0), ones(byte, 1), ones(byte, 2), ones(byte, 3))
          : predicate(record[w]!, record[16 + w]!, record[32 + w]!, record[48 + w]!)) & mask;
        const wordLo = Math.max(lo, w * 32);
        const wordHi = Math.min(hi, w * 32 + 32);
        if ((word >>> 0) === mask) {
          if (runStart < 0) runStart = base + wordLo;
          continue;
        }
        for (let page = wordLo; page < wordHi; page++) {
          if ((word >>> (page - w * 32)) & 1) {
            if (runStart < 0) runStart = base + page;
          } else {
            close(base + page);
          }
        }
      }
    }
    close(end);
    return result;
  }

  /** Copies the state of units [start, end) so that a tentative change can be undone. */
  save(start: number, end: number): SavedUnits {
    let records: Map<number, Uint32Array> | undefined;
    for (let unit = start; unit < end; unit++) {
      if ((this.bytes[unit]! & SPLIT) !== 0) (records ??= new Map()).set(unit, this.split.get(unit)!.slice());
    }
    return { start, bytes: this.bytes.slice(start, end), records };
  }

  restore(saved: SavedUnits): void {
    for (let i = 0; i < saved.bytes.length; i++) {
      const unit = saved.start + i;
      this.bytes[unit] = saved.bytes[i]!;
      const record = saved.records?.get(unit);
      if (record === undefined) this.split.delete(unit);
      else this.split.set(unit, record);
    }
  }

  /** The unit's state as a byte (bits PRIVATE 1, DISCARDED 2, POP0 4, POP1 8, SPLIT 16). */
  unitByte(unit: number): number {
    return this.bytes[unit]!;
  }

  /** The live record of a split unit (read only; for counting on the hot path). */
  splitRecord(unit: number): Uint32Array {
    const record = this.split.get(unit);
    if (record === undefined) throw new RangeError(`LeasePages: unit ${unit} is not split`);
    return record;
  }

  /** For snapshots: every split unit with a copy of its record. */
  *splitRecords(): IterableIterator<[number, Uint32Array]> {
    for (const [unit, record] of this.split) yield [unit, record.slice()];
  }

  /** For snapshots: rebuilds a unit from its byte and, when split, its record. */
  load(unit: number, byte: number, record?: Uint32Array): void {
    if ((byte & SPLIT) !== 0) {
      if (record?.length !== RECORD_WORDS) throw new RangeError(`unit ${unit}: split without a record`);
      this.split.set(unit, record.slice());
    } else {
      this.split.delete(unit);
    }
    this.bytes[unit] = byte;
  }

  private materialize(unit: number): Uint32Array {
    const existing = this.split.get(unit);
    if (existing !== undefined) return existing;
    const byte = this.bytes[unit]!;
    const record = new Uint32Array(RECORD_WORDS);
    for (let field = 0; field < FIELD_COUNT; field++) {
      if ((byte & (1 << field)) !== 0) record.fill(ALL_ONES, field * WORDS_PER_UNIT, (field + 1) * WORDS_PER_UNIT);
    }
    this.split.set(unit, record);
    this.bytes[unit] = SPLIT;
    return record;
  }

  private foldIfUniform(unit: number, record: Uint32Array): void {
    let byte = 0;
    for (let field = 0; field < FIELD_COUNT; field++) {
      const first = record[field * WORDS_PER_UNIT]!;
      if (first !== 0 && first !== ALL_ONES) return;
      for (let w = 1; w < WORDS_PER_UNIT; w++) if (record[field * WORDS_PER_UNIT + w] !== first) return;
      if (first === ALL_ONES) byte |= 1 << field;
    }
    this.split.delete(unit);
    this.bytes[unit] = byte;
  }

  assertInvariants(): void {
    for (let unit = 0; unit < this.unitCount; unit++) {
      const isSplit = (this.bytes[unit]! & SPLIT) !== 0;
      if (isSplit !== this.split.has(unit)) throw new Error(`LeasePages: unit ${unit} split byte/record disagree`);
    }
    for (const [unit, record] of this.split) {
      const copy = record.slice();
      const probe = new LeasePages(1, this.sides, false);
      probe.split.set(0, copy);
      probe.bytes[0] = SPLIT;
      probe.foldIfUniform(0, copy);
      if (!probe.split.has(0)) throw new Error(`LeasePages: unit ${unit} is uniform but kept a split record`);
    }
    if (this.sides === 1 && this.any(0, this.pageCount, (_p, _d, _p0, pop1) => pop1)) {
      throw new Error("LeasePages: a one-sided lease has pages populated on side 1");
    }
  }
}

/** The word a uniform unit byte gives for `field`: all ones or zero. */
function ones(byte: number, field: number): number {
  return (byte & (1 << field)) !== 0 ? ALL_ONES : 0;
}

function countMasked(word: number, lo: number, hi: number): number {
  let total = 0;
  for (let w = Math.floor(lo / 32); w * 32 < hi; w++) total += popcount32((word & wordMask(w, lo, hi)) >>> 0);
  return total;
}
