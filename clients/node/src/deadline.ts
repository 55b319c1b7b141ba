/**
 * Deadlines as absolute Date.now() milliseconds, so that a call made of several steps (an fd
 * channel handshake, then the RPC, then the fd delivery) spends one budget, not one per step.
 */

/** setTimeout's largest delay; a larger one (or Infinity) would fire after 1 ms instead. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** The absolute deadline `deadlineMs` from now (Infinity: none). */
export function deadlineAfter(deadlineMs: number): number {
  return Date.now() + deadlineMs;
}

/** Milliseconds left until `deadline`, clamped to what a timer can wait. */
export function remainingMs(deadline: number): number {
  return Math.min(MAX_TIMER_MS, Math.max(0, deadline - Date.now()));
}
