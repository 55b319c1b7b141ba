/** Spins for `ms` of wall-clock time on the calling thread: a task that costs CPU and holds the loop. */
export function busyFor(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // spin
  }
}
