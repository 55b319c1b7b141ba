/**
 * gmempool.v1.Admin: decode -> ONE PoolService call -> encode. The daemon answers
 * permission-denied for a non-admin caller before looking at the request; the only judging done
 * here is what the daemon's types cannot carry: a present `discard_policy` that is UNSPECIFIED,
 * and a present `deferred_overflow_policy` that is not REJECT or ZERO (admin.proto SetPolicy).
 */
import { type AdminService, type Caller, type ForceReleaseTarget, type PolicyUpdate } from "../../daemon/pool-service.ts";
import { GmempoolError } from "../../pool/errors.ts";
import type { AdminHandlers } from "@gmempool/contract/generated/gmempool/v1/Admin";
import type { SetPolicyRequest__Output } from "@gmempool/contract/generated/gmempool/v1/SetPolicyRequest";
import type { ForceReleaseRequest__Output } from "@gmempool/contract/generated/gmempool/v1/ForceReleaseRequest";
import { DISCARD_POLICY, encodeArenaPolicyOverride, decodeUint64, encodePolicy, encodeReservation } from "@gmempool/contract";
import type { ReserveRequest__Output } from "@gmempool/contract/generated/gmempool/v1/ReserveRequest";
import type { UnreserveRequest__Output } from "@gmempool/contract/generated/gmempool/v1/UnreserveRequest";
import { unaryHandler, type HandlerContext } from "./handler-context.ts";

export function decodePolicyUpdate(r: SetPolicyRequest__Output): PolicyUpdate {
  const update: { -readonly [K in keyof PolicyUpdate]: PolicyUpdate[K] } = {};
  if (r.discardPolicy !== undefined) {
    const policy = DISCARD_POLICY.decode(r.discardPolicy, "discard_policy");
    if (policy === undefined) throw new GmempoolError("invalid-argument", "discard_policy is DISCARD_POLICY_UNSPECIFIED; leave the field out to keep the current policy");
    update.discardPolicy = policy;
  }
  if (r.punchGranularityBytes !== undefined) update.punchGranularityBytes = decodeUint64(r.punchGranularityBytes, "punch_granularity_bytes");
  if (r.deferredCapBytes !== undefined) update.deferredCapBytes = decodeUint64(r.deferredCapBytes, "deferred_cap_bytes");
  if (r.deferredOverflowPolicy !== undefined) {
    const policy = DISCARD_POLICY.decode(r.deferredOverflowPolicy, "deferred_overflow_policy");
    if (policy !== "reject" && policy !== "zero") throw new GmempoolError("invalid-argument", `deferred_overflow_policy ${r.deferredOverflowPolicy} is not allowed: REJECT or ZERO`);
    update.deferredOverflowPolicy = policy;
  }
  return update;
}

export function decodeForceReleaseTarget(r: ForceReleaseRequest__Output): ForceReleaseTarget | undefined {
  switch (r.target) {
    case "leaseId":
      return { kind: "lease", leaseId: r.leaseId ?? "" };
    case "arenaId":
      return { kind: "arena", arenaId: r.arenaId ?? "" };
    case "ownerPid":
      return { kind: "owner-pid", pid: r.ownerPid ?? 0 };
    case undefined:
      return undefined;
  }
}

export function adminHandlers(context: HandlerContext<AdminService>): AdminHandlers {
  const service = context.service;
  return {
    SetPolicy: unaryHandler(context, "SetPolicy", async (caller: Caller, r: SetPolicyRequest__Output) => {
      // Admin first: the daemon refuses a non-admin before looking at the request, so a
      // non-admin's malformed fields are not decoded (it learns nothing from them).
      const update = caller.isAdmin ? decodePolicyUpdate(r) : {};
      const result = await service.setPolicy(caller, { requestId: r.requestId, arenaId: r.arenaId, clearArenaOverride: r.clearArenaOverride, ...update });
      return {
        response: { poolPolicy: encodePolicy(result.poolPolicy), arenaOverride: result.arenaOverride === undefined ? null : encodeArenaPolicyOverride(result.arenaOverride) },
        replayed: result.replayed,
      };
    }),
    ForceRelease: unaryHandler(context, "ForceRelease", async (caller: Caller, r: ForceReleaseRequest__Output) => {
      const result = await service.forceRelease(caller, { requestId: r.requestId, target: decodeForceReleaseTarget(r) });
      return { response: { releasedLeaseCount: result.releasedLeaseCount, deletedArenaCount: result.deletedArenaCount, releasedUnitCount: result.releasedUnitCount }, replayed: result.replayed };
    }),
    Reserve: unaryHandler(context, "Reserve", async (caller: Caller, r: ReserveRequest__Output) => {
      const sizeBytes = caller.isAdmin ? decodeUint64(r.sizeBytes, "size_bytes") : 0n;
      const result = await service.reserve(caller, { claimUid: r.claimUid, sizeBytes });
      return { response: { reservation: encodeReservation(result.reservation), token: result.token, created: result.created } };
    }),
    Unreserve: unaryHandler(context, "Unreserve", async (caller: Caller, r: UnreserveRequest__Output) => {
      const result = await service.unreserve(caller, r.claimUid);
      return { response: { existed: result.existed, releasedUnitCount: result.releasedUnitCount } };
    }),
    ListReservations: unaryHandler(context, "ListReservations", (caller: Caller) => ({ response: { reservations: service.listReservations(caller).map(encodeReservation) } })),
  };
}
