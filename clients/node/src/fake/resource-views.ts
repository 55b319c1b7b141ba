/**
 * The API's resources (resources.ts) computed from the fake's records, with the daemon's
 * definitions (its resource-views.ts and fragmentation.ts):
 *
 * - a lease's shared / private bytes are its live pages of each visibility, discarded bytes its
 *   discarded pages; a *discarded unit* is one with no page populated on any side (punched whole,
 *   back in the reserve);
 * - *deferred* bytes are discarded pages still populated, per side;
 * - a unit-map unit is, by precedence: deferred (some discarded page still populated) > split
 *   (pages in mixed states) > leased (populated) > discarded (not populated); units outside
 *   leases are free. (A pair's stale copy shows as leased, as in the daemon.)
 */
import { PAGES_PER_UNIT, PAGE_BYTES, UNIT_BYTES } from "../units.ts";
import type { Arena, ArenaPolicyOverride, ArenaUnitMap, Capabilities, Identity, Lease, PoolStatus, ReserveMap, UnitRun, UnitState } from "../resources.ts";
import { isPopulated } from "./backing.ts";
import { leaseDeferredPages, type FakePoolState } from "./fake-pool-state.ts";
import { leaseEnd, type FakeArena, type FakeLease } from "./fake-records.ts";
import { DISCARDED, PRIVATE, type Side } from "./page-map.ts";

const PAGES = PAGES_PER_UNIT;

/** What the fake's host can do (its options), the fd channel's usual parameters, the caller. */
export function capabilitiesView(state: FakePoolState, caller: Identity, callerIsAdmin: boolean): Capabilities {
  const { settings } = state;
  return {
    daemonVersion: settings.daemonVersion,
    unitBytes: UNIT_BYTES,
    pageBytes: PAGE_BYTES,
    reserveMode: settings.reserveMode,
    arenaKinds: settings.guestMemfd ? ["guest_memfd", "memfd", "pair"] : ["memfd"],
    memfdBackings: settings.reserveMode === "hugetlb" ? ["shmem", "hugetlb"] : ["shmem"],
    conversionModes: settings.inPlaceConversion ? ["in-place", "notify"] : ["notify"],
    kernelFeatures: [
      { name: "KVM_CAP_GUEST_MEMFD", available: settings.guestMemfd, detail: "FakePoolClient option guestMemfd" },
      { name: "KVM_SET_MEMORY_ATTRIBUTES2", available: settings.inPlaceConversion, detail: "FakePoolClient option inPlaceConversion" },
    ],
    fdSocketPath: "",
    fdChannelVersion: 1,
    fdTokenTtlMs: 10_000,
    maxPendingFdTokens: 16,
    requestIdRetentionMs: 15 * 60 * 1000,
    caller,
    callerIsAdmin,
    maxRequestMessageBytes: 4 * 1024 * 1024,
  };
}

export function poolStatusView(state: FakePoolState): PoolStatus {
  const { reserve, settings } = state;
  return {
    servingState: state.servingState,
    reserveMode: settings.reserveMode,
    capacityUnitCount: reserve.capacity,
    freeUnitCount: reserve.freeUnitCount,
    claimedUnitCount: 0,
    leasedUnitCount: reserve.leasedUnitCount,
    reservePopulatedUnitCount: settings.reserveMode === "none" ? 0 : reserve.freeUnitCount,
    splitUnitCount: state.splitUnitCount(),
    deferredBytes: BigInt(state.deferredPages()) * PAGE_BYTES,
    deferredCapBytes: state.policy.deferredCapBytes,
    arenaCount: state.arenas.size,
    leaseCount: state.leases.size,
    largestFreeRunUnitCount: settings.reserveMode === "none" ? reserve.freeUnitCount : reserve.largestFreeRunUnitCount,
    startTime: state.startTime,
    lastEventSequence: state.events.lastSequence,
  };
}

function sidesOf(arena: FakeArena): Side[] {
  return arena.layout === "pair" ? [0, 1] : [0];
}

/** Units of a lease with no page populated on any side. */
function holeUnits(lease: FakeLease, sides: readonly Side[]): number {
  let holes = 0;
  for (let u = 0; u < lease.unitCount; u++) {
    if (sides.every((side) => lease.pages.countInUnit(u, (f) => isPopulated(f, side)) === 0)) holes++;
  }
  return holes;
}

export function arenaView(state: FakePoolState, arena: FakeArena): Arena {
  let leased = 0;
  let discarded = 0;
  let split = 0;
  let deferredPages = 0;
  const populated = [0, 0];
  for (const lease of arena.leases.values()) {
    leased += lease.unitCount;
    discarded += holeUnits(lease, sidesOf(arena));
    split += lease.pages.splitUnitCount;
    deferredPages += leaseDeferredPages(lease);
    for (const side of sidesOf(arena)) populated[side]! += state.populatedSideUnits(lease, side);
  }
  const sizeBytes = BigInt(arena.unitCount) * UNIT_BYTES;
  return {
    arenaId: arena.id,
    name: arena.name,
    kind: arena.kind,
    state: arena.state,
    owner: arena.owner,
    sizeBytes,
    unitCount: arena.unitCount,
    leasedUnitCount: leased,
    discardedUnitCount: discarded,
    splitUnitCount: split,
    deferredBytes: BigInt(deferredPages) * PAGE_BYTES,
    leaseCount: arena.leases.size,
    initialVisibility: arena.initialVisibility,
    files: arena.files.map((file, side) => ({
      fdType: file.fdType,
      serves: arena.kind === "pair" ? (side === 0 ? "private" : "shared") : undefined,
      sizeBytes,
      populatedUnitCount: populated[side] ?? 0,
      memfdName: file.memfdName,
    })),
    policy: {
      discardPolicy: state.discardPolicyOf(arena),
      discardPolicyOverridden: arena.policy.discardPolicy !== undefined,
      punchGranularityBytes: state.granularityOf(arena),
      punchGranularityOverridden: arena.policy.punchGranularityBytes !== undefined,
    },
    createTime: arena.createTime,
  };
}

export function leaseView(state: FakePoolState, lease: FakeLease): Lease {
  const arena = state.arenaOf(lease);
  const all = lease.unitCount * PAGES;
  const pages = lease.pages;
  return {
    leaseId: lease.id,
    arenaId: lease.arenaId,
    owner: arena.owner,
    offsetBytes: BigInt(lease.firstUnit) * UNIT_BYTES,
    lengthBytes: BigInt(lease.unitCount) * UNIT_BYTES,
    unitCount: lease.unitCount,
    label: lease.label,
    sharedBytes: BigInt(pages.count(0, all, (f) => (f & (PRIVATE | DISCARDED)) === 0)) * PAGE_BYTES,
    privateBytes: BigInt(pages.count(0, all, (f) => (f & PRIVATE) !== 0 && (f & DISCARDED) === 0)) * PAGE_BYTES,
    discardedBytes: BigInt(pages.count(0, all, (f) => (f & DISCARDED) !== 0)) * PAGE_BYTES,
    discardedUnitCount: holeUnits(lease, sidesOf(arena)),
    splitUnitCount: pages.splitUnitCount,
    createTime: lease.createTime,
  };
}

export function arenaOverrideView(arena: FakeArena): ArenaPolicyOverride {
  return {
    arenaId: arena.id,
    ...(arena.policy.discardPolicy === undefined ? {} : { discardPolicy: arena.policy.discardPolicy }),
    ...(arena.policy.punchGranularityBytes === undefined ? {} : { punchGranularityBytes: arena.policy.punchGranularityBytes }),
  };
}

function unitState(arena: FakeArena, lease: FakeLease, u: number): UnitState {
  const deferred = sidesOf(arena).some((side) => lease.pages.countInUnit(u, (f) => (f & DISCARDED) !== 0 && isPopulated(f, side)) > 0);
  if (deferred) return "deferred";
  if (lease.pages.isSplit(u)) return "split";
  const populated = sidesOf(arena).some((side) => lease.pages.countInUnit(u, (f) => isPopulated(f, side)) > 0);
  return populated ? "leased" : "discarded";
}

export function unitMapView(arena: FakeArena): ArenaUnitMap {
  const states = new Array<UnitState>(arena.unitCount).fill("free");
  const leaseAt = new Array<string>(arena.unitCount).fill("");
  for (const lease of arena.leases.values()) {
    for (let u = 0; u < lease.unitCount; u++) {
      states[lease.firstUnit + u] = unitState(arena, lease, u);
      leaseAt[lease.firstUnit + u] = lease.id;
    }
  }
  const runs: UnitRun[] = [];
  let largestFree = 0;
  let freeRun = 0;
  for (let u = 0; u < arena.unitCount; u++) {
    const state = states[u]!;
    const leaseId = leaseAt[u]!;
    freeRun = state === "free" ? freeRun + 1 : 0;
    largestFree = Math.max(largestFree, freeRun);
    const last = runs[runs.length - 1];
    if (last?.state === state && last.leaseId === leaseId) runs[runs.length - 1] = { ...last, unitCount: last.unitCount + 1 };
    else runs.push({ firstUnit: u, unitCount: 1, state, leaseId });
  }
  return { arenaId: arena.id, unitCount: arena.unitCount, runs, largestFreeRunUnitCount: largestFree };
}

export function reserveMapView(state: FakePoolState): ReserveMap {
  const counts: number[] = [];
  for (const [s, e] of state.reserve.heldRuns()) {
    const order = Math.floor(Math.log2(e - s));
    while (counts.length <= order) counts.push(0);
    counts[order]!++;
  }
  return { mode: state.settings.reserveMode, freeUnitCount: state.reserve.freeUnitCount, largestFreeRunUnitCount: state.reserve.largestFreeRunUnitCount, freeRunCountsByOrder: counts };
}

/** The arena's free runs of units, ascending, as [start, end). */
export function freeRuns(arena: FakeArena): [number, number][] {
  const runs: [number, number][] = [];
  let cursor = 0;
  for (const lease of [...arena.leases.values()].sort((a, b) => a.firstUnit - b.firstUnit)) {
    if (lease.firstUnit > cursor) runs.push([cursor, lease.firstUnit]);
    cursor = leaseEnd(lease);
  }
  if (cursor < arena.unitCount) runs.push([cursor, arena.unitCount]);
  return runs;
}
