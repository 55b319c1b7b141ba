/**
 * The reserve: where free units are held so that nobody else on the host can take them
 * (DESIGN.md §2). It is a file of `capacity` unit-sized slots (a guest_memfd of the daemon's own
 * VM, a hugetlb memfd, or nothing at all in mode `none`, where the slots are bookkeeping only).
 *
 * Every slot is in exactly one place:
 * - `held`: populated in the reserve file — one free unit of the pool;
 * - `vacant`: punched from the reserve because its unit is leased to an arena;
 * - `emptying`: being handed out (a populate of an arena is in flight, the slot will be punched);
 * - `filling`: being taken back (an arena punch is in flight, the slot will be populated).
 *
 * Some held slots may be ear-marked for reservations (`reservedUnits`, a count: which slots is
 * nobody's business until they are handed out). So the pool's unit places fall out of the
 * slots: free = held − reserved, reserved = the ear-mark, claimed = emptying + filling,
 * leased = vacant. Conservation (DESIGN.md §3 invariant 1) is `free + reserved + vacant +
 * emptying + filling = capacity` with `0 ≤ reserved ≤ held`, checked by `assertInvariants`.
 *
 * Slots are handed out from the top and taken back at the bottom so that the held slots stay
 * one contiguous run as long as possible (the reserve's "largest free run" metric).
 */
import { ExtentSet } from "./extent-set.ts";
import { ExhaustedError } from "./errors.ts";
import { units, type UnitRange, type Units } from "./units.ts";

export class Reserve {
  readonly capacity: Units;
  private readonly held = new ExtentSet();
  private readonly vacant = new ExtentSet();
  private emptyingCount = 0;
  private fillingCount = 0;
  private earmarked = 0;

  constructor(capacity: Units) {
    this.capacity = capacity;
    this.held.add(0, capacity);
  }

  /** Held units not ear-marked: what any arena may be handed. */
  get freeUnits(): Units {
    return units(this.held.size - this.earmarked);
  }
  /** Held units ear-marked for reservations. */
  get reservedUnits(): Units {
    return units(this.earmarked);
  }
  get claimedUnits(): Units {
    return units(this.emptyingCount + this.fillingCount);
  }
  get leasedUnits(): Units {
    return units(this.vacant.size);
  }
  /** The largest run of held slots, at most the free count (which slots are ear-marked is open). */
  get largestFreeRun(): Units {
    return units(Math.min(this.held.largestRun(), this.freeUnits));
  }

  /** The held slots, ascending (for the fragmentation map and snapshots). */
  heldRuns(): [number, number][] {
    return [...this.held.runs()];
  }

  /**
   * Claims `n` held slots for handing out; they are punched after the arena is populated.
   * `fromReserved` of them come out of the ear-mark (the arena's reservation), the rest must be free.
   */
  beginHandOut(n: number, what: string, fromReserved = 0): UnitRange[] {
    if (fromReserved < 0 || fromReserved > n || fromReserved > this.earmarked) throw new RangeError(`Reserve: ${fromReserved} of ${n} units from ${this.earmarked} reserved`);
    if (n - fromReserved > this.freeUnits) {
      const reserved = fromReserved > 0 ? ` (+${fromReserved} reserved for it)` : "";
      throw new ExhaustedError(`${what}: requested ${n} units, ${this.freeUnits} free${reserved} in the pool of ${this.capacity}`);
    }
    this.earmarked -= fromReserved;
    this.emptyingCount += n;
    return this.held.takeAny(n, true).map(([s, e]) => ({ start: units(s), end: units(e) }));
  }

  /** The hand-out happened: the slots are punched. */
  finishHandOut(slots: readonly UnitRange[]): void {
    for (const { start, end } of slots) {
      this.vacant.add(start, end);
      this.emptyingCount -= end - start;
    }
  }

  /** The hand-out did not happen: the slots are still populated. */
  cancelHandOut(slots: readonly UnitRange[]): void {
    for (const { start, end } of slots) {
      this.held.add(start, end);
      this.emptyingCount -= end - start;
    }
  }

  /**
   * Moves `delta` held units into (+) or out of (−) the ear-mark. Ear-marking more than is
   * free is `ExhaustedError` naming both; the pool checks first, so that is a reservation request
   * the pool could not have validated.
   */
  earmark(delta: number, what: string): void {
    if (delta > this.freeUnits) throw new ExhaustedError(`${what}: requested ${delta} units, ${this.freeUnits} free in the pool of ${this.capacity}`);
    if (this.earmarked + delta < 0) throw new RangeError(`Reserve: un-ear-marking ${-delta} units of ${this.earmarked}`);
    this.earmarked += delta;
  }

  /** Claims `n` vacant slots to take units back into. */
  beginTakeBack(n: number): UnitRange[] {
    if (n > this.vacant.size) throw new RangeError(`Reserve: ${n} units returned but only ${this.vacant.size} are leased`);
    this.fillingCount += n;
    return this.vacant.takeAny(n, false).map(([s, e]) => ({ start: units(s), end: units(e) }));
  }

  finishTakeBack(slots: readonly UnitRange[]): void {
    for (const { start, end } of slots) {
      this.held.add(start, end);
      this.fillingCount -= end - start;
    }
  }

  cancelTakeBack(slots: readonly UnitRange[]): void {
    for (const { start, end } of slots) {
      this.vacant.add(start, end);
      this.fillingCount -= end - start;
    }
  }

  /** Restores a reserve from a snapshot's held runs; every other slot is vacant, none ear-marked. */
  static fromHeldRuns(capacity: Units, heldRuns: readonly (readonly [number, number])[]): Reserve {
    const reserve = new Reserve(capacity);
    reserve.held.remove(0, capacity);
    for (const [s, e] of heldRuns) {
      if (s < 0 || e > capacity) throw new RangeError(`Reserve: held run [${s}, ${e}) outside capacity ${capacity}`);
      reserve.held.add(s, e);
    }
    let cursor = 0;
    for (const [s, e] of reserve.held.runs()) {
      reserve.vacant.add(cursor, s);
      cursor = e;
    }
    reserve.vacant.add(cursor, capacity);
    return reserve;
  }

  assertInvariants(): void {
    this.held.assertInvariants();
    this.vacant.assertInvariants();
    for (const [s, e] of this.held.runs()) {
      if (this.vacant.intersects(s, e)) throw new Error(`Reserve: slots [${s}, ${e}) both held and vacant`);
    }
    if (this.earmarked < 0 || this.earmarked > this.held.size) throw new Error(`Reserve: ${this.earmarked} units reserved of ${this.held.size} held`);
    const free = this.held.size - this.earmarked;
    const total = free + this.earmarked + this.vacant.size + this.emptyingCount + this.fillingCount;
    if (total !== this.capacity) {
      throw new Error(
        `Reserve: conservation broken: free ${free} + reserved ${this.earmarked} + leased ${this.vacant.size} + claimed ${this.emptyingCount + this.fillingCount} = ${total}, capacity ${this.capacity}`,
      );
    }
  }
}
