/**
 * Reserve punches taken off the critical path (config `pool.reserve_punch = "background"`).
 *
 * With the gmem reserve, handing a unit out is "populate the arena, then punch the reserve
 * slot" (reserve-backend.ts). The client only needs the first half: once the arena holds the
 * unit, the lease is real. The punch that gives the reserve's copy back to the host is queued
 * here and runs PUNCH_DELAY_MS later, with bounded parallelism, so a 1 GiB Allocate costs about one
 * populate of 1 GiB instead of a populate plus a punch (measured on this machine: ratio to raw
 * populate ~1.2-1.9 inline, see docs/daemon.md). For that short window the host holds the
 * unit twice, as it does within every inline step anyway.
 *
 * Why wait PUNCH_DELAY_MS rather than punch at once (mimalloc's delayed release, for the same
 * reason: churn): a unit released soon after it was handed out (a VMM's allocate / release
 * churn) finds its reserve copy still there, so the punch never runs and the reserve's re-populate
 * finds its 2 MiB in place (nothing to allocate and zero again); and a punch that does run no longer competes for this machine's two
 * CPUs with the call's own journal write and response (bench rpc, A/B in one session, medians of
 * 3 rounds, with the O_DSYNC journal: 1-unit Allocate p50 2.03 -> 1.48 ms). The cost is bounded:
 * at most what is handed out in PUNCH_DELAY_MS stays held twice for that long.
 *
 * A slot whose punch is still pending can be taken back (a release right after an allocate):
 * `claim` removes it from the queue (its memory is still there: nothing to populate twice) or
 * waits for a punch in flight, before the reserve populates it again. A failed punch is retried
 * with backoff (logged); accounting is never affected, only how long memory is held twice.
 *
 * Invariants: a unit is in at most one of `#pending` / `#inflight`; every unit in either is a
 * vacant slot of the pool's reserve.
 */
import type { Logger } from "pino";
import type { UnitRange } from "../pool/index.ts";
import { units } from "../pool/units.ts";

const MAX_RUN_UNITS = 16;
/** How long a queued punch waits for a release that makes it moot (see the file comment). */
export const PUNCH_DELAY_MS = 20;
const RETRY_MS = [10, 100, 1000, 5000];

export class DeferredReservePunch {
  readonly #punch: (slots: readonly UnitRange[]) => Promise<void>;
  readonly #logger: Logger;
  readonly #parallelism: number;
  readonly #pending = new Set<number>();
  readonly #inflight = new Map<number, Promise<void>>();
  /** In-flight units claimed back meanwhile: never re-queued if their punch failed. */
  readonly #claimed = new Set<number>();
  #workers = 0;
  /** The PUNCH_DELAY_MS timer, while one is set. */
  #delay: NodeJS.Timeout | undefined;
  #failures = 0;
  #idleWaiters: (() => void)[] = [];

  constructor(punch: (slots: readonly UnitRange[]) => Promise<void>, logger: Logger, parallelism: number) {
    this.#punch = punch;
    this.#logger = logger;
    this.#parallelism = parallelism;
  }

  /** Units whose reserve copy is still held (pending or being punched). */
  get heldTwiceUnits(): number {
    return this.#pending.size + this.#inflight.size;
  }

  schedule(slots: readonly UnitRange[]): void {
    for (const { start, end } of slots) for (let u = start as number; u < end; u++) this.#pending.add(u);
    this.#delay ??= setTimeout(() => {
      this.#delay = undefined;
      this.#kick();
    }, PUNCH_DELAY_MS);
  }

  /** Before the reserve populates `slots` again: drop their pending punches, wait for running ones. */
  async claim(slots: readonly UnitRange[]): Promise<void> {
    const waits: Promise<void>[] = [];
    for (const { start, end } of slots) {
      for (let u = start as number; u < end; u++) {
        this.#pending.delete(u);
        const running = this.#inflight.get(u);
        if (running !== undefined) {
          this.#claimed.add(u);
          waits.push(running);
        }
      }
    }
    await Promise.allSettled(waits);
  }

  /** Resolves when nothing is pending or in flight (tests, shutdown): what is pending runs now. */
  idle(): Promise<void> {
    if (this.heldTwiceUnits === 0 && this.#workers === 0) return Promise.resolve();
    const idle = new Promise<void>((resolve) => this.#idleWaiters.push(resolve));
    clearTimeout(this.#delay);
    this.#delay = undefined;
    this.#kick();
    return idle;
  }

  #kick(): void {
    while (this.#workers < this.#parallelism && this.#pending.size > 0) {
      this.#workers++;
      void this.#work().finally(() => {
        this.#workers--;
        this.#wakeIfIdle();
      });
    }
    // Every pending punch was claimed back before the delay ran out.
    this.#wakeIfIdle();
  }

  #wakeIfIdle(): void {
    if (this.#workers === 0 && this.heldTwiceUnits === 0) for (const wake of this.#idleWaiters.splice(0)) wake();
  }

  async #work(): Promise<void> {
    while (this.#pending.size > 0) {
      // The lowest pending unit and the run of pending units after it.
      let first = Infinity;
      for (const u of this.#pending) if (u < first) first = u;
      let end = first;
      while (end - first < MAX_RUN_UNITS && this.#pending.has(end)) end++;
      for (let u = first; u < end; u++) this.#pending.delete(u);
      const slots = [{ start: units(first), end: units(end) }];
      const done = this.#punch(slots);
      for (let u = first; u < end; u++) this.#inflight.set(u, done.then(() => undefined, () => undefined));
      try {
        await done;
        this.#failures = 0;
      } catch (error) {
        const delay = RETRY_MS[Math.min(this.#failures++, RETRY_MS.length - 1)]!;
        this.#logger.error({ err: error, slots: [first, end], retryMs: delay }, "reserve punch failed; the units stay held twice until it succeeds");
        await new Promise((resolve) => setTimeout(resolve, delay));
        // Back in the queue unless the slots were claimed meanwhile.
        for (let u = first; u < end; u++) if (!this.#claimed.has(u)) this.#pending.add(u);
      } finally {
        for (let u = first; u < end; u++) {
          this.#inflight.delete(u);
          this.#claimed.delete(u);
        }
      }
    }
  }
}
