/**
 * Milliseconds since this process started, on the daemon's start-up log lines ("starting
 * gmempool", "listening", "journal recovered", "pool serving", "serving"): where start-up goes —
 * module loading, journal replay, recovery, listeners — read off one run's log
 * (`npm run bench -- restart` prints it). performance.now() counts from the process's time
 * origin, before any module is loaded.
 */
export function processUptimeMs(): number {
  return Math.round(performance.now());
}
