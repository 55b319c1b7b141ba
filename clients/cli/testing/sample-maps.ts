/**
 * Hand-built fragmentation maps and resources with known answers, for the renderers' and the
 * commands' tests.
 */
import type { Arena, ArenaFile, ArenaUnitMap, FragmentationMap, Lease, PoolStatus, UnitRun, UnitState } from "../../node/src/resources.ts";
import { unitsToBytes } from "../../node/src/units.ts";
import { fragLabels, type FragLabels } from "../render/frag-labels.ts";

export function run(firstUnit: number, unitCount: number, state: UnitState, leaseId = state === "free" ? "" : "l-1"): UnitRun {
  return { firstUnit, unitCount, state, leaseId };
}

/** 8 units, one of every state: ##%~_c.. */
export const EVERY_STATE_ARENA: ArenaUnitMap = {
  arenaId: "a-small",
  unitCount: 8,
  runs: [run(0, 2, "leased"), run(2, 1, "split"), run(3, 1, "deferred"), run(4, 1, "discarded"), run(5, 1, "claimed"), run(6, 2, "free")],
  largestFreeRunUnitCount: 2,
};

export const EVERY_STATE_LINE = "##%~_c..";

/** 2048 units (4 GiB): leased [0, 1000), one split unit at 1001, free after. */
export const WIDE_ARENA: ArenaUnitMap = {
  arenaId: "a-wide",
  unitCount: 2048,
  runs: [run(0, 1000, "leased"), run(1000, 1, "free"), run(1001, 1, "split"), run(1002, 1046, "free")],
  largestFreeRunUnitCount: 1046,
};

export function sampleMap(arenas: readonly ArenaUnitMap[] = [EVERY_STATE_ARENA]): FragmentationMap {
  return {
    arenas,
    reserve: { mode: "gmem", freeUnitCount: 700, largestFreeRunUnitCount: 512, freeRunCountsByOrder: [3, 0, 1, 0, 0, 0, 0, 0, 0, 1] },
    kernelBuddyZones: [
      { node: 0, zone: "DMA32", firstOrder: 9, freeBlockCounts: [4n, 1n], freeBytes: 4n * (2n << 20n) + (4n << 20n) },
      { node: 0, zone: "Normal", firstOrder: 9, freeBlockCounts: [120n, 30n], freeBytes: 120n * (2n << 20n) + 30n * (4n << 20n) },
    ],
    time: new Date("2025-01-02T03:04:05.000Z"),
  };
}

export const SAMPLE_STATUS: PoolStatus = {
  servingState: "serving",
  reserveMode: "none",
  capacityUnitCount: 128,
  freeUnitCount: 100,
  claimedUnitCount: 0,
  leasedUnitCount: 28,
  reservePopulatedUnitCount: 0,
  splitUnitCount: 3,
  deferredBytes: 8192n,
  deferredCapBytes: 1n << 30n,
  arenaCount: 2,
  leaseCount: 5,
  largestFreeRunUnitCount: 64,
  startTime: new Date("2025-01-02T00:00:00.000Z"),
  lastEventSequence: 12n,
  reservedUnitCount: 0,
  reservationCount: 0,
};

/** An arena resource for `ArenaUnitMap` `map`, as ListArenas would report it. */
export function arenaFor(map: ArenaUnitMap, name: string, kind: Arena["kind"], owner: { pid: number; uid: number }, backing: "shmem" | "hugetlb" = "shmem"): Arena {
  const memfd: ArenaFile = { fdType: backing === "shmem" ? "memfd_shmem" : "memfd_hugetlb", serves: kind === "pair" ? "shared" : undefined, sizeBytes: unitsToBytes(map.unitCount), populatedUnitCount: 0, memfdName: `gmempool:${map.arenaId}` };
  const gmem: ArenaFile = { fdType: "guest_memfd", serves: kind === "pair" ? "private" : undefined, sizeBytes: unitsToBytes(map.unitCount), populatedUnitCount: 0, memfdName: "" };
  const files = kind === "memfd" ? [memfd] : kind === "guest_memfd" ? [gmem] : [gmem, memfd];
  return {
    arenaId: map.arenaId,
    name,
    kind,
    state: "active",
    owner: { uid: owner.uid, gid: owner.uid, pid: owner.pid, startTimeTicks: 1n },
    sizeBytes: unitsToBytes(map.unitCount),
    unitCount: map.unitCount,
    leasedUnitCount: 0,
    discardedUnitCount: 0,
    splitUnitCount: 0,
    deferredBytes: 0n,
    leaseCount: 0,
    initialVisibility: "shared",
    files,
    policy: { discardPolicy: "defer", discardPolicyOverridden: false, punchGranularityBytes: unitsToBytes(1), punchGranularityOverridden: false },
    createTime: undefined,
  };
}

/** A lease resource with `label`, as ListLeases would report it (only id, arena and label matter here). */
export function leaseFor(leaseId: string, arenaId: string, label: string): Lease {
  return {
    leaseId,
    arenaId,
    owner: { uid: 1000, gid: 1000, pid: 4242, startTimeTicks: 1n },
    offsetBytes: 0n,
    lengthBytes: 0n,
    unitCount: 0,
    label,
    sharedBytes: 0n,
    privateBytes: 0n,
    discardedBytes: 0n,
    discardedUnitCount: 0,
    splitUnitCount: 0,
    createTime: undefined,
  };
}

/**
 * A busy pool: 9 arenas of 64 to 4096 units, each cut into leases of 40 units with a split and a
 * deferred unit here and there, every arena named and owned, every lease labelled.
 */
export function busyPool(): { readonly map: FragmentationMap; readonly labels: FragLabels } {
  const sizes = [4096, 2048, 1024, 512, 512, 256, 128, 64, 64];
  const kinds: Arena["kind"][] = ["pair", "guest_memfd", "memfd", "memfd", "pair", "guest_memfd", "memfd", "memfd", "guest_memfd"];
  const arenas: ArenaUnitMap[] = [];
  const resources: Arena[] = [];
  const leases: Lease[] = [];
  sizes.forEach((unitCount, a) => {
    const arenaId = `a-${String(a + 1).padStart(4, "0")}`;
    const runs: UnitRun[] = [];
    let unit = 0;
    for (let l = 0; unit + 40 <= unitCount - 8; l++) {
      const leaseId = `l-${a + 1}-${l}`;
      runs.push(run(unit, 38, "leased", leaseId), run(unit + 38, 1, l % 3 === 0 ? "split" : "leased", leaseId), run(unit + 39, 1, l % 4 === 1 ? "deferred" : "leased", leaseId));
      leases.push(leaseFor(leaseId, arenaId, l === 0 ? "boot" : `ram-${l}`));
      unit += 40;
    }
    runs.push(run(unit, unitCount - unit, "free"));
    const map: ArenaUnitMap = { arenaId, unitCount, runs, largestFreeRunUnitCount: unitCount - unit };
    arenas.push(map);
    resources.push(arenaFor(map, `vm-${["web", "db", "cache", "batch", "cvm", "ci", "edge", "dev", "spare"][a]}-${a + 1}`, kinds[a]!, { pid: 4000 + a, uid: 1000 + (a % 3) }, a === 2 ? "hugetlb" : "shmem"));
  });
  return { map: { ...sampleMap(arenas), kernelBuddyZones: sampleMap().kernelBuddyZones }, labels: fragLabels(resources, leases) };
}
