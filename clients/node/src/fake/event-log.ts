/**
 * The fake's Watch: every event the fake commits gets the next pool-wide sequence number, is kept
 * in `published` (for tests that read events without a stream), and is queued on every open
 * stream whose viewer may see it and whose filter takes it — the daemon's event-hub rules:
 *
 * - visibility: an event belongs to an owner (arena and lease events, owner-exited) or to the
 *   pool (pool-status, a pool-wide policy change, deferred-cap-reached); a stream sees the
 *   pool's events and its viewer's own, or every owner's with `allOwners`;
 * - a stream starts with a pool-status snapshot numbered with the last committed sequence;
 * - a stream filtered on an arena ends (done) after that arena's arena-deleted event.
 *
 * Unlike the daemon, the fake re-sends pool-status only when a test asks
 * (`FakePoolClient.publishPoolStatus`), not on a 1 s timer, so that tests stay deterministic.
 * Streams never fall behind (unbounded queues).
 *
 * Invariant: sequence numbers of `published` increase by one.
 */
import type { PoolError } from "../pool-errors.ts";
import type { WatchStream } from "../pool.ts";
import type { PoolEvent, PoolEventKind, PoolStatus } from "../resources.ts";

type WithoutHeader<E> = E extends unknown ? Omit<E, "sequence" | "time"> : never;
/** An event before it is numbered. */
export type PoolEventBody = WithoutHeader<PoolEvent>;

/** Who may see an event: the owner key of its arena, or undefined for pool-wide events. */
export interface EventScope {
  readonly ownerKey: string | undefined;
  readonly arenaId: string | undefined;
}

/** Who reads a stream and what it asked for (validated by the caller). */
export interface StreamFilter {
  readonly viewerKey: string;
  readonly arenaId: string | undefined;
  readonly kinds: readonly PoolEventKind[];
  readonly allOwners: boolean;
}

export class EventLog {
  readonly #published: PoolEvent[] = [];
  readonly #streams = new Set<FakeWatchStream>();
  #sequence = 0n;

  get lastSequence(): bigint {
    return this.#sequence;
  }

  /** Every event committed since the fake started (or since the last simulated restart). */
  get published(): readonly PoolEvent[] {
    return this.#published;
  }

  publish(body: PoolEventBody, scope: EventScope): PoolEvent {
    this.#sequence++;
    const event = { ...body, sequence: this.#sequence, time: new Date() } as PoolEvent;
    this.#published.push(event);
    for (const stream of this.#streams) stream.offer(event, scope);
    return event;
  }

  /** Opens a stream that starts with `status`. */
  open(filter: StreamFilter, status: PoolStatus): FakeWatchStream {
    const stream = new FakeWatchStream(filter, () => this.#streams.delete(stream));
    stream.push({ kind: "pool-status", status, sequence: this.#sequence, time: new Date() });
    this.#streams.add(stream);
    return stream;
  }

  /** A stream that fails on its first read (the call was refused). */
  static failed(error: PoolError): FakeWatchStream {
    const stream = new FakeWatchStream({ viewerKey: "", arenaId: undefined, kinds: [], allOwners: false }, () => undefined);
    stream.end(error);
    return stream;
  }

  /** A stream that yields nothing until it is cancelled (a stalled Watch). */
  static silent(): FakeWatchStream {
    return new FakeWatchStream({ viewerKey: "", arenaId: undefined, kinds: [], allOwners: false }, () => undefined);
  }

  /** Ends every open stream with `error` (the daemon restarts or drains). */
  endAll(error: PoolError): void {
    for (const stream of [...this.#streams]) stream.end(error);
    this.#streams.clear();
  }

  /** Starts numbering again (a restarted daemon's event hub starts from zero). */
  reset(): void {
    this.#sequence = 0n;
    this.#published.length = 0;
  }
}

/** One Watch stream of the fake (pool.ts `WatchStream`). */
export class FakeWatchStream implements WatchStream {
  readonly #filter: StreamFilter;
  readonly #detach: () => void;
  readonly #queue: PoolEvent[] = [];
  /** Set when the stream must end once its queue is read: an error, or "done". */
  #end: PoolError | "done" | undefined;
  #closed = false;
  #wake: (() => void) | undefined;

  constructor(filter: StreamFilter, detach: () => void) {
    this.#filter = filter;
    this.#detach = detach;
  }

  offer(event: PoolEvent, scope: EventScope): void {
    if (this.#end !== undefined || !this.#visible(event.kind, scope)) return;
    this.push(event);
    if (event.kind === "arena-deleted" && this.#filter.arenaId === event.arenaId) {
      this.#end = "done";
      this.#detach();
    }
  }

  push(event: PoolEvent): void {
    this.#queue.push(event);
    this.#wakeUp();
  }

  end(error: PoolError): void {
    this.#end ??= error;
    this.#detach();
    this.#wakeUp();
  }

  cancel(): void {
    this.#closed = true;
    this.#queue.length = 0;
    this.#detach();
    this.#wakeUp();
  }

  async next(): Promise<IteratorResult<PoolEvent, undefined>> {
    for (;;) {
      if (this.#closed) return { done: true, value: undefined };
      const event = this.#queue.shift();
      if (event !== undefined) return { done: false, value: event };
      const end = this.#end;
      if (end !== undefined) {
        this.#closed = true;
        if (end === "done") return { done: true, value: undefined };
        throw end;
      }
      await new Promise<void>((resolve) => (this.#wake = resolve));
    }
  }

  return(): Promise<IteratorResult<PoolEvent, undefined>> {
    this.cancel();
    return Promise.resolve({ done: true, value: undefined });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  #wakeUp(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  #visible(kind: PoolEventKind, scope: EventScope): boolean {
    const filter = this.#filter;
    if (kind !== "pool-status" && filter.kinds.length > 0 && !filter.kinds.includes(kind)) return false;
    if (filter.arenaId !== undefined && kind !== "pool-status" && scope.arenaId !== filter.arenaId) return false;
    if (scope.ownerKey === undefined) return true;
    return filter.allOwners || scope.ownerKey === filter.viewerKey;
  }
}
