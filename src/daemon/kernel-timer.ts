/**
 * Times the daemon's kernel calls for the metrics endpoint (DESIGN.md §8 "kernel call
 * latencies"): every call the daemon makes through the port that can be slow goes through
 * `time`, and registered observers get one sample per call. Observers must be quick and must
 * not throw (a throwing observer is dropped, never allowed to fail a kernel step).
 */
import { KernelError } from "@gmempool/sys";
import type { KernelCallObserver, KernelCallSample } from "./pool-service.ts";

export class KernelTimer {
  readonly #observers = new Set<KernelCallObserver>();

  observe(observer: KernelCallObserver): () => void {
    this.#observers.add(observer);
    return () => {
      this.#observers.delete(observer);
    };
  }

  async time<T>(call: string, run: () => Promise<T> | T): Promise<T> {
    const start = performance.now();
    try {
      const result = await run();
      this.#emit({ call, seconds: (performance.now() - start) / 1000, errno: undefined });
      return result;
    } catch (error) {
      this.#emit({ call, seconds: (performance.now() - start) / 1000, errno: error instanceof KernelError ? error.errno : "unknown" });
      throw error;
    }
  }

  timeSync<T>(call: string, run: () => T): T {
    const start = performance.now();
    try {
      const result = run();
      this.#emit({ call, seconds: (performance.now() - start) / 1000, errno: undefined });
      return result;
    } catch (error) {
      this.#emit({ call, seconds: (performance.now() - start) / 1000, errno: error instanceof KernelError ? error.errno : "unknown" });
      throw error;
    }
  }

  #emit(sample: KernelCallSample): void {
    for (const observer of this.#observers) {
      try {
        observer(sample);
      } catch {
        this.#observers.delete(observer);
      }
    }
  }
}
