/**
 * One Watch event (pool.proto WatchResponse), flattened: the header fields beside the oneof
 * member's, discriminated by `kind` (the oneof case, in PoolEventKind spelling).
 */
import type { Arena, ArenaPolicyOverride, Identity, Lease, Policy, PoolStatus } from "./resources.ts";
import type { ConversionMode, DiscardPolicy, PageVisibility, PolicySource, ReleaseReason } from "./vocabulary.ts";

export interface PoolEventHeader {
  /** Pool-wide, +1 per committed event (a filtered stream skips numbers). */
  readonly sequence: bigint;
  readonly time: Date | undefined;
}

/** The range every range event names. */
export interface RangeEvent {
  readonly arenaId: string;
  readonly offsetBytes: bigint;
  readonly lengthBytes: bigint;
}

/** The event without its header: what the daemon publishes (its hub numbers and times it). */
export type PoolEventBody =
  | { readonly kind: "pool-status"; readonly status: PoolStatus }
  | { readonly kind: "arena-created"; readonly arena: Arena }
  | { readonly kind: "arena-state-changed"; readonly arena: Arena }
  | { readonly kind: "arena-deleted"; readonly arenaId: string; readonly owner: Identity; readonly releasedLeaseCount: number; readonly releasedUnitCount: number; readonly reason: ReleaseReason }
  | { readonly kind: "lease-allocated"; readonly lease: Lease }
  | { readonly kind: "lease-released"; readonly leaseId: string; readonly arenaId: string; readonly releasedUnitCount: number; readonly reason: ReleaseReason }
  | ({ readonly kind: "range-discarded"; readonly punchedBytes: bigint; readonly releasedUnitCount: number; readonly zeroedBytes: bigint; readonly deferredBytes: bigint } & RangeEvent)
  | ({ readonly kind: "range-populated"; readonly populatedUnitCount: number } & RangeEvent)
  | ({ readonly kind: "range-converted"; readonly toVisibility: PageVisibility; readonly mode: ConversionMode } & RangeEvent)
  | { readonly kind: "policy-changed"; readonly poolPolicy: Policy; readonly arenaOverride: ArenaPolicyOverride | undefined; readonly source: PolicySource }
  | { readonly kind: "owner-exited"; readonly owner: Identity; readonly deletedArenaCount: number; readonly releasedLeaseCount: number; readonly releasedUnitCount: number }
  | { readonly kind: "deferred-cap-reached"; readonly deferredBytes: bigint; readonly deferredCapBytes: bigint; readonly overflowPolicy: DiscardPolicy };

/** One event of Watch, discriminated by `kind`. */
export type PoolEvent = PoolEventHeader & PoolEventBody;
