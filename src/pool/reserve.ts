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
 * So the pool's unit places fall out of the slots: free = held, claimed = emptying + filling,
 * leased = vacant. Conservation (DESIGN.md §3 invariant 1) is `held + vacant + emptying +
 * filling = capacity`, checked by `assertInvariants`.
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

  constructor(capacity: Units) {
    this.capacity = capacity;
    this.held.add(0, capacity);
  }

  get freeUnits(): Units {
    return units(this.held.size);
  }
  get claimedUnits(): Units {
    return units(this.emptyingCount + this.fillingCount);
  }
  get leasedUnits(): Units {
    return units(this.vacant.size);
  }
  get largestFreeRun(): Units {
    return units(this.held.largestRun());
  }

  /** The held slots, ascending (for the fragmentation map and snapshots). */
  heldRuns(): [number, number][] {
    return [...this.held.runs()];
  }

  /** Claims `n` held slots for handing out; they are punched after the arena is populated. */
  beginHandOut(n: number, what: string): UnitRange[] {
    if (n > this.held.size) {
      throw new ExhaustedError(`${what}: requested ${n} units, ${this.held.size} free in the pool of ${this.capacity}`);
    }
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

  /** Restores a reserve from a snapshot's held runs; every other slot is vacant. */
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
    const total = this.held.size + this.vacant.size + this.emptyingCount + this.fillingCount;
    if (total !== this.capacity) {
      throw new Error(
        `Reserve: conservation broken: free ${this.held.size} + leased ${this.vacant.size} + claimed ${this.emptyingCount + this.fillingCount} = ${total}, capacity ${this.capacity}`,
      );
    }
  }
}
