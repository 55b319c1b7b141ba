/**
 * Watches the processes that own arenas (DESIGN.md §6 "Identity"): one pidfd per owner
 * (through the kernel port's process-exit watch). When one exits, `onExit` runs once for it and
 * the manager releases its leases and deletes its arenas, so its units go back within a second
 * (in practice within one event-loop turn of the pidfd becoming readable).
 *
 * An owner already gone when tracked (pidfd_open: ESRCH, e.g. it exited while the daemon was
 * down) is reported the same way, asynchronously.
 *
 * Ownership: the tracker owns its watches; `untrack` and `close` close them.
 */
import type { Logger } from "pino";
import { isKernelError } from "@gmempool/sys";
import type { Fd } from "@gmempool/sys";
import type { KernelPort, ProcessExitWatch } from "../kvm/kernel-port.ts";

export class PeerTracker {
  readonly #kernel: KernelPort;
  readonly #logger: Logger;
  readonly #onExit: (owner: string) => void;
  readonly #watches = new Map<string, ProcessExitWatch | "gone">();

  constructor(kernel: KernelPort, logger: Logger, onExit: (owner: string) => void) {
    this.#kernel = kernel;
    this.#logger = logger;
    this.#onExit = onExit;
  }

  /** Starts watching `pid` as `owner` (idempotent). */
  track(owner: string, pid: number): void {
    if (this.#watches.has(owner)) return;
    let watch: ProcessExitWatch;
    try {
      watch = this.#kernel.watchProcessExit(pid);
    } catch (error) {
      if (!isKernelError(error, "ESRCH")) throw error;
      this.#watches.set(owner, "gone");
      setImmediate(() => this.#exited(owner));
      return;
    }
    this.#watches.set(owner, watch);
    void watch.exited.then(() => this.#exited(owner));
  }

  /**
   * Starts watching `owner` through `pidfd` (a pidfd of `pid`, taken: the watch owns it, or it
   * is closed here when `owner` is already watched). Unlike `track`, no pid is looked up again:
   * the pidfd names the process the caller checked, even if it exits and its pid is reused.
   */
  trackPidfd(owner: string, pidfd: Fd, pid: number): void {
    if (this.#watches.has(owner)) {
      this.#kernel.close(pidfd);
      return;
    }
    const watch = this.#kernel.watchPidfd(pidfd, pid);
    this.#watches.set(owner, watch);
    void watch.exited.then(() => this.#exited(owner));
  }

  isTracked(owner: string): boolean {
    return this.#watches.has(owner);
  }

  untrack(owner: string): void {
    const watch = this.#watches.get(owner);
    this.#watches.delete(owner);
    if (watch !== undefined && watch !== "gone") watch.close();
  }

  close(): void {
    for (const owner of [...this.#watches.keys()]) this.untrack(owner);
  }

  #exited(owner: string): void {
    const watch = this.#watches.get(owner);
    if (watch === undefined) return;
    this.#watches.delete(owner);
    if (watch !== "gone") watch.close();
    this.#logger.info({ owner }, "owner process exited");
    this.#onExit(owner);
  }
}
