/**
 * A set of non-negative integers stored as sorted, disjoint, non-adjacent half-open runs
 * [start, end). The pool keeps free units of arenas and of the reserve this way: memory is per
 * run, not per unit, and every operation works on ranges.
 *
 * Invariants (checked by `assertInvariants`):
 * - starts[i] < ends[i] for every run;
 * - ends[i] < starts[i + 1]: runs are sorted, disjoint and never adjacent (adjacent runs merge);
 * - size is the sum of run lengths.
 */
export class ExtentSet {
  private readonly starts: number[] = [];
  private readonly ends: number[] = [];
  private count = 0;

  /** Number of integers in the set. */
  get size(): number {
    return this.count;
  }

  /** Number of runs. */
  get runCount(): number {
    return this.starts.length;
  }

  /** The runs in ascending order. */
  *runs(): IterableIterator<[number, number]> {
    for (let i = 0; i < this.starts.length; i++) yield [this.starts[i]!, this.ends[i]!];
  }

  /** Index of the last run whose start is <= x, or -1. */
  private runAtOrBefore(x: number): number {
    let lo = 0;
    let hi = this.starts.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (this.starts[mid]! <= x) {
        found = mid;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    return found;
  }

  /** True when every integer of [start, end) is in the set. */
  containsRange(start: number, end: number): boolean {
    if (start >= end) return true;
    const i = this.runAtOrBefore(start);
    return i >= 0 && this.ends[i]! >= end;
  }

  has(x: number): boolean {
    return this.containsRange(x, x + 1);
  }

  /** True when some integer of [start, end) is in the set. */
  intersects(start: number, end: number): boolean {
    if (start >= end) return false;
    const i = this.runAtOrBefore(end - 1);
    return i >= 0 && this.ends[i]! > start;
  }

  /** Number of integers of [start, end) that are in the set. */
  countInRange(start: number, end: number): number {
    let total = 0;
    for (const [s, e] of this.runsInRange(start, end)) total += e - s;
    return total;
  }

  /** The parts of the set inside [start, end), as clipped runs in ascending order. */
  *runsInRange(start: number, end: number): IterableIterator<[number, number]> {
    if (start >= end) return;
    let i = Math.max(0, this.runAtOrBefore(start));
    for (; i < this.starts.length && this.starts[i]! < end; i++) {
      const s = Math.max(this.starts[i]!, start);
      const e = Math.min(this.ends[i]!, end);
      if (s < e) yield [s, e];
    }
  }

  /**
   * Adds [start, end), which must not intersect the set: adding what is already there means the
   * caller's bookkeeping is wrong, so it throws instead of hiding a double count.
   */
  add(start: number, end: number): void {
    if (start >= end) return;
    if (this.intersects(start, end)) {
      throw new RangeError(`ExtentSet.add: [${start}, ${end}) overlaps the set`);
    }
    const i = this.runAtOrBefore(start); // run before, or -1
    const joinsPrev = i >= 0 && this.ends[i] === start;
    const joinsNext = i + 1 < this.starts.length && this.starts[i + 1] === end;
    if (joinsPrev && joinsNext) {
      this.ends[i] = this.ends[i + 1]!;
      this.starts.splice(i + 1, 1);
      this.ends.splice(i + 1, 1);
    } else if (joinsPrev) {
      this.ends[i] = end;
    } else if (joinsNext) {
      this.starts[i + 1] = start;
    } else {
      this.starts.splice(i + 1, 0, start);
      this.ends.splice(i + 1, 0, end);
    }
    this.count += end - start;
  }

  /** Removes [start, end), which must lie wholly inside the set. */
  remove(start: number, end: number): void {
    if (start >= end) return;
    const i = this.runAtOrBefore(start);
    if (i < 0 || this.ends[i]! < end) {
      throw new RangeError(`ExtentSet.remove: [${start}, ${end}) is not wholly in the set`);
    }
    const runStart = this.starts[i]!;
    const runEnd = this.ends[i]!;
    if (runStart === start && runEnd === end) {
      this.starts.splice(i, 1);
      this.ends.splice(i, 1);
    } else if (runStart === start) {
      this.starts[i] = end;
    } else if (runEnd === end) {
      this.ends[i] = start;
    } else {
      this.ends[i] = start;
      this.starts.splice(i + 1, 0, end);
      this.ends.splice(i + 1, 0, runEnd);
    }
    this.count -= end - start;
  }

  /** Start of the lowest run of at least `length`, or -1. */
  firstFit(length: number): number {
    for (let i = 0; i < this.starts.length; i++) {
      if (this.ends[i]! - this.starts[i]! >= length) return this.starts[i]!;
    }
    return -1;
  }

  /** Start of the smallest run of at least `length` (lowest on ties), or -1. */
  bestFit(length: number): number {
    let best = -1;
    let bestLength = Infinity;
    for (let i = 0; i < this.starts.length; i++) {
      const runLength = this.ends[i]! - this.starts[i]!;
      if (runLength >= length && runLength < bestLength) {
        best = this.starts[i]!;
        bestLength = runLength;
        if (runLength === length) break;
      }
    }
    return best;
  }

  /** Length of the longest run, 0 when empty. */
  largestRun(): number {
    let largest = 0;
    for (let i = 0; i < this.starts.length; i++) largest = Math.max(largest, this.ends[i]! - this.starts[i]!);
    return largest;
  }

  /**
   * Takes `n` integers out of the set, whole runs first in the order `fit` prefers, and returns
   * the runs taken. Used for reserve slots, which need not be contiguous.
   */
  takeAny(n: number, fromTop: boolean): [number, number][] {
    if (n > this.count) throw new RangeError(`ExtentSet.takeAny: ${n} requested, ${this.count} present`);
    const taken: [number, number][] = [];
    let left = n;
    while (left > 0) {
      const i = fromTop ? this.starts.length - 1 : 0;
      const s = this.starts[i]!;
      const e = this.ends[i]!;
      const take = Math.min(left, e - s);
      const range: [number, number] = fromTop ? [e - take, e] : [s, s + take];
      this.remove(range[0], range[1]);
      taken.push(range);
      left -= take;
    }
    return taken;
  }

  assertInvariants(): void {
    let total = 0;
    for (let i = 0; i < this.starts.length; i++) {
      const s = this.starts[i]!;
      const e = this.ends[i]!;
      if (!(s < e)) throw new Error(`ExtentSet: empty or inverted run [${s}, ${e})`);
      if (i > 0 && !(this.ends[i - 1]! < s)) throw new Error(`ExtentSet: runs ${i - 1} and ${i} touch or overlap`);
      total += e - s;
    }
    if (total !== this.count) throw new Error(`ExtentSet: size ${this.count} but runs hold ${total}`);
  }

  clone(): ExtentSet {
    const copy = new ExtentSet();
    copy.starts.push(...this.starts);
    copy.ends.push(...this.ends);
    copy.count = this.count;
    return copy;
  }
}
