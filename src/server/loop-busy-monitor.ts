/**
 * How long the daemon's own work held its event loop (issue 12: "no request blocks the loop
 * > 10 ms"). The loop-delay metrics (perf_hooks.monitorEventLoopDelay) read how late a timer
 * fired, and that includes the time the thread waited for a CPU: on a 2-core host a flooding
 * tenant's processes, or the hypervisor's steal, make an idle daemon's loop look late. This
 * monitor runs a timer at the same resolution and reads, besides how late each tick is, how much
 * CPU the daemon's thread used meanwhile (threadCpuTimeMs). The stretch it reports is the
 * smaller of the two: the part of the delay in which the daemon was running, not waiting.
 *
 * It is an upper bound on the longest task: a tick that is late by D after an interval in which
 * the thread ran C ms reports min(D, C), and C also counts up to one resolution period of work
 * before the tick was due, and every task of one loop turn together (libuv runs all ready I/O
 * callbacks of a turn before its timers).
 */
import { threadCpuTimeMs } from "@gmempool/sys";

export interface LoopBusyObserver {
  (busyMs: number): void;
}

export class LoopBusyMonitor {
  readonly #timer: NodeJS.Timeout;
  #lastWallMs = performance.now();
  #lastCpuMs = threadCpuTimeMs();

  constructor(resolutionMs: number, observe: LoopBusyObserver) {
    this.#timer = setInterval(() => {
      const wall = performance.now();
      const cpu = threadCpuTimeMs();
      const lateMs = Math.max(0, wall - this.#lastWallMs - resolutionMs);
      observe(Math.min(lateMs, cpu - this.#lastCpuMs));
      this.#lastWallMs = wall;
      this.#lastCpuMs = cpu;
    }, resolutionMs);
    // A monitor never keeps the daemon (or a test) alive.
    this.#timer.unref();
  }

  close(): void {
    clearInterval(this.#timer);
  }
}
