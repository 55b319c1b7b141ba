/**
 * Pool events for Watch (pool.proto, Pool.Watch): every event the daemon commits gets the next
 * pool-wide sequence number and goes to every stream whose caller may see it and whose filter
 * takes it.
 *
 * Visibility: an event is scoped to an owner (arena and lease events, owner-exited) or
 * pool-wide (pool-status, a pool-wide policy change, deferred-cap-reached). A stream sees the
 * pool-wide events and the events of its caller's own arenas, or every owner's with
 * `allOwners` (admin).
 *
 * Back-pressure: each stream buffers at most `bufferEvents`; a consumer that falls further
 * behind has its stream ended with "exhausted" naming the last sequence it was sent, so events
 * are never dropped silently. `pool-status` is re-published when the counts change, at most once
 * per second (`statusIntervalMs`).
 *
 * Invariants: sequence numbers increase by one per published event; a stream's queue never
 * exceeds its buffer; a closed stream is not in `#streams`.
 */
import { type Caller, type PoolEvent, type PoolEventBody, type PoolEventKind, type PoolStatus, type WatchRequest, type WatchStream } from "./pool-service.ts";
import { GmempoolError } from "../pool/errors.ts";

/** Who may see an event: an owner identity, or undefined for pool-wide events. */
export interface EventScope {
  readonly owner: string | undefined;
  readonly arenaId: string | undefined;
}

/** Streams of limits.watch_streams only the admin may open, so an operator can always watch. */
export const WATCH_STREAMS_KEPT_FOR_ADMIN = 2;

export interface EventHubOptions {
  readonly bufferEvents: number;
  /** Streams open in all (limits.watch_streams); the last WATCH_STREAMS_KEPT_FOR_ADMIN are the admin's. */
  readonly maxStreams: number;
  /** Streams one uid may hold open, over all its processes (limits.watch_streams_per_uid); the admin is not counted. */
  readonly maxStreamsPerUid: number;
  readonly statusIntervalMs: number;
  /** The current pool status (for the first message and the periodic ones). */
  readonly status: () => PoolStatus;
  readonly now?: () => Date;
}

interface Stream {
  readonly caller: Caller;
  readonly request: WatchRequest;
  readonly queue: PoolEvent[];
  /** Set when the stream must end after its queue drains: an error, or "done". */
  end: GmempoolError | "done" | undefined;
  wake: (() => void) | undefined;
  lastSent: bigint;
  closed: boolean;
}

export class EventHub {
  readonly #options: EventHubOptions;
  readonly #streams = new Set<Stream>();
  readonly #now: () => Date;
  #sequence = 0n;
  #statusTimer: NodeJS.Timeout | undefined;
  #lastStatusKey = "";
  #draining = false;

  constructor(options: EventHubOptions) {
    this.#options = options;
    this.#now = options.now ?? (() => new Date());
  }

  get lastSequence(): bigint {
    return this.#sequence;
  }

  get streamCount(): number {
    return this.#streams.size;
  }

  /** Commits an event: numbers it and queues it on every stream that may see it. */
  publish(body: PoolEventBody, scope: EventScope): PoolEvent {
    const event: PoolEvent = { sequence: ++this.#sequence, time: this.#now(), ...body };
    for (const stream of this.#streams) {
      if (stream.end !== undefined || !this.#visible(stream, body.kind, scope)) continue;
      if (stream.queue.length >= this.#options.bufferEvents) {
        stream.end = new GmempoolError("exhausted", `Watch consumer fell more than ${this.#options.bufferEvents} events behind; last event sent: sequence ${stream.lastSent}. Re-read state and watch again`);
        stream.queue.length = 0;
      } else {
        stream.queue.push(event);
        // Filtered on an arena that is now gone: the stream ends after this event (status OK).
        if (body.kind === "arena-deleted" && stream.request.arenaId === body.arenaId) stream.end = "done";
      }
      this.#wake(stream);
    }
    if (body.kind !== "pool-status") this.#scheduleStatus();
    return event;
  }

  /**
   * Whether `caller` may open one more stream: the global bound, with room kept for the admin,
   * and a bound per uid, so that no tenant's unread streams can lock the others out (issue 12).
   */
  #admit(caller: Caller): void {
    const { maxStreams, maxStreamsPerUid } = this.#options;
    const open = this.#streams.size;
    if (open >= maxStreams) throw new GmempoolError("exhausted", `${open} Watch streams open in all (limits.watch_streams = ${maxStreams}); close one or raise the limit`, { value: String(open) });
    if (caller.isAdmin) return;
    const kept = maxStreams > WATCH_STREAMS_KEPT_FOR_ADMIN ? WATCH_STREAMS_KEPT_FOR_ADMIN : 0;
    let others = 0;
    let mine = 0;
    for (const s of this.#streams) {
      if (s.caller.isAdmin) continue;
      others++;
      if (s.caller.uid === caller.uid) mine++;
    }
    if (others >= maxStreams - kept) throw new GmempoolError("exhausted", `${others} Watch streams of callers other than the admin are open: the last ${kept} of limits.watch_streams = ${maxStreams} are room kept for the admin`, { value: String(others) });
    if (mine >= maxStreamsPerUid) throw new GmempoolError("exhausted", `uid ${caller.uid} has ${mine} Watch streams open (limits.watch_streams_per_uid = ${maxStreamsPerUid}); close one first`, { value: String(caller.uid) });
  }

  /** Opens a stream; the caller has validated `request` (arena visibility, admin). */
  open(caller: Caller, request: WatchRequest): WatchStream {
    if (this.#draining) throw new GmempoolError("unavailable", "the daemon is draining; reconnect with backoff");
    this.#admit(caller);
    const stream: Stream = { caller, request, queue: [], end: undefined, wake: undefined, lastSent: this.#sequence, closed: false };
    // The first message: a snapshot, numbered with the last committed event's sequence.
    stream.queue.push({ sequence: this.#sequence, time: this.#now(), kind: "pool-status", status: this.#options.status() });
    this.#streams.add(stream);
    const close = (): void => {
      stream.closed = true;
      this.#streams.delete(stream);
      this.#wake(stream);
    };
    const next = async (): Promise<IteratorResult<PoolEvent>> => {
      for (;;) {
        if (stream.closed) return { done: true, value: undefined };
        const event = stream.queue.shift();
        if (event !== undefined) {
          stream.lastSent = event.sequence;
          return { done: false, value: event };
        }
        if (stream.end !== undefined) {
          const end = stream.end;
          close();
          if (end === "done") return { done: true, value: undefined };
          throw end;
        }
        await new Promise<void>((resolve) => (stream.wake = resolve));
      }
    };
    return {
      close,
      [Symbol.asyncIterator]: () => ({
        next,
        return: () => {
          close();
          return Promise.resolve({ done: true, value: undefined });
        },
      }),
    };
  }

  /** SIGTERM: a last pool-status (draining) to everyone, then every stream ends "unavailable". */
  drain(): void {
    this.#draining = true;
    this.#publishStatus(true);
    for (const stream of this.#streams) {
      stream.end ??= new GmempoolError("unavailable", "the daemon is draining; reconnect with backoff");
      this.#wake(stream);
    }
    if (this.#statusTimer !== undefined) clearTimeout(this.#statusTimer);
    this.#statusTimer = undefined;
  }

  close(): void {
    this.drain();
    for (const stream of [...this.#streams]) {
      stream.closed = true;
      this.#streams.delete(stream);
      this.#wake(stream);
    }
  }

  #wake(stream: Stream): void {
    const wake = stream.wake;
    stream.wake = undefined;
    wake?.();
  }

  #visible(stream: Stream, kind: PoolEventKind, scope: EventScope): boolean {
    const { request, caller } = stream;
    if (kind !== "pool-status" && request.kinds.length > 0 && !request.kinds.includes(kind)) return false;
    // Filtered on an arena: that arena's events and pool-status only.
    if (request.arenaId !== "" && kind !== "pool-status" && scope.arenaId !== request.arenaId) return false;
    if (scope.owner === undefined) return true;
    return request.allOwners || scope.owner === caller.identity;
  }

  /** pool-status again when the counts changed, at most once per interval. */
  #scheduleStatus(): void {
    if (this.#statusTimer !== undefined || this.#draining || this.#streams.size === 0) return;
    this.#statusTimer = setTimeout(() => {
      this.#statusTimer = undefined;
      this.#publishStatus(false);
    }, this.#options.statusIntervalMs);
    this.#statusTimer.unref();
  }

  #publishStatus(force: boolean): void {
    const status = this.#options.status();
    const key = `${status.servingState}/${status.freeUnitCount}/${status.claimedUnitCount}/${status.leasedUnitCount}/${status.splitUnitCount}/${status.deferredBytes}/${status.arenaCount}/${status.leaseCount}`;
    if (!force && key === this.#lastStatusKey) return;
    this.#lastStatusKey = key;
    this.publish({ kind: "pool-status", status: { ...status, lastEventSequence: this.#sequence + 1n } }, { owner: undefined, arenaId: undefined });
  }
}
