/**
 * A small seeded PRNG (mulberry32) and the draws the trace generator needs. Deterministic for a
 * seed on every platform: 32-bit integer arithmetic only, no Math.random.
 */
export class Prng {
  private state: number;

  constructor(seed: number) {
    if (!Number.isSafeInteger(seed)) throw new RangeError(`seed must be an integer, got ${seed}`);
    this.state = seed >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** True with probability `p`. */
  chance(p: number): boolean {
    return this.next() < p;
  }

  /** Uniform integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  /** Integer in [min, max] whose logarithm is uniform: small values often, large ones sometimes. */
  logInt(min: number, max: number): number {
    const v = Math.floor(Math.exp(Math.log(min) + this.next() * (Math.log(max + 1) - Math.log(min))));
    return Math.min(max, Math.max(min, v));
  }

  /** One of `items`, chosen with probability proportional to `weight`. */
  weighted<T extends { readonly weight: number }>(items: readonly T[]): T {
    const total = items.reduce((n, item) => n + item.weight, 0);
    let x = this.next() * total;
    for (const item of items) {
      x -= item.weight;
      if (x < 0) return item;
    }
    return items[items.length - 1]!;
  }
}
