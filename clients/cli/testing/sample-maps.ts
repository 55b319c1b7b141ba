/**
 * Hand-built fragmentation maps and resources with known answers, for the renderers' and the
 * commands' tests.
 */
import type { ArenaUnitMap, FragmentationMap, PoolStatus, UnitRun, UnitState } from "../../node/src/resources.ts";

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
