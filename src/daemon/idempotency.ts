/**
 * Idempotent retries (pool.proto, "Idempotency"): a mutating request with a request id records
 * its first successful result under (caller identity, request id), in the same journal
 * record as the change itself, so that a retry after a lost reply — a deadline, a dropped
 * connection, a daemon restart — returns that result instead of acting twice.
 *
 * Kept per identity (an lru-cache each, bounded per identity and in all, so that one tenant's
 * churn never evicts another's: issue 12) and by age (the retention the proto promises, at
 * least 10 minutes); the journal snapshot carries the live entries across restarts, without
 * those of processes that are gone (no retry can come from them). Only successes are recorded.
 * A request id reused for a different request (another RPC or other fields) is
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
  /** Most entries kept in all (limits.request_id_entries). */
  readonly maxEntries: number;
  /** Most entries kept for one identity (limits.request_id_entries_per_identity). */
  readonly maxEntriesPerIdentity: number;
  readonly retentionMs: number;
  /** Ages the entries (default: the real clock; tests pass a ManualClock). */
  readonly clock?: Clock | undefined;
  /** Whether the process of an identity still runs (default: always); a gone one's entries are dropped. */
  readonly isLive?: ((identity: string) => boolean) | undefined;
}

/** "uid:pid:start|request id": the identity is everything before the last "|" (ids have none). */
function identityOfKey(key: string): string {
  return key.slice(0, key.lastIndexOf("|"));
}

/** A key journaled by an older daemon, "identity|RPC|id", in today's form "identity|id". */
function currentKey(key: string): string {
  const parts = key.split("|");
  return parts.length === 3 ? `${parts[0]!}|${parts[2]!}` : key;
}

/** The RPC an entry's request was (the fingerprint is the tagged JSON of { rpc, ...fields }). */
function rpcOf(fingerprint: string): string | undefined {
  return /"rpc":"([A-Za-z]+)"/.exec(fingerprint)?.[1];
}

/**
 * Entries per identity, each in its own LRU (so one identity's churn evicts only its own), and
 * a global bound that evicts from the identity holding the most: no identity can push out
 * another's entries while it holds fewer than the largest.
 */
export class IdempotencyStore {
  readonly retentionMs: number;
  readonly #byIdentity = new Map<string, LRUCache<string, IdempotencyEntry>>();
  readonly #inFlight = new Map<string, Promise<unknown>>();
  readonly #clock: Clock;
  readonly #maxEntries: number;
  readonly #maxPerIdentity: number;
  readonly #isLive: (identity: string) => boolean;
  #size = 0;

  constructor(options: IdempotencyOptions) {
    this.retentionMs = options.retentionMs;
    this.#clock = options.clock ?? REAL_CLOCK;
    this.#maxEntries = options.maxEntries;
    this.#maxPerIdentity = Math.min(options.maxEntriesPerIdentity, options.maxEntries);
    this.#isLive = options.isLive ?? (() => true);
  }

  /** Throws invalid-argument for a malformed id; "" means no idempotency. */
  static validateRequestId(requestId: string): void {
    if (requestId !== "" && !REQUEST_ID.test(requestId)) {
      throw new GmempoolError("invalid-argument", `request_id ${JSON.stringify(requestId.slice(0, 140))} must be 1 to 128 bytes of [A-Za-z0-9._:-]`);
    }
  }

  /** One key per (identity, request id): the same id on another RPC is the same key, refused by its fingerprint. */
  static key(caller: Caller, requestId: string): string {
    return `${caller.identity}|${requestId}`;
  }

  static fingerprint(request: unknown): string {
    return encodeTagged(request);
  }

  /** The recorded entry for `key`, or undefined; invalid-argument if the request differs. */
  lookup(key: string, fingerprint: string, rpc: string, requestId: string): IdempotencyEntry | undefined {
    const cache = this.#byIdentity.get(identityOfKey(key));
    const entry = cache?.get(key);
    if (cache === undefined || entry === undefined) return undefined;
    if (this.#clock.now() - entry.at > this.retentionMs) {
      this.#delete(identityOfKey(key), key);
      return undefined;
    }
    if (entry.fingerprint !== fingerprint) {
      const first = rpcOf(entry.fingerprint);
      if (first !== undefined && first !== rpc) throw new GmempoolError("invalid-argument", `request_id "${requestId}" was already used for ${first}; this is ${rpc}: a new request needs a new request id`, { field: "request_id", value: requestId });
      throw new GmempoolError("invalid-argument", `request_id "${requestId}" was already used for a different ${rpc} request`, { field: "request_id", value: requestId });
    }
    return entry;
  }

  record(entry: IdempotencyEntry): void {
    const identity = identityOfKey(entry.key);
    let cache = this.#byIdentity.get(identity);
    if (cache === undefined) {
      cache = new LRUCache<string, IdempotencyEntry>({
        max: this.#maxPerIdentity,
        // Evictions by the per-identity bound keep the global count true.
        dispose: (_value, _key, reason) => {
          if (reason === "evict" || reason === "delete") this.#size--;
        },
      });
      this.#byIdentity.set(identity, cache);
    }
    if (cache.has(entry.key)) cache.delete(entry.key);
    cache.set(entry.key, entry);
    this.#size++;
    while (this.#size > this.#maxEntries) this.#evictFromLargest();
  }

  makeEntry(key: string, fingerprint: string, result: unknown): IdempotencyEntry {
    return { key, fingerprint, result: encodeTagged(result), at: this.#clock.now() };
  }

  /** Live entries (for the journal snapshot): unexpired, of identities whose process still runs. */
  entries(): IdempotencyEntry[] {
    const now = this.#clock.now();
    const live: IdempotencyEntry[] = [];
    for (const [identity, cache] of [...this.#byIdentity]) {
      if (!this.#isLive(identity)) {
        this.forgetIdentity(identity);
        continue;
      }
      for (const entry of [...cache.values()]) {
        if (now - entry.at <= this.retentionMs) live.push(entry);
        else this.#delete(identity, entry.key);
      }
    }
    return live;
  }

  /** The process of `identity` is gone: no retry can come from it any more. */
  forgetIdentity(identity: string): void {
    const cache = this.#byIdentity.get(identity);
    if (cache === undefined) return;
    this.#byIdentity.delete(identity);
    cache.clear();
  }

  /** Loads journaled entries, dropping the expired ones and those of processes that are gone. */
  load(entries: readonly IdempotencyEntry[]): void {
    const now = this.#clock.now();
    for (const journaled of entries) {
      const entry = { ...journaled, key: currentKey(journaled.key) };
      if (now - entry.at <= this.retentionMs && this.#isLive(identityOfKey(entry.key))) this.record(entry);
    }
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
    return this.#size;
  }

  /** Entries kept for one identity. */
  sizeOf(identity: string): number {
    return this.#byIdentity.get(identity)?.size ?? 0;
  }

  #delete(identity: string, key: string): void {
    const cache = this.#byIdentity.get(identity);
    if (cache === undefined) return;
    cache.delete(key);
    if (cache.size === 0) this.#byIdentity.delete(identity);
  }

  #evictFromLargest(): void {
    let largest: [string, LRUCache<string, IdempotencyEntry>] | undefined;
    for (const pair of this.#byIdentity) if (largest === undefined || pair[1].size > largest[1].size) largest = pair;
    if (largest === undefined) return;
    const oldest = [...largest[1].rkeys()][0];
    if (oldest !== undefined) this.#delete(largest[0], oldest);
  }
}
