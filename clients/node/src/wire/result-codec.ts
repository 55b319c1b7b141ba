/**
 * Decoding the results of the mutating RPCs (the responses that are not a resource), in the
 * same manner as wire-codec.ts: decimal strings to bigint, enum names to the client's names.
 */
import type { ConvertResponse__Output } from "@gmempool/contract/generated/gmempool/v1/ConvertResponse";
import type { DeleteArenaResponse__Output } from "@gmempool/contract/generated/gmempool/v1/DeleteArenaResponse";
import type { DiscardResponse__Output } from "@gmempool/contract/generated/gmempool/v1/DiscardResponse";
import type { ForceReleaseResponse__Output } from "@gmempool/contract/generated/gmempool/v1/ForceReleaseResponse";
import type { GetPolicyResponse__Output } from "@gmempool/contract/generated/gmempool/v1/GetPolicyResponse";
import type { PopulateResponse__Output } from "@gmempool/contract/generated/gmempool/v1/PopulateResponse";
import type { ReleaseResponse__Output } from "@gmempool/contract/generated/gmempool/v1/ReleaseResponse";
import type { SetPolicyResponse__Output } from "@gmempool/contract/generated/gmempool/v1/SetPolicyResponse";
import type { ArenaPolicyOverride, ConvertResult, DeleteArenaResult, DiscardResult, ForceReleaseResult, PolicyView, PopulateResult, ReleaseResult, SetPolicyResult } from "../resources.ts";
import { decodeArenaOverride, decodePolicy, DISCARD_POLICY } from "./wire-codec.ts";

export function decodeDeleteArenaResult(r: DeleteArenaResponse__Output): DeleteArenaResult {
  return { releasedLeaseCount: r.releasedLeaseCount, releasedUnitCount: r.releasedUnitCount };
}

export function decodeReleaseResult(r: ReleaseResponse__Output): ReleaseResult {
  return { releasedUnitCount: r.releasedUnitCount };
}

export function decodeDiscardResult(r: DiscardResponse__Output): DiscardResult {
  return {
    punchedBytes: BigInt(r.punchedBytes),
    releasedUnitCount: r.releasedUnitCount,
    zeroedBytes: BigInt(r.zeroedBytes),
    deferredBytes: BigInt(r.deferredBytes),
    appliedPolicy: DISCARD_POLICY.decodeOptional(r.appliedPolicy),
  };
}

export function decodePopulateResult(r: PopulateResponse__Output): PopulateResult {
  return { populatedUnitCount: r.populatedUnitCount, restoredBytes: BigInt(r.restoredBytes) };
}

export function decodeConvertResult(r: ConvertResponse__Output): ConvertResult {
  return {
    convertedBytes: BigInt(r.convertedBytes),
    populatedUnitCount: r.populatedUnitCount,
    stalePunchedBytes: BigInt(r.stalePunchedBytes),
    staleReleasedUnitCount: r.staleReleasedUnitCount,
    collapsibleUnits: r.collapsibleUnits.map((s) => ({ firstUnit: s.firstUnit, unitCount: s.unitCount })),
  };
}

export function decodePolicyView(r: GetPolicyResponse__Output): PolicyView {
  return {
    poolPolicy: decodePolicy(r.poolPolicy),
    arenaOverrides: r.arenaOverrides.map((o) => decodeArenaOverride(o)).filter((o): o is ArenaPolicyOverride => o !== undefined),
  };
}

export function decodeSetPolicyResult(r: SetPolicyResponse__Output): SetPolicyResult {
  return { poolPolicy: decodePolicy(r.poolPolicy), arenaOverride: decodeArenaOverride(r.arenaOverride) };
}

export function decodeForceReleaseResult(r: ForceReleaseResponse__Output): ForceReleaseResult {
  return { releasedLeaseCount: r.releasedLeaseCount, deletedArenaCount: r.deletedArenaCount, releasedUnitCount: r.releasedUnitCount };
}
