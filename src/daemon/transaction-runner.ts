/**
 * The one path every mutation takes (DESIGN.md §5: claim -> kernel -> commit / abort), modelled
 * on containerd's `update(ctx, db, fn)`:
 *
 *   1. claim   — synchronous: check against the current books and claim what the kernel phase
 *                will touch (pool plans, file claims). A throw here changed nothing.
 *   2. kernel  — the awaited work, off the event loop; no lock is held (the claims are the lock).
 *   3. commit  — synchronous: apply what the kernel did to the books (or `abort` the claim when
 *                the kernel phase threw); in the SAME tick, journal the record of the change with
 *                the request id's entry (only for a success: a failure changed nothing to replay).
 *   4. durable — await the record's fsync (group commit); then the failure is thrown, or the
 *                Watch event published and the result returned.
 *
 * The whole transaction — claim to publish, including a failed Allocate's undo — is tracked
 * under its arena, so that a deletion waits for whole transactions (never sees a lease that
 * was never acknowledged) and shutdown waits for every one (`idle`).
 */
import type { Logger } from "pino";
import type { GmempoolError } from "../pool/errors.ts";
import type { EventHub, EventScope } from "./event-hub.ts";
import type { IdempotencyEntry } from "./idempotency.ts";
import type { Changes, JournalWriter } from "./journal-writer.ts";
import { phaseTimer } from "./phase-timer.ts";
import type { PoolEventBody } from "./pool-service.ts";

/** The idempotency slot of one call: turns its result into the entry journaled with it. */
export interface IdemSlot {
  entry(result: object): IdempotencyEntry | undefined;
}

export const NO_IDEM: IdemSlot = { entry: () => undefined };

/** What a commit did, for the journal and the caller. */
export interface Committed<R> {
  /** What the change touched: their state now goes into the journal record. */
  readonly changes: Changes;
  /** A success: the result (journaled with the request id) and its Watch event. */
  readonly result?: R;
  readonly event?: PoolEventBody;
  /** A kernel step failed: thrown (after the record is durable) instead of a result. */
  readonly failure?: GmempoolError;
}

export interface Transaction<C, K, R extends object> {
  /** The arena the transaction works in ("" for pool-wide changes such as policy). */
  readonly arenaId: string;
  /** Whom the Watch event is for. */
  readonly scope: EventScope;
  claim(): C;
  kernel(claimed: C): Promise<K>;
  commit(claimed: C, outcome: K): Committed<R>;
  /** The kernel phase threw: give the claim back (the kernel phase undid its own effects). */
  abort?(claimed: C, error: unknown): void;
  /** After commit or abort: drop what the claim held only while in flight. */
  finish?(claimed: C): void;
  /**
   * A step failed and the failed commit is durable: follow-up work that belongs to the same
   * transaction (a failed Allocate gives back what it populated); returns the error to throw.
   */
  afterFailure?(failure: GmempoolError): Promise<GmempoolError>;
}

export interface TransactionRunnerParts {
  readonly journal: JournalWriter;
  readonly events: EventHub;
  readonly logger: Logger;
}

export class TransactionRunner {
  readonly #parts: TransactionRunnerParts;
  /** Transactions in flight, by arena ("" for pool-wide ones). */
  readonly #inflight = new Map<string, Set<Promise<unknown>>>();

  constructor(parts: TransactionRunnerParts) {
    this.#parts = parts;
  }

  run<C, K, R extends object>(tx: Transaction<C, K, R>, idem: IdemSlot): Promise<R> {
    return this.track(tx.arenaId, () => this.#run(tx, idem));
  }

  async #run<C, K, R extends object>(tx: Transaction<C, K, R>, idem: IdemSlot): Promise<R> {
    // Debug only (phase-timer.ts): undefined unless GMEMPOOL_PHASE_TIMES is set.
    const timer = phaseTimer;
    const rpc = timer?.rpc ?? "";
    let t = timer?.now() ?? 0;
    const phase = timer === undefined ? undefined : (name: string): void => {
      timer.record(rpc, name, t);
      t = timer.now();
    };
    const claimed = tx.claim();
    phase?.("claim");
    let committed: Committed<R>;
    let durable: Promise<void>;
    try {
      let outcome: K;
      try {
        outcome = await tx.kernel(claimed);
      } catch (error) {
        tx.abort?.(claimed, error);
        throw error;
      }
      phase?.("kernel");
      committed = tx.commit(claimed, outcome);
      const entry = committed.failure === undefined && committed.result !== undefined ? idem.entry(committed.result) : undefined;
      phase?.("commit");
      durable = this.#parts.journal.persist(committed.changes, entry);
      phase?.("journal-append");
    } finally {
      tx.finish?.(claimed);
    }
    await durable;
    phase?.("journal-durable");
    if (committed.failure !== undefined) throw (await tx.afterFailure?.(committed.failure)) ?? committed.failure;
    if (committed.event !== undefined) this.#parts.events.publish(committed.event, tx.scope);
    phase?.("publish");
    return committed.result as R;
  }

  /**
   * Keeps `work` in the arena's in-flight set until it settles. For work that is one
   * transaction but not of the claim/kernel/commit shape (a composite such as a deletion's
   * final step), and by `run` itself.
   */
  async track<T>(arenaId: string, work: () => Promise<T>): Promise<T> {
    let set = this.#inflight.get(arenaId);
    if (set === undefined) {
      set = new Set();
      this.#inflight.set(arenaId, set);
    }
    const promise = work();
    set.add(promise);
    try {
      return await promise;
    } finally {
      set.delete(promise);
      if (set.size === 0) this.#inflight.delete(arenaId);
    }
  }

  /** Resolves when no transaction of the arena is in flight (new ones started meanwhile too). */
  async settled(arenaId: string): Promise<void> {
    for (let set = this.#inflight.get(arenaId); set !== undefined && set.size > 0; set = this.#inflight.get(arenaId)) {
      await Promise.allSettled([...set]);
    }
  }

  /** Resolves when no transaction at all is in flight. */
  async idle(): Promise<void> {
    while (this.#inflight.size > 0) await Promise.allSettled([...this.#inflight.values()].flatMap((set) => [...set]));
  }

  /** Transactions in flight (diagnostics and tests). */
  get inflightCount(): number {
    let n = 0;
    for (const set of this.#inflight.values()) n += set.size;
    return n;
  }
}
