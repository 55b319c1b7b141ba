/**
 * The lease RPCs: Allocate, Release, Discard, Populate, Convert. Each is the mutating-call gate
 * (mutating-call.ts), the access checks, then ONE plan transaction (plan-transaction.ts): the
 * core plans and validates the request (units, ranges, placement, policy), the kernel runs the
 * steps, the core's plan results are the response.
 */
import { GmempoolError } from "../pool/errors.ts";
import type { Arena, Lease } from "../pool/index.ts";
import { ownedArena, ownedLease, requireActive } from "./access-checks.ts";
import type { DaemonContext } from "./daemon-context.ts";
import { freshId } from "./fresh-id.ts";
import { mutatingCall } from "./mutating-call.ts";
import { planTransaction, type PlanSpec } from "./plan-transaction.ts";
import { leaseInfoOf } from "./pool-queries.ts";
import type {
  AllocateRequest,
  AllocateResult,
  ArenaRangeRequest,
  Caller,
  ConvertRequest,
  ConvertResult,
  DiscardResult,
  PopulateResult,
  ReleaseReason,
  ReleaseRequest,
  ReleaseResult,
} from "./pool-service.ts";
import { checkName, placementUnitsOf, required, safeNumber } from "./request-rules.ts";
import { NO_IDEM, type IdemSlot } from "./transaction-runner.ts";

export function allocate(ctx: DaemonContext, caller: Caller, request: AllocateRequest): Promise<AllocateResult> {
  return mutatingCall(ctx, caller, "Allocate", request, request, (idem) => {
    const arena = ownedArena(ctx, caller, request.arenaId);
    requireActive(ctx, arena);
    checkName(request.label, "label");
    const offsetUnits = request.offsetBytes === undefined ? undefined : placementUnitsOf(request.offsetBytes);
    const initiallyPrivate = ctx.registry.get(arena.id).meta.initialVisibility === "private";
    const leaseId = freshId("lease");
    return ctx.transactions.run(planTransaction(ctx.plans, {
      arenaId: arena.id,
      scope: { owner: arena.owner, arenaId: arena.id },
      plans: () => {
        ctx.quotas.checkUnits(caller, request.unitCount);
        const plan = ctx.pool.allocate(arena.owner, { arenaId: arena.id, unitCount: request.unitCount, initiallyPrivate, ...(offsetUnits === undefined ? {} : { offsetUnits }) }, leaseId);
        ctx.registry.setLeaseMeta({ id: leaseId, label: request.label, createTime: Date.now() });
        return [plan];
      },
      result: () => ({ lease: leaseInfoOf(ctx, ctx.pool.lease(leaseId)) }),
      event: (r) => ({ kind: "lease-allocated", lease: r.lease }),
      // All or nothing: what was populated before the error goes back, inside this same
      // transaction (a deletion waiting for it never sees the lease: it was never granted).
      afterFailure: async (failure) => {
        try {
          await releaseLease(ctx, ctx.pool.lease(leaseId), "client", NO_IDEM, false);
          return failure;
        } catch (error) {
          const undo = error instanceof Error ? error.message : String(error);
          return new GmempoolError("internal", `${failure.message}; undoing the allocation also failed (${undo}): lease "${leaseId}" is left FAILED holding its populated units, release it`, { resource: "lease", id: leaseId, cause: failure });
        }
      },
    }), idem);
  });
}

export function release(ctx: DaemonContext, caller: Caller, request: ReleaseRequest): Promise<ReleaseResult> {
  return mutatingCall(ctx, caller, "Release", request, request, (idem) => {
    const lease = ownedLease(ctx, caller, request.leaseId);
    requireActive(ctx, ctx.pool.arena(lease.arenaId));
    return releaseLease(ctx, lease, "client", idem).then((releasedUnitCount) => ({ releasedUnitCount }));
  });
}

/**
 * Releases one lease (Release, ForceRelease, a deletion, a failed Allocate's undo); resolves
 * with the units returned. Units whose punch failed stay in the lease (FAILED): the error keeps
 * the kernel error's kind and names how far it got; what was punched is back in the reserve.
 */
export async function releaseLease(ctx: DaemonContext, lease: Lease, reason: ReleaseReason, idem: IdemSlot, publish = true): Promise<number> {
  const arenaId = lease.arenaId;
  const released = await ctx.transactions.run(planTransaction(ctx.plans, {
    arenaId,
    scope: { owner: lease.owner, arenaId },
    plans: () => [ctx.pool.forceRelease(lease.id)],
    settled: (_totals, failure) => {
      if (failure === undefined) ctx.registry.deleteLeaseMeta(lease.id);
    },
    failure: (first, totals) => first.rephrase(`release of lease "${lease.id}": ${first.message}; ${totals.unitsReturned} unit(s) returned before the failure, the lease keeps the rest; retry Release to continue`, { resource: "lease", id: lease.id }),
    result: (totals) => ({ releasedUnitCount: totals.unitsReturned }),
    ...(publish ? { event: (r: { releasedUnitCount: number }) => ({ kind: "lease-released" as const, leaseId: lease.id, arenaId, releasedUnitCount: r.releasedUnitCount, reason }) } : {}),
  }), idem);
  return released.releasedUnitCount;
}

/** The arena and byte range of a Discard / Populate / Convert, checked for the caller. */
function rangeOf(ctx: DaemonContext, caller: Caller, request: ArenaRangeRequest) {
  const arena = ownedArena(ctx, caller, request.arenaId);
  requireActive(ctx, arena);
  const range = { arenaId: arena.id, offsetBytes: safeNumber(request.offsetBytes, "offset_bytes"), lengthBytes: safeNumber(request.lengthBytes, "length_bytes") };
  return { arena, range };
}

/**
 * The plans of one Discard / Populate / Convert as one transaction; the deferred cap's event
 * is checked after, whatever the outcome (a failed step changes deferred bytes too).
 */
async function rangeTransaction<R extends object>(ctx: DaemonContext, arena: Arena, idem: IdemSlot, spec: Omit<PlanSpec<R>, "arenaId" | "scope">): Promise<R> {
  try {
    return await ctx.transactions.run(planTransaction(ctx.plans, { arenaId: arena.id, scope: { owner: arena.owner, arenaId: arena.id }, ...spec }), idem);
  } finally {
    ctx.checkDeferredCap();
  }
}

export function discard(ctx: DaemonContext, caller: Caller, request: ArenaRangeRequest): Promise<DiscardResult> {
  return mutatingCall(ctx, caller, "Discard", request, request, (idem) => {
    const { arena, range } = rangeOf(ctx, caller, request);
    return rangeTransaction(ctx, arena, idem, {
      plans: () => ctx.pool.discardRange(arena.owner, range),
      result: (t) => ({ punchedBytes: BigInt(t.punchedBytes), releasedUnitCount: t.unitsReturned, zeroedBytes: BigInt(t.zeroedBytes), deferredBytes: BigInt(t.deferredBytes), appliedPolicy: t.discardPolicy }),
      event: (r) => ({ kind: "range-discarded", arenaId: arena.id, offsetBytes: request.offsetBytes, lengthBytes: request.lengthBytes, punchedBytes: r.punchedBytes, releasedUnitCount: r.releasedUnitCount, zeroedBytes: r.zeroedBytes, deferredBytes: r.deferredBytes }),
    });
  });
}

export function populate(ctx: DaemonContext, caller: Caller, request: ArenaRangeRequest): Promise<PopulateResult> {
  return mutatingCall(ctx, caller, "Populate", request, request, (idem) => {
    const { arena, range } = rangeOf(ctx, caller, request);
    return rangeTransaction(ctx, arena, idem, {
      plans: () => ctx.pool.populateRange(arena.owner, range),
      result: (t) => ({ populatedUnitCount: t.unitsTaken, restoredBytes: BigInt(t.restoredBytes) }),
      event: (r) => ({ kind: "range-populated", arenaId: arena.id, offsetBytes: request.offsetBytes, lengthBytes: request.lengthBytes, populatedUnitCount: r.populatedUnitCount }),
    });
  });
}

export function convert(ctx: DaemonContext, caller: Caller, request: ConvertRequest): Promise<ConvertResult> {
  return mutatingCall(ctx, caller, "Convert", request, request, (idem) => {
    const toVisibility = required(request.toVisibility, "to_visibility");
    const mode = required(request.mode, "mode");
    const { arena, range } = rangeOf(ctx, caller, request);
    // The platform's abilities are the daemon's to judge (the core judges the arena's files).
    const inPlace = ctx.caps()?.inPlaceConversion.state;
    if (mode === "in-place" && arena.sides === 1 && arena.files[0] === "guest_memfd" && inPlace !== "usable" && inPlace !== "unusable") {
      throw new GmempoolError("unimplemented", "in-place conversion needs KVM_SET_MEMORY_ATTRIBUTES2, which this kernel lacks (ENOTTY, or gmem_in_place_conversion off); use mode notify", { field: "mode", value: "IN_PLACE" });
    }
    if (request.contentIntent === "preserve" && arena.sides === 2) {
      throw new GmempoolError("failed-precondition", `arena "${arena.id}" converts out of place: page contents are not carried between its guest_memfd and its memfd (content_intent PRESERVE cannot be honoured)`, { resource: "arena", id: arena.id, field: "content_intent", value: "PRESERVE" });
    }
    return rangeTransaction(ctx, arena, idem, {
      plans: () => ctx.pool.convertRange(arena.owner, { ...range, toPrivate: toVisibility === "private", mode }),
      result: (t) => ({ convertedBytes: BigInt(t.convertedBytes), populatedUnitCount: t.unitsTaken, stalePunchedBytes: BigInt(t.punchedBytes), staleReleasedUnitCount: t.unitsReturned, collapsibleUnits: t.collapsibleUnits }),
      event: () => ({ kind: "range-converted", arenaId: arena.id, offsetBytes: request.offsetBytes, lengthBytes: request.lengthBytes, toVisibility, mode }),
    });
  });
}
