/**
 * The read-only RPCs and views (they work while starting): capabilities, status, arenas,
 * leases, the fragmentation map, policy, Watch, and the metrics the server exports. Nothing
 * here changes the books.
 */
import { GmempoolError } from "../pool/errors.ts";
import { PAGE_BYTES, UNIT_BYTES, type Arena, type Lease } from "../pool/index.ts";
import { requireAdminFor, requireId, visibleArena, visibleLease } from "./access-checks.ts";
import type { DaemonContext } from "./daemon-context.ts";
import type {
  ArenaInfo,
  Caller,
  DaemonCapabilities,
  DaemonMetrics,
  FragmentationMap,
  GetFragmentationMapRequest,
  KernelFeature,
  LeaseInfo,
  ListLeasesRequest,
  ListRequest,
  PolicyView,
  WatchRequest,
  WatchStream,
} from "./pool-service.ts";
import { arenaInfo, arenaOverride, leaseInfo, policyInfo, readBuddyInfo, reserveMap, unitMaps } from "./resource-views.ts";

/** Arenas (and anything with an id) in id order: every listing and every sweep of arenas. */
export function byId(a: { id: string }, b: { id: string }): number {
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

export function arenaInfoOf(ctx: DaemonContext, arena: Arena): ArenaInfo {
  const record = ctx.registry.get(arena.id);
  return arenaInfo(ctx.pool, arena, record.meta, record.state);
}

export function leaseInfoOf(ctx: DaemonContext, lease: Lease): LeaseInfo {
  const arena = ctx.pool.arena(lease.arenaId);
  return leaseInfo(lease, arena.sides, ctx.registry.get(arena.id).meta.owner, ctx.registry.leaseMeta(lease.id));
}

/** The caller's arenas, or every owner's (admin, `all_owners`). */
function arenasOf(ctx: DaemonContext, caller: Caller, allOwners: boolean): Arena[] {
  return [...ctx.pool.arenas()].filter((a) => allOwners || a.owner === caller.identity).sort(byId);
}

export function getCapabilities(ctx: DaemonContext, caller: Caller): DaemonCapabilities {
  const caps = ctx.caps();
  const features: KernelFeature[] = [...ctx.reserve.features];
  if (caps === undefined) {
    features.push({ name: "KVM_CAP_GUEST_MEMFD", available: false, detail: "/dev/kvm is not usable" });
  } else {
    const inPlace = caps.inPlaceConversion;
    features.push({ name: "KVM_CAP_GUEST_MEMFD", available: caps.guestMemfd, detail: `KVM_CHECK_EXTENSION = ${caps.guestMemfd ? 1 : 0}` });
    features.push({ name: "KVM_CAP_MEMORY_ATTRIBUTES", available: caps.memoryAttributes !== 0n, detail: `KVM_CHECK_EXTENSION = ${caps.memoryAttributes}` });
    features.push({ name: "GUEST_MEMFD_FLAG_MMAP", available: (caps.guestMemfdFlags & 1n) !== 0n, detail: `KVM_CAP_GUEST_MEMFD_FLAGS = ${caps.guestMemfdFlags}` });
    features.push({ name: "KVM_SET_MEMORY_ATTRIBUTES2", available: inPlace.state === "usable", detail: inPlace.state === "absent" ? "ENOTTY" : inPlace.state === "unusable" ? "EINVAL on every VM type" : `VM types ${inPlace.vmTypes.join(", ")}` });
  }
  const gmem = caps?.guestMemfd === true;
  return {
    daemonVersion: ctx.version,
    unitBytes: BigInt(UNIT_BYTES),
    pageBytes: BigInt(PAGE_BYTES),
    reserveMode: ctx.reserve.mode,
    arenaKinds: gmem ? ["guest_memfd", "memfd", "pair"] : ["memfd"],
    memfdBackings: ctx.reserve.mode === "hugetlb" ? ["shmem", "hugetlb"] : ["shmem"],
    conversionModes: caps?.inPlaceConversion.state === "usable" ? ["in-place", "notify"] : ["notify"],
    kernelFeatures: features,
    requestIdRetentionMs: ctx.idempotency.retentionMs,
    caller: { uid: caller.uid, gid: caller.gid, pid: caller.pid, startTimeTicks: caller.startTimeTicks },
    callerIsAdmin: caller.isAdmin,
  };
}

export function getArena(ctx: DaemonContext, caller: Caller, arenaId: string): ArenaInfo {
  requireId(arenaId, "arena_id");
  return arenaInfoOf(ctx, visibleArena(ctx, caller, arenaId));
}

export function listArenas(ctx: DaemonContext, caller: Caller, request: ListRequest): ArenaInfo[] {
  requireAdminFor(caller, request.allOwners);
  return arenasOf(ctx, caller, request.allOwners).map((a) => arenaInfoOf(ctx, a));
}

export function getLease(ctx: DaemonContext, caller: Caller, leaseId: string): LeaseInfo {
  requireId(leaseId, "lease_id");
  return leaseInfoOf(ctx, visibleLease(ctx, caller, leaseId));
}

export function listLeases(ctx: DaemonContext, caller: Caller, request: ListLeasesRequest): LeaseInfo[] {
  requireAdminFor(caller, request.allOwners);
  const arenas = request.arenaId === "" ? arenasOf(ctx, caller, request.allOwners) : [visibleArena(ctx, caller, request.arenaId)];
  return arenas.flatMap((a) => [...a.leases.values()].sort((x, y) => x.start - y.start).map((l) => leaseInfoOf(ctx, l)));
}

export function getFragmentationMap(ctx: DaemonContext, caller: Caller, request: GetFragmentationMapRequest): FragmentationMap {
  requireAdminFor(caller, request.allOwners);
  const arenas = request.arenaId === "" ? arenasOf(ctx, caller, request.allOwners) : [visibleArena(ctx, caller, request.arenaId)];
  return { arenas: unitMaps(ctx.pool, new Set(arenas.map((a) => a.id))), reserve: reserveMap(ctx.pool, ctx.reserve.mode), kernelBuddyZones: readBuddyInfo(), time: new Date() };
}

export function getPolicy(ctx: DaemonContext, caller: Caller): PolicyView {
  const overrides = [...ctx.pool.arenas()]
    .filter((a) => (caller.isAdmin || a.owner === caller.identity) && (a.policy.discard !== undefined || a.policy.punchGranularityBytes !== undefined))
    .sort(byId)
    .map(arenaOverride);
  return { poolPolicy: policyInfo(ctx.pool.policy), arenaOverrides: overrides };
}

export function watch(ctx: DaemonContext, caller: Caller, request: WatchRequest): WatchStream {
  if (request.kinds.some((k) => k === undefined)) throw new GmempoolError("invalid-argument", "kinds contains POOL_EVENT_KIND_UNSPECIFIED", { field: "kinds", value: "POOL_EVENT_KIND_UNSPECIFIED" });
  requireAdminFor(caller, request.allOwners);
  if (request.arenaId !== "") visibleArena(ctx, caller, request.arenaId);
  return ctx.events.open(caller, request);
}

export function metrics(ctx: DaemonContext): DaemonMetrics {
  const pool = ctx.pool;
  return {
    capacityUnits: pool.capacityUnits,
    freeUnits: pool.reserve.freeUnits,
    claimedUnits: pool.reserve.claimedUnits,
    leasedUnits: pool.reserve.leasedUnits,
    reservedUnits: pool.reserve.reservedUnits,
    splitUnits: pool.splitUnits,
    deferredBytes: BigInt(pool.deferredBytes),
    arenaCount: ctx.registry.size,
    leaseCount: ctx.leaseCount(),
    reserveHeldTwiceUnits: ctx.reserveHeldTwiceUnits,
    kernelDriftCount: ctx.executor.driftCount,
    arenas: [...pool.arenas()].map((a) => {
      const info = arenaInfoOf(ctx, a);
      let populated = 0;
      for (const f of info.files) populated += f.populatedUnitCount;
      return { arenaId: a.id, owner: a.owner, unitCount: a.sizeUnits, leasedUnitCount: info.leasedUnitCount, populatedUnitCount: populated };
    }),
  };
}
