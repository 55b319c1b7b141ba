/**
 * The daemon's clock: wall time and one-shot timers, as one port so that tests drive time with
 * a `ManualClock` (manual-clock.ts) instead of sleeping until a timer fires (STYLE.md: no real
 * sleeps for ordering). It lives in src/kvm, the lowest layer with access to the host's timers,
 * so that src/daemon and src/server share one definition.
 *
 * Timers never keep the process alive (the real clock unrefs them): every timer the daemon sets
 * is housekeeping (a token's TTL, a retry) that shutdown makes moot.
 */

declare const clockTimerBrand: unique symbol;

/** A timer set by `Clock.setTimeout`, for `Clock.clearTimeout`; opaque. */
export interface ClockTimer {
  readonly [clockTimerBrand]: true;
}

export interface Clock {
  /** Milliseconds since the epoch (as Date.now()). */
  now(): number;
  /** Runs `callback` once, `ms` milliseconds from now. */
  setTimeout(callback: () => void, ms: number): ClockTimer;
  /** Cancels a timer of this clock; a timer that fired or was cleared already is ignored. */
  clearTimeout(timer: ClockTimer): void;
}

/** Date.now() and Node's timers, unref'd. */
export const REAL_CLOCK: Clock = {
  now: () => Date.now(),
  setTimeout: (callback, ms) => globalThis.setTimeout(callback, ms).unref() as unknown as ClockTimer,
  clearTimeout: (timer) => {
    globalThis.clearTimeout(timer as unknown as NodeJS.Timeout);
  },
};
