/**
 * The results of the mutating RPCs (results.ts) from their response messages, for the client
 * library. The daemon's server builds these responses from its service's results field by field
 * (src/server/grpc/*-handlers.ts) with enum-tables.ts and scalars.ts.
 */
import type { ConvertResponse__Output } from "../generated/gmempool/v1/ConvertResponse.ts";
import type { DeleteArenaResponse__Output } from "../generated/gmempool/v1/DeleteArenaResponse.ts";
import type { DiscardResponse__Output } from "../generated/gmempool/v1/DiscardResponse.ts";
import type { ForceReleaseResponse__Output } from "../generated/gmempool/v1/ForceReleaseResponse.ts";
import type { PopulateResponse__Output } from "../generated/gmempool/v1/PopulateResponse.ts";
import type { ReleaseResponse__Output } from "../generated/gmempool/v1/ReleaseResponse.ts";
import type { SetPolicyResponse__Output } from "../generated/gmempool/v1/SetPolicyResponse.ts";
import type { ConvertResult, DeleteArenaResult, DiscardResult, ForceReleaseResult, PopulateResult, ReleaseResult, SetPolicyResult } from "../results.ts";
import { DISCARD_POLICY } from "./enum-tables.ts";
import { decodeArenaPolicyOverride, decodePolicy } from "./resource-codec.ts";
import { decodeUint64 } from "./scalars.ts";

export function decodeDeleteArenaResult(r: DeleteArenaResponse__Output): DeleteArenaResult {
  return { releasedLeaseCount: r.releasedLeaseCount, releasedUnitCount: r.releasedUnitCount };
}

export function decodeReleaseResult(r: ReleaseResponse__Output): ReleaseResult {
  return { releasedUnitCount: r.releasedUnitCount };
}

export function decodeDiscardResult(r: DiscardResponse__Output): DiscardResult {
  return {
    punchedBytes: decodeUint64(r.punchedBytes, "punched_bytes"),
    releasedUnitCount: r.releasedUnitCount,
    zeroedBytes: decodeUint64(r.zeroedBytes, "zeroed_bytes"),
    deferredBytes: decodeUint64(r.deferredBytes, "deferred_bytes"),
    appliedPolicy: DISCARD_POLICY.decode(r.appliedPolicy, "applied_policy"),
  };
}

export function decodePopulateResult(r: PopulateResponse__Output): PopulateResult {
  return { populatedUnitCount: r.populatedUnitCount, restoredBytes: decodeUint64(r.restoredBytes, "restored_bytes") };
}

export function decodeConvertResult(r: ConvertResponse__Output): ConvertResult {
  return {
    convertedBytes: decodeUint64(r.convertedBytes, "converted_bytes"),
    populatedUnitCount: r.populatedUnitCount,
    stalePunchedBytes: decodeUint64(r.stalePunchedBytes, "stale_punched_bytes"),
    staleReleasedUnitCount: r.staleReleasedUnitCount,
    collapsibleUnits: r.collapsibleUnits.map((s) => ({ firstUnit: s.firstUnit, unitCount: s.unitCount })),
  };
}

export function decodeSetPolicyResult(r: SetPolicyResponse__Output): SetPolicyResult {
  return { poolPolicy: decodePolicy(r.poolPolicy), arenaOverride: decodeArenaPolicyOverride(r.arenaOverride) };
}

export function decodeForceReleaseResult(r: ForceReleaseResponse__Output): ForceReleaseResult {
  return { releasedLeaseCount: r.releasedLeaseCount, deletedArenaCount: r.deletedArenaCount, releasedUnitCount: r.releasedUnitCount };
}
