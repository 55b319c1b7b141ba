/**
 * Work that a burst brings in all at once — 500 connections accepted in one libuv read of the
 * listening socket, each to be handed to grpc-js — run a slice at a time: jobs run for at most
 * `budgetMs` of one event-loop turn, the rest in the next turns (setImmediate: timers and I/O are
 * polled in between). So a flood of one kind delays the other tenants' calls by one slice, not
 * by the whole burst (issue 12: no request blocks the loop > 10 ms; bench flood's 1,500-connection
 * step held the loop 40–50 ms in one accept task). Jobs of a lower rank run only when no job of a
 * higher rank waits.
 */
export class TurnQueue {
  readonly #budgetMs: number;
  readonly #ranks: (() => void)[][];
  #scheduled = false;

  constructor(ranks: number, budgetMs = 2) {
    this.#budgetMs = budgetMs;
    this.#ranks = Array.from({ length: ranks }, () => []);
  }

  /** Jobs waiting. */
  get size(): number {
    return this.#ranks.reduce((n, jobs) => n + jobs.length, 0);
  }

  /** Runs `job` in a later turn, after the jobs of its rank (0 first) queued before it. */
  push(job: () => void, rank = 0): void {
    const jobs = this.#ranks[rank];
    if (jobs === undefined) throw new RangeError(`rank ${rank} is not below ${this.#ranks.length}`);
    jobs.push(job);
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(() => this.#turn());
    }
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

  #next(): (() => void) | undefined {
    for (const jobs of this.#ranks) if (jobs.length > 0) return jobs.shift();
    return undefined;
  }
}
