/**
 * The reserve as slots, for the fragmentation map's reserve runs: the daemon's reserve is a file
 * of `capacity` unit-sized slots; a slot is *held* (a free unit of the pool) or *vacant* (its
 * unit is leased to an arena). Slots are handed out from the top and taken back at the bottom,
 * so that the held slots stay one contiguous run as long as possible (the daemon's reserve.ts).
 * The fake never has a kernel call in flight, so no slot is ever "claimed".
 *
 * Invariant (`assertInvariants`): held + vacant = capacity.
 */
export class ReserveSlots {
  readonly capacity: number;
  /** 1: held (free), 0: vacant (leased). */
  readonly #held: Uint8Array;
  #heldCount: number;

  constructor(capacity: number) {
    this.capacity = capacity;
    this.#held = new Uint8Array(capacity).fill(1);
    this.#heldCount = capacity;
  }

  get freeUnitCount(): number {
    return this.#heldCount;
  }

  get leasedUnitCount(): number {
    return this.capacity - this.#heldCount;
  }

  /**
   * One call's net effect: `handOut` units go to arenas (the highest held slots become vacant)
   * and `takeBack` units come back (the lowest vacant slots become held again). Both choose
   * among the slots as they were before the call: the daemon claims every slot of a call's
   * plans before it commits any, so a slot handed out by a call is not taken back by the same
   * call, and vice versa.
   */
  apply(handOut: number, takeBack: number): void {
    if (handOut > this.#heldCount) throw new RangeError(`ReserveSlots: ${handOut} units handed out, ${this.#heldCount} held`);
    if (takeBack > this.leasedUnitCount) throw new RangeError(`ReserveSlots: ${takeBack} units taken back, ${this.leasedUnitCount} vacant`);
    const out: number[] = [];
    for (let slot = this.capacity - 1; out.length < handOut; slot--) if (this.#held[slot] === 1) out.push(slot);
    const back: number[] = [];
    for (let slot = 0; back.length < takeBack; slot++) if (this.#held[slot] === 0) back.push(slot);
    for (const slot of out) this.#held[slot] = 0;
    for (const slot of back) this.#held[slot] = 1;
    this.#heldCount += takeBack - handOut;
  }

  /** Maximal runs of held slots, ascending, as [start, end). */
  heldRuns(): [number, number][] {
    const runs: [number, number][] = [];
    let start = -1;
    for (let slot = 0; slot <= this.capacity; slot++) {
      const held = slot < this.capacity && this.#held[slot] === 1;
      if (held && start < 0) start = slot;
      if (!held && start >= 0) {
        runs.push([start, slot]);
        start = -1;
      }
    }
    return runs;
  }

  get largestFreeRunUnitCount(): number {
    return this.heldRuns().reduce((max, [s, e]) => Math.max(max, e - s), 0);
  }

  assertInvariants(): void {
    const held = this.#held.reduce((n, h) => n + h, 0);
    if (held !== this.#heldCount) throw new Error(`ReserveSlots: ${held} slots held, counted ${this.#heldCount}`);
  }
}
