/**
 * The Admin RPCs (SetPolicy, ForceRelease) and the SIGHUP policy reload. Policy changes are
 * transactions without a kernel phase (the books change and are journaled in one tick);
 * ForceRelease runs the same lease release and arena deletion as their owners' own calls.
 */
import { GmempoolError } from "../pool/errors.ts";
import { requireAdmin, requireServing, visibleArena, visibleLease } from "./access-checks.ts";
import { deleteArenaNow } from "./arena-lifecycle.ts";
import type { DaemonContext } from "./daemon-context.ts";
import { releaseLease } from "./lease-operations.ts";
import { mutatingCall } from "./mutating-call.ts";
import { arenaInfoOf, byId } from "./pool-queries.ts";
import type { Caller, DeleteArenaResult, ForceReleaseRequest, ForceReleaseResult, Policy, PolicySource, PolicyUpdate, SetPolicyRequest, SetPolicyResult } from "./pool-service.ts";
import { safeNumber } from "./request-rules.ts";
import { arenaOverride, policyInfo } from "./resource-views.ts";
import { NO_IDEM, type IdemSlot } from "./transaction-runner.ts";

const DISCARD_POLICY_NAMES: readonly string[] = ["reject", "zero", "defer"];

/** Applies a pool-wide policy update as one journaled transaction. */
function setPoolPolicy(ctx: DaemonContext, update: PolicyUpdate, source: PolicySource, idem: IdemSlot): Promise<Policy> {
  return ctx.transactions.run({
    arenaId: "",
    scope: { owner: undefined, arenaId: undefined },
    claim: () => undefined,
    kernel: () => Promise.resolve(),
    commit: () => {
      const next = ctx.pool.setPolicy({
        ...(update.discardPolicy === undefined ? {} : { discard: update.discardPolicy }),
        ...(update.punchGranularityBytes === undefined ? {} : { punchGranularityBytes: safeNumber(update.punchGranularityBytes, "punch_granularity_bytes") }),
        ...(update.deferredCapBytes === undefined ? {} : { deferredCapBytes: safeNumber(update.deferredCapBytes, "deferred_cap_bytes") }),
        ...(update.deferredOverflowPolicy === undefined ? {} : { deferOverflow: update.deferredOverflowPolicy }),
      });
      ctx.checkDeferredCap();
      const policy = policyInfo(next);
      return { changes: { policy: true }, result: policy, event: { kind: "policy-changed", poolPolicy: policy, arenaOverride: undefined, source } };
    },
  }, { entry: (policy) => idem.entry({ poolPolicy: policy, arenaOverride: undefined }) });
}

/** SIGHUP: the configuration file's pool-wide policy again (arena overrides are kept). */
export async function reloadPolicy(ctx: DaemonContext, update: PolicyUpdate): Promise<Policy> {
  requireServing(ctx);
  const policy = await setPoolPolicy(ctx, update, "config", NO_IDEM);
  ctx.logger.info({ policy }, "policy reloaded from the configuration");
  return policy;
}

export async function setPolicy(ctx: DaemonContext, caller: Caller, request: SetPolicyRequest): Promise<SetPolicyResult> {
  requireAdmin(caller);
  return mutatingCall(ctx, caller, "SetPolicy", request, request, async (idem) => {
    if (request.discardPolicy !== undefined && !DISCARD_POLICY_NAMES.includes(request.discardPolicy)) throw new GmempoolError("invalid-argument", "discard_policy is unspecified", { field: "discard_policy", value: "UNSPECIFIED" });
    if (request.arenaId === "") {
      if (request.clearArenaOverride) throw new GmempoolError("invalid-argument", "clear_arena_override needs an arena_id", { field: "clear_arena_override", value: "true" });
      return { poolPolicy: await setPoolPolicy(ctx, request, "admin", idem), arenaOverride: undefined };
    }
    if (request.deferredCapBytes !== undefined || request.deferredOverflowPolicy !== undefined) {
      throw new GmempoolError("invalid-argument", "deferred_cap_bytes and deferred_overflow_policy are pool-wide: leave arena_id empty", { field: request.deferredCapBytes !== undefined ? "deferred_cap_bytes" : "deferred_overflow_policy" });
    }
    const arena = visibleArena(ctx, caller, request.arenaId);
    const base = request.clearArenaOverride ? {} : arena.policy;
    const granularity = request.punchGranularityBytes === undefined ? base.punchGranularityBytes : safeNumber(request.punchGranularityBytes, "punch_granularity_bytes");
    const discard = request.discardPolicy ?? base.discard;
    const scope = { owner: arena.owner, arenaId: arena.id };
    const result = await ctx.transactions.run({
      arenaId: arena.id,
      scope,
      claim: () => undefined,
      kernel: () => Promise.resolve(),
      commit: () => {
        ctx.pool.setArenaPolicy(arena.id, { ...(discard === undefined ? {} : { discard }), ...(granularity === undefined ? {} : { punchGranularityBytes: granularity }) });
        const override = arenaOverride(arena);
        const r = { poolPolicy: policyInfo(ctx.pool.policy), arenaOverride: override };
        return { changes: { arenas: [arena.id] }, result: r, event: { kind: "policy-changed", poolPolicy: r.poolPolicy, arenaOverride: override, source: "admin" } };
      },
    }, idem);
    ctx.events.publish({ kind: "arena-state-changed", arena: arenaInfoOf(ctx, arena) }, scope);
    return result;
  });
}

export async function forceRelease(ctx: DaemonContext, caller: Caller, request: ForceReleaseRequest): Promise<ForceReleaseResult> {
  requireAdmin(caller);
  return mutatingCall(ctx, caller, "ForceRelease", request, request, async (idem) => {
    const target = request.target;
    if (target === undefined) throw new GmempoolError("invalid-argument", "no target set (lease_id, arena_id or owner_pid)", { field: "target" });
    if (target.kind === "lease") {
      const lease = visibleLease(ctx, caller, target.leaseId);
      const arena = ctx.pool.arena(lease.arenaId);
      if (ctx.registry.stateOf(arena.id) === "detached" && !ctx.registry.isGone(arena.owner)) throw new GmempoolError("failed-precondition", `arena "${arena.id}" of lease "${lease.id}" is DETACHED: its file must be reattached before the lease can be punched`, { resource: "arena", id: arena.id, value: "detached" });
      const units = await releaseLease(ctx, lease, "force-release", { entry: (res) => idem.entry({ releasedLeaseCount: 1, deletedArenaCount: 0, releasedUnitCount: (res as { releasedUnitCount: number }).releasedUnitCount }) });
      return { releasedLeaseCount: 1, deletedArenaCount: 0, releasedUnitCount: units };
    }
    const arenas = target.kind === "arena"
      ? [visibleArena(ctx, caller, target.arenaId)]
      : [...ctx.pool.arenas()].filter((a) => ctx.registry.find(a.id)?.meta.owner.pid === target.pid).sort(byId);
    if (arenas.length === 0) throw new GmempoolError("not-found", `no arena is owned by process ${target.kind === "owner-pid" ? target.pid : "?"}`, { resource: "process", value: target.kind === "owner-pid" ? String(target.pid) : "" });
    for (const arena of arenas) {
      if (ctx.registry.stateOf(arena.id) === "detached" && arena.leases.size > 0 && !ctx.registry.isGone(arena.owner)) {
        throw new GmempoolError("failed-precondition", `arena "${arena.id}" is DETACHED: its file must be reattached before its leases can be punched`, { resource: "arena", id: arena.id, value: "detached" });
      }
    }
    let leases = 0;
    let units = 0;
    for (const [i, arena] of arenas.entries()) {
      const last = i === arenas.length - 1;
      const slot: IdemSlot = last ? { entry: (res) => idem.entry({ releasedLeaseCount: leases + (res as DeleteArenaResult).releasedLeaseCount, deletedArenaCount: arenas.length, releasedUnitCount: units + (res as DeleteArenaResult).releasedUnitCount }) } : NO_IDEM;
      const r = await deleteArenaNow(ctx, arena, "force-release", slot);
      leases += r.leases;
      units += r.units;
    }
    return { releasedLeaseCount: leases, deletedArenaCount: arenas.length, releasedUnitCount: units };
  });
}
