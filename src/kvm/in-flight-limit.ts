/**
 * A FIFO gate that lets at most `max` tasks run at once; the rest wait their turn.
 *
 * The real port puts every slow kernel call (fallocate, MADV_POPULATE_WRITE) through one of these:
 * koffi refuses more than `max_async_calls` (256) queued async calls with an exception, and the
 * calls run on libuv's threadpool (4 threads unless UV_THREADPOOL_SIZE says otherwise), which the
 * daemon's file I/O shares. Waiting here, in JS, costs nothing and keeps both bounded.
 *
 * Invariants: 0 <= running <= max; waiters is non-empty only while running === max.
 */
export class InFlightLimit {
  readonly max: number;
  #running = 0;
  readonly #waiters: (() => void)[] = [];

  constructor(max: number) {
    if (!Number.isInteger(max) || max < 1) throw new RangeError(`in-flight limit must be a positive integer, got ${max}`);
    this.max = max;
  }

  /** Tasks running now. */
  get running(): number {
    return this.#running;
  }

  /** Tasks waiting for a slot. */
  get waiting(): number {
    return this.#waiters.length;
  }

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.#running >= this.max) await new Promise<void>((resolve) => this.#waiters.push(resolve));
    else this.#running++;
    try {
      return await task();
    } finally {
      // Hand the slot straight to the next waiter, so that `running` never dips and a newcomer
      // cannot overtake the queue.
      const next = this.#waiters.shift();
      if (next === undefined) this.#running--;
      else next();
    }
  }

  assertInvariants(): void {
    if (this.#running < 0 || this.#running > this.max) throw new Error(`InFlightLimit: running ${this.#running} outside 0..${this.max}`);
    if (this.#waiters.length > 0 && this.#running !== this.max) throw new Error(`InFlightLimit: ${this.#waiters.length} waiting while only ${this.#running}/${this.max} run`);
  }
}
