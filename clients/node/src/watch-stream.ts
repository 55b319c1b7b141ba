/**
 * Pool.Watch as an async iterator (pool.ts `WatchStream`) over a grpc-js server stream.
 *
 * - Events are decoded as they arrive and queued; when the consumer falls `HIGH_WATER_EVENTS`
 *   behind, the gRPC stream is paused, so HTTP/2 flow control pushes back to the daemon, which
 *   (docs/api.md "Watch") ends a stream that falls too far behind with RESOURCE_EXHAUSTED
 *   instead of dropping events. Nothing is ever dropped here either.
 * - The loop ends (done) when the daemon ends the stream with OK, or after `cancel()`, `return()`
 *   (a `break` out of for-await) or the AbortSignal. Any other end is thrown once, as the typed
 *   error (UnavailableError when the daemon drains or dies, ExhaustedError when behind,
 *   CancelledError when the client is closed), after the events queued before it.
 *
 * Invariants: `#waiters` is non-empty only while `#queue` is empty and the stream has not ended;
 * once `#end` is set no event is queued.
 */
import type { ClientReadableStream, ServiceError } from "@grpc/grpc-js";
import type { WatchResponse__Output } from "@gmempool/contract/generated/gmempool/v1/WatchResponse";
import type { WatchStream } from "./pool.ts";
import { CancelledError, isPoolError, type PoolError } from "./pool-errors.ts";
import type { PoolEvent } from "./resources.ts";
import { decodeWatchEvent } from "./wire/reply-codec.ts";

/** Events queued before the stream is paused. */
export const HIGH_WATER_EVENTS = 256;

interface Waiter {
  readonly resolve: (result: IteratorResult<PoolEvent, undefined>) => void;
  readonly reject: (error: unknown) => void;
}

export interface GrpcWatchStreamOptions {
  readonly signal?: AbortSignal | undefined;
  /** Converts the stream's error into a PoolError. */
  readonly convertError: (error: ServiceError) => PoolError;
  /** Called once the stream has ended, whichever way. */
  readonly onEnd?: () => void;
}

export class GrpcWatchStream implements WatchStream {
  readonly #call: ClientReadableStream<WatchResponse__Output>;
  readonly #options: GrpcWatchStreamOptions;
  readonly #queue: PoolEvent[] = [];
  readonly #waiters: Waiter[] = [];
  /** How the stream ended: null = done; a PoolError = to be thrown once; undefined = running. */
  #end: PoolError | null | undefined = undefined;
  #cancelled = false;
  #paused = false;
  readonly #onAbort = (): void => this.cancel();

  constructor(call: ClientReadableStream<WatchResponse__Output>, options: GrpcWatchStreamOptions) {
    this.#call = call;
    this.#options = options;
    call.on("data", (message: WatchResponse__Output) => this.#onData(message));
    call.on("error", (error: ServiceError) => this.#finish(this.#cancelled ? null : options.convertError(error)));
    call.on("end", () => this.#finish(null));
    if (options.signal?.aborted === true) this.cancel();
    else options.signal?.addEventListener("abort", this.#onAbort, { once: true });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<IteratorResult<PoolEvent, undefined>> {
    const event = this.#queue.shift();
    if (event !== undefined) {
      if (this.#paused && this.#queue.length < HIGH_WATER_EVENTS / 2) {
        this.#paused = false;
        this.#call.resume();
      }
      return Promise.resolve({ value: event, done: false });
    }
    if (this.#end !== undefined) {
      const error = this.#end;
      this.#end = null; // thrown once; then done
      return error === null ? Promise.resolve({ value: undefined, done: true }) : Promise.reject(error);
    }
    return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
  }

  /** `break` out of for-await: ends the stream. */
  return(): Promise<IteratorResult<PoolEvent, undefined>> {
    this.cancel();
    this.#queue.length = 0;
    this.#end = null;
    return Promise.resolve({ value: undefined, done: true });
  }

  cancel(): void {
    if (this.#end !== undefined || this.#cancelled) return;
    this.#cancelled = true;
    this.#call.cancel();
    this.#finish(null);
  }

  #onData(message: WatchResponse__Output): void {
    if (this.#end !== undefined) return;
    let event: PoolEvent;
    try {
      event = decodeWatchEvent(message);
    } catch (error) {
      // An event this client cannot read: end the stream with the reason rather than skip it.
      this.#cancelled = true;
      this.#call.cancel();
      this.#finish(isPoolError(error) ? error : new CancelledError(String(error), { operation: "Watch" }));
      return;
    }
    const waiter = this.#waiters.shift();
    if (waiter !== undefined) {
      waiter.resolve({ value: event, done: false });
      return;
    }
    this.#queue.push(event);
    if (!this.#paused && this.#queue.length >= HIGH_WATER_EVENTS) {
      this.#paused = true;
      this.#call.pause();
    }
  }

  #finish(end: PoolError | null): void {
    if (this.#end !== undefined) return;
    this.#end = end;
    this.#options.signal?.removeEventListener("abort", this.#onAbort);
    this.#options.onEnd?.();
    // Waiters exist only while the queue is empty: the end goes to the first, done to the rest.
    for (const waiter of this.#waiters.splice(0)) {
      const error = this.#end;
      this.#end = null;
      if (error === null) waiter.resolve({ value: undefined, done: true });
      else waiter.reject(error);
    }
  }
}
