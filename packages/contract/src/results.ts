/**
 * The results of the mutating RPCs that are not a resource (pool.proto and admin.proto
 * `...Response`), in resources.ts's spelling. The daemon's service adds `replayed` (whether the
 * result came from the idempotency record); on the wire that is the `gmempool-replayed` metadata.
 */
import type { ArenaPolicyOverride, Policy, UnitSpan } from "./resources.ts";
import type { DiscardPolicy } from "./vocabulary.ts";

export interface DeleteArenaResult {
  readonly releasedLeaseCount: number;
  readonly releasedUnitCount: number;
}

export interface ReleaseResult {
  readonly releasedUnitCount: number;
}

/**
 * As DiscardResponse in pool.proto: the range's punched share + zeroed + deferred +
 * already-discarded bytes = the range's length. `punchedBytes` is what the kernel freed (whole
 * granules, per file), at least the range's punched share: it can include pages outside the range.
 */
export interface DiscardResult {
  readonly punchedBytes: bigint;
  readonly releasedUnitCount: number;
  readonly zeroedBytes: bigint;
  readonly deferredBytes: bigint;
  /** The policy that governed the sub-granule part; undefined if the range was whole granules (UNSPECIFIED). */
  readonly appliedPolicy: DiscardPolicy | undefined;
}

export interface PopulateResult {
  readonly populatedUnitCount: number;
  readonly restoredBytes: bigint;
}

export interface ConvertResult {
  readonly convertedBytes: bigint;
  readonly populatedUnitCount: number;
  readonly stalePunchedBytes: bigint;
  readonly staleReleasedUnitCount: number;
  readonly collapsibleUnits: readonly UnitSpan[];
}

export interface SetPolicyResult {
  readonly poolPolicy: Policy;
  /** Set for an arena change. */
  readonly arenaOverride: ArenaPolicyOverride | undefined;
}

export interface ForceReleaseResult {
  readonly releasedLeaseCount: number;
  readonly deletedArenaCount: number;
  readonly releasedUnitCount: number;
}
