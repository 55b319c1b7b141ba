/**
 * Fault injection for VMM tests: the next call(s) of a method fail with a given error, or stall
 * until their deadline or cancellation, without changing anything (as a failed daemon call
 * changes nothing). Faults are queued per method and used in order, one per call.
 */
import type { PoolError } from "../pool-errors.ts";
import type { Pool } from "../pool.ts";

/** The Pool methods a fault can be injected into. */
export type FaultableMethod = Exclude<keyof Pool, "close">;

export type Fault =
  /** The call rejects with `error` (made fresh per call when given as a function). */
  | { readonly kind: "fail"; readonly error: PoolError | (() => PoolError) }
  /** The call never answers: it rejects with DeadlineExceededError at its deadline, or
   * CancelledError when its signal aborts or the client closes. */
  | { readonly kind: "stall" };

export class FaultPlan {
  readonly #queues = new Map<FaultableMethod, Fault[]>();

  add(method: FaultableMethod, fault: Fault, times: number): void {
    if (!Number.isInteger(times) || times < 1) throw new RangeError(`times must be a positive integer, got ${times}`);
    const queue = this.#queues.get(method) ?? [];
    for (let i = 0; i < times; i++) queue.push(fault);
    this.#queues.set(method, queue);
  }

  /** The fault for this call of `method`, consumed; undefined when none is queued. */
  take(method: FaultableMethod): Fault | undefined {
    const queue = this.#queues.get(method);
    const fault = queue?.shift();
    if (queue?.length === 0) this.#queues.delete(method);
    return fault;
  }

  /** Faults still queued, by method (a test can assert they were all used). */
  pending(): Partial<Record<FaultableMethod, number>> {
    return Object.fromEntries([...this.#queues].map(([method, queue]) => [method, queue.length]));
  }

  clear(): void {
    this.#queues.clear();
  }
}
