/**
 * Idempotent retries (pool.proto, "Idempotency"): a mutating request with a request id records
 * its first successful result under (caller identity, RPC, request id), in the same journal
 * record as the change itself, so that a retry after a lost reply — a deadline, a dropped
 * connection, a daemon restart — returns that result instead of acting twice.
 *
 * Kept in an lru-cache bounded by count and by age (the retention the proto promises, at least
 * 10 minutes); the journal snapshot carries the live entries across restarts. Only successes
 * are recorded. A request id reused for a different request (another RPC or other fields) is
 * invalid-argument. A retry that arrives while the first call is still running waits for it.
 */
import { LRUCache } from "lru-cache";
import { REAL_CLOCK, type Clock } from "../kvm/clock.ts";
import { type Caller } from "./pool-service.ts";
import { GmempoolError } from "../pool/errors.ts";
import { encodeTagged } from "./tagged-json.ts";

/** One recorded result, as journaled. */
export interface IdempotencyEntry {
  readonly key: string;
  /** The request's fields (tagged JSON), to catch an id reused for another request. */
  readonly fingerprint: string;
  /** The result (tagged JSON), without `replayed`. */
  readonly result: string;
  /** When it was recorded (ms since the epoch). */
  readonly at: number;
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export interface IdempotencyOptions {
  readonly maxEntries: number;
  readonly retentionMs: number;
  /** Ages the entries (default: the real clock; tests pass a ManualClock). */
  readonly clock?: Clock | undefined;
}

export class IdempotencyStore {
  readonly retentionMs: number;
  readonly #cache: LRUCache<string, IdempotencyEntry>;
  readonly #inFlight = new Map<string, Promise<unknown>>();
  readonly #clock: Clock;

  constructor(options: IdempotencyOptions) {
    this.retentionMs = options.retentionMs;
    this.#clock = options.clock ?? REAL_CLOCK;
    this.#cache = new LRUCache<string, IdempotencyEntry>({ max: options.maxEntries });
  }

  /** Throws invalid-argument for a malformed id; "" means no idempotency. */
  static validateRequestId(requestId: string): void {
    if (requestId !== "" && !REQUEST_ID.test(requestId)) {
      throw new GmempoolError("invalid-argument", `request_id ${JSON.stringify(requestId.slice(0, 140))} must be 1 to 128 bytes of [A-Za-z0-9._:-]`);
    }
  }

  static key(caller: Caller, rpc: string, requestId: string): string {
    return `${caller.identity}|${rpc}|${requestId}`;
  }

  static fingerprint(request: unknown): string {
    return encodeTagged(request);
  }

  /** The recorded entry for `key`, or undefined; invalid-argument if the request differs. */
  lookup(key: string, fingerprint: string, rpc: string, requestId: string): IdempotencyEntry | undefined {
    const entry = this.#cache.get(key);
    if (entry === undefined) return undefined;
    if (this.#clock.now() - entry.at > this.retentionMs) {
      this.#cache.delete(key);
      return undefined;
    }
    if (entry.fingerprint !== fingerprint) {
      throw new GmempoolError("invalid-argument", `request_id "${requestId}" was already used for a different ${rpc} request`);
    }
    return entry;
  }

  record(entry: IdempotencyEntry): void {
    this.#cache.set(entry.key, entry);
  }

  makeEntry(key: string, fingerprint: string, result: unknown): IdempotencyEntry {
    return { key, fingerprint, result: encodeTagged(result), at: this.#clock.now() };
  }

  /** Live entries (for the journal snapshot). */
  entries(): IdempotencyEntry[] {
    const now = this.#clock.now();
    return [...this.#cache.values()].filter((e) => now - e.at <= this.retentionMs);
  }

  /** Loads journaled entries, dropping the expired ones. */
  load(entries: readonly IdempotencyEntry[]): void {
    const now = this.#clock.now();
    for (const entry of entries) if (now - entry.at <= this.retentionMs) this.#cache.set(entry.key, entry);
  }

  /** Runs `task` as the only call in flight for `key`; a concurrent retry waits for it first. */
  async exclusive<T>(key: string, task: () => Promise<T>): Promise<T> {
    for (let running = this.#inFlight.get(key); running !== undefined; running = this.#inFlight.get(key)) {
      await running.catch(() => undefined);
    }
    const promise = task();
    this.#inFlight.set(key, promise);
    try {
      return await promise;
    } finally {
      this.#inFlight.delete(key);
    }
  }

  get size(): number {
    return this.#cache.size;
  }
}
