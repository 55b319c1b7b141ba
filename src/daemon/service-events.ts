/**
 * Watch events and the numbers the daemon exports for metrics. Conventions: pool-service.ts.
 */
import type { PoolEvent, PoolEventKind } from "@gmempool/contract";

// ================================================================================== watch

/** Watch events are the API's (@gmempool/contract's pool-event.ts): the hub numbers and times a body. */
export type { PoolEvent, PoolEventBody } from "@gmempool/contract";

export interface WatchRequest {
  /** "" for every arena the caller can see. */
  readonly arenaId: string;
  /**
   * Empty for all kinds; pool-status is always sent first regardless. `undefined` stands for
   * POOL_EVENT_KIND_UNSPECIFIED and makes the request invalid-argument.
   */
  readonly kinds: readonly (PoolEventKind | undefined)[];
  readonly allOwners: boolean;
}

/**
 * One Watch stream. `watch()` validates the request and throws (invalid-argument, not-found,
 * permission-denied, exhausted for too many streams) before returning one. Iterating yields a
 * pool-status event first, then the filtered events in sequence order. The iteration:
 * - ends normally (done) when filtered on an arena that was deleted (after its arena-deleted);
 * - throws GmempoolError "exhausted" when the consumer fell more than the buffer behind (message
 *   names the last sequence delivered);
 * - throws GmempoolError "unavailable" when the daemon drains (after a pool-status "draining").
 * `close()` (or `return()` from a for-await) unsubscribes; call it when the RPC is cancelled.
 */
export interface WatchStream extends AsyncIterable<PoolEvent> {
  close(): void;
}

// ================================================================================== observability

/** The numbers the metrics endpoint exports (prom-client registration is the server's job). */
export interface DaemonMetrics {
  readonly capacityUnits: number;
  readonly freeUnits: number;
  readonly claimedUnits: number;
  readonly leasedUnits: number;
  /** Held units ear-marked for claims' reservations. */
  readonly reservedUnits: number;
  readonly splitUnits: number;
  readonly deferredBytes: bigint;
  readonly arenaCount: number;
  readonly leaseCount: number;
  /** Units whose reserve slot still holds memory (background reserve punches pending). */
  readonly reserveHeldTwiceUnits: number;
  /** Times an undo failed and left the kernel out of step with the record (plan-executor.ts). */
  readonly kernelDriftCount: number;
  /** Per arena: id, owner identity, size and populated units per file. */
  readonly arenas: readonly { readonly arenaId: string; readonly owner: string; readonly unitCount: number; readonly leasedUnitCount: number; readonly populatedUnitCount: number }[];
}

/**
 * One kernel call the daemon made: `call` in kernel spelling ("fallocate(KEEP_SIZE)",
 * "fallocate(PUNCH_HOLE)", "ioctl(KVM_SET_MEMORY_ATTRIBUTES2)", "zero", "fsync").
 */
export interface KernelCallSample {
  readonly call: string;
  readonly seconds: number;
  /** The errno name when it failed. */
  readonly errno: string | undefined;
}

export type KernelCallObserver = (sample: KernelCallSample) => void;
