/**
 * A Clock for tests: time stands still until the test calls `advance(ms)`, which moves it
 * forward and runs, in order, every timer that falls due (including timers those callbacks set
 * within the advanced span). A test that checks "the token expired" advances past the TTL
 * instead of sleeping, and can check the moment just before as well.
 */
import type { Clock, ClockTimer } from "./clock.ts";

interface ManualTimer {
  readonly at: number;
  readonly sequence: number;
  readonly callback: () => void;
}

/** The epoch the manual clock starts at by default (2023-11-14T22:13:20Z), far from 0. */
const DEFAULT_START_MS = 1_700_000_000_000;

export class ManualClock implements Clock {
  #now: number;
  #sequence = 0;
  readonly #timers = new Map<ClockTimer, ManualTimer>();

  constructor(startMs = DEFAULT_START_MS) {
    this.#now = startMs;
  }

  now(): number {
    return this.#now;
  }

  setTimeout(callback: () => void, ms: number): ClockTimer {
    const timer = {} as ClockTimer;
    // Node's setTimeout: a negative or NaN delay is 1 ms.
    const delay = Number.isFinite(ms) && ms >= 1 ? ms : 1;
    this.#timers.set(timer, { at: this.#now + delay, sequence: this.#sequence++, callback });
    return timer;
  }

  clearTimeout(timer: ClockTimer): void {
    this.#timers.delete(timer);
  }

  /** Timers set and not yet fired or cleared. */
  get pendingTimers(): number {
    return this.#timers.size;
  }

  /** Moves time forward by `ms`, running the timers that fall due, earliest (then oldest) first. */
  advance(ms: number): void {
    if (!(ms >= 0)) throw new RangeError(`a clock only moves forward, got ${ms} ms`);
    const end = this.#now + ms;
    for (let next = this.#due(end); next !== undefined; next = this.#due(end)) {
      const [timer, { at, callback }] = next;
      this.#timers.delete(timer);
      this.#now = at;
      callback();
    }
    this.#now = end;
  }

  #due(end: number): [ClockTimer, ManualTimer] | undefined {
    let first: [ClockTimer, ManualTimer] | undefined;
    for (const entry of this.#timers) {
      const t = entry[1];
      if (t.at > end) continue;
      if (first === undefined || t.at < first[1].at || (t.at === first[1].at && t.sequence < first[1].sequence)) first = entry;
    }
    return first;
  }
}
