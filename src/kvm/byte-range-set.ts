/**
 * A set of byte offsets kept as sorted, disjoint, non-touching half-open intervals [start, end).
 * The fake kernel uses it for what is populated, private, or bound in a file: a 1 TiB
 * guest_memfd populated in three places is three intervals, not 2^28 page objects.
 *
 * Invariants (assertInvariants): intervals sorted by start; start < end; intervals neither
 * overlap nor touch (touching ones are merged).
 */
export class ByteRangeSet {
  #ranges: [bigint, bigint][] = [];

  /** Adds [start, end). */
  add(start: bigint, end: bigint): void {
    if (end <= start) return;
    const kept: [bigint, bigint][] = [];
    let s = start;
    let e = end;
    for (const [rs, re] of this.#ranges) {
      if (re < s || rs > e) kept.push([rs, re]);
      else {
        s = rs < s ? rs : s;
        e = re > e ? re : e;
      }
    }
    kept.push([s, e]);
    kept.sort((a, b) => (a[0] < b[0] ? -1 : 1));
    this.#ranges = kept;
  }

  /** Removes [start, end). */
  remove(start: bigint, end: bigint): void {
    if (end <= start) return;
    const kept: [bigint, bigint][] = [];
    for (const [rs, re] of this.#ranges) {
      if (re <= start || rs >= end) {
        kept.push([rs, re]);
        continue;
      }
      if (rs < start) kept.push([rs, start]);
      if (re > end) kept.push([end, re]);
    }
    this.#ranges = kept;
  }

  /** True when every offset of [start, end) is in the set (an empty range is covered). */
  covers(start: bigint, end: bigint): boolean {
    if (end <= start) return true;
    return this.#ranges.some(([rs, re]) => rs <= start && re >= end);
  }

  /** The first offset of [start, end) in the set, if any. */
  firstIn(start: bigint, end: bigint): bigint | undefined {
    if (end <= start) return undefined;
    for (const [rs, re] of this.#ranges) {
      if (re <= start) continue;
      if (rs >= end) return undefined;
      return rs > start ? rs : start;
    }
    return undefined;
  }

  /** The first offset of [start, end) NOT in the set, if any. */
  firstGap(start: bigint, end: bigint): bigint | undefined {
    if (end <= start) return undefined;
    let at = start;
    for (const [rs, re] of this.#ranges) {
      if (re <= at) continue;
      if (rs > at) break;
      at = re;
      if (at >= end) return undefined;
    }
    return at < end ? at : undefined;
  }

  /** Bytes of the set inside [start, end). */
  bytesIn(start: bigint, end: bigint): bigint {
    let sum = 0n;
    for (const [rs, re] of this.#ranges) {
      const s = rs > start ? rs : start;
      const e = re < end ? re : end;
      if (e > s) sum += e - s;
    }
    return sum;
  }

  /** Bytes in the set. */
  get bytes(): bigint {
    return this.#ranges.reduce((sum, [s, e]) => sum + (e - s), 0n);
  }

  /** The intervals, in order. */
  ranges(): readonly (readonly [bigint, bigint])[] {
    return this.#ranges.map(([s, e]) => [s, e] as const);
  }

  clear(): void {
    this.#ranges = [];
  }

  assertInvariants(): void {
    let previousEnd: bigint | undefined;
    for (const [s, e] of this.#ranges) {
      if (s >= e) throw new Error(`ByteRangeSet: empty or inverted interval [${s}, ${e})`);
      if (previousEnd !== undefined && s <= previousEnd) throw new Error(`ByteRangeSet: interval [${s}, ${e}) overlaps or touches the previous one ending at ${previousEnd}`);
      previousEnd = e;
    }
  }
}
