/**
 * Work that a burst brings in all at once, run a slice at a time: jobs run for at most
 * `budgetMs` of one event-loop turn, the rest in the next turns (setImmediate: timers and I/O are
 * polled in between). So a flood of one kind delays the other tenants' calls by one slice, not
 * by the whole burst (issue 12: no request blocks the loop > 10 ms). Two bursts go through one:
 *  - connections: libuv accepts every pending connection in one task, and grpc-js builds each
 *    one's HTTP/2 session (bench flood's 1,500 connections held the loop 40–50 ms);
 *  - calls: grpc-js starts every call whose HEADERS arrived in one read of a connection, and
 *    every connection's read runs in one poll phase (bench flood's 64 Watch streams of one
 *    tenant held the loop ~19 ms, a third of it the daemon's handlers).
 *
 * Jobs of a lower rank run only when no job of a higher rank waits. Within a rank, jobs are
 * queued per key (the caller's uid) and the keys take turns: a tenant that queued a thousand
 * calls delays another tenant's call by one job, not by a thousand.
 */
export class TurnQueue<K = undefined> {
  readonly #budgetMs: number;
  /** Per rank, the keys with jobs waiting, in turn order (a Map keeps insertion order). */
  readonly #ranks: Map<K, (() => void)[]>[];
  #size = 0;
  #scheduled = false;
  /** When this turn's first admitted job ran inline (cleared at the turn's end), or undefined. */
  #inlineSince: number | undefined;

  constructor(ranks: number, budgetMs = 2) {
    this.#budgetMs = budgetMs;
    this.#ranks = Array.from({ length: ranks }, () => new Map<K, (() => void)[]>());
  }

  /** Jobs waiting. */
  get size(): number {
    return this.#size;
  }

  /** Runs `job` in a later turn, after the jobs of its rank (0 first) and key queued before it. */
  push(job: () => void, rank = 0, key?: K): void {
    const keys = this.#ranks[rank];
    if (keys === undefined) throw new RangeError(`rank ${rank} is not below ${this.#ranks.length}`);
    const jobs = keys.get(key as K);
    if (jobs === undefined) keys.set(key as K, [job]);
    else jobs.push(job);
    this.#size++;
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(() => this.#turn());
    }
  }

  /**
   * Runs `job` now if nothing waits and this turn has spent less than the budget since the first
   * job admitted in it (the common case: a call arrives alone and costs no extra hop); otherwise
   * queues it at rank 0 under `key`.
   */
  admit(job: () => void, key?: K): void {
    if (this.#size === 0 && this.#inlineBudgetLeft()) job();
    else this.push(job, 0, key);
  }

  #inlineBudgetLeft(): boolean {
    const now = performance.now();
    if (this.#inlineSince === undefined) {
      this.#inlineSince = now;
      setImmediate(() => (this.#inlineSince = undefined));
      return true;
    }
    return now - this.#inlineSince < this.#budgetMs;
  }

  #turn(): void {
    const until = performance.now() + this.#budgetMs;
    let more = true;
    try {
      for (let job = this.#next(); job !== undefined; job = this.#next()) {
        job();
        if (performance.now() >= until) return;
      }
      more = false;
    } finally {
      // Also after a job threw (the error goes on to the caller of the turn): the rest still run.
      if (more) setImmediate(() => this.#turn());
      else this.#scheduled = false;
    }
  }

  /** The first waiting key's first job, of the highest rank; that key then goes to the back. */
  #next(): (() => void) | undefined {
    for (const keys of this.#ranks) {
      for (const [key, jobs] of keys) {
        const job = jobs.shift()!;
        keys.delete(key);
        if (jobs.length > 0) keys.set(key, jobs);
        this.#size--;
        return job;
      }
    }
    return undefined;
  }
}
