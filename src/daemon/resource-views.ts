/**
 * The service's resource views (ArenaInfo, LeaseInfo, Policy, unit maps), computed from
 * the pool core's records and the daemon's metadata. Read-only; cost is linear in the units
 * viewed (page-state counts work a 32-page word at a time).
 */
import { readFileSync } from "node:fs";
import { PAGES_PER_UNIT, PAGE_BYTES, UNIT_BYTES, fragmentationReport, type Arena, type Lease, type Pool, type PoolPolicy, type UnitMapSymbol } from "../pool/index.ts";
import { countPageStates } from "../pool/page-state-counts.ts";
import { populatedPredicate } from "../pool/population-planner.ts";
import type { ArenaMeta, LeaseMeta } from "./durable-state.ts";
import type { ArenaInfo, ArenaPolicyOverride, ArenaState, ArenaUnitMap, BuddyZone, Identity, LeaseInfo, Policy, ReserveMap, ReserveMode, UnitRun, UnitState } from "./pool-service.ts";

const PAGES = PAGES_PER_UNIT as number;
const PAGE = BigInt(PAGE_BYTES);
const UNIT = BigInt(UNIT_BYTES);

/** Units of a lease with no page populated on any side: discarded whole, back in the reserve. */
function holeUnits(lease: Lease, sides: 1 | 2): number {
  let holes = 0;
  for (let u = 0; u < lease.unitCount; u++) {
    let any = false;
    for (let side = 0 as 0 | 1; side < sides && !any; side++) any = lease.pages.any(u * PAGES, (u + 1) * PAGES, populatedPredicate(side));
    if (!any) holes++;
  }
  return holes;
}

function populatedUnits(lease: Lease, side: 0 | 1): number {
  let n = 0;
  for (let u = 0; u < lease.unitCount; u++) if (lease.pages.any(u * PAGES, (u + 1) * PAGES, populatedPredicate(side))) n++;
  return n;
}

export function policyInfo(policy: PoolPolicy): Policy {
  return {
    discardPolicy: policy.discard,
    punchGranularityBytes: BigInt(policy.punchGranularityBytes),
    deferredCapBytes: BigInt(policy.deferredCapBytes),
    deferredOverflowPolicy: policy.deferOverflow,
  };
}

export function arenaOverride(arena: Arena): ArenaPolicyOverride {
  return {
    arenaId: arena.id,
    ...(arena.policy.discard === undefined ? {} : { discardPolicy: arena.policy.discard }),
    ...(arena.policy.punchGranularityBytes === undefined ? {} : { punchGranularityBytes: BigInt(arena.policy.punchGranularityBytes) }),
  };
}

export function arenaInfo(pool: Pool, arena: Arena, meta: ArenaMeta, state: ArenaState): ArenaInfo {
  let leased = 0;
  let discarded = 0;
  let split = 0;
  let deferredPages = 0;
  const populated = [0, 0];
  for (const lease of arena.leases.values()) {
    leased += lease.unitCount;
    discarded += holeUnits(lease, arena.sides);
    split += lease.pages.splitUnitCount;
    deferredPages += countPageStates(lease.pages, 0, lease.unitCount).deferredPages;
    for (let side = 0 as 0 | 1; side < arena.sides; side++) populated[side]! += populatedUnits(lease, side);
  }
  const sizeBytes = BigInt(arena.sizeUnits) * UNIT;
  return {
    arenaId: arena.id,
    name: meta.name,
    kind: meta.kind,
    state,
    owner: meta.owner,
    sizeBytes,
    unitCount: arena.sizeUnits,
    leasedUnitCount: leased,
    discardedUnitCount: discarded,
    splitUnitCount: split,
    deferredBytes: BigInt(deferredPages) * PAGE,
    leaseCount: arena.leases.size,
    initialVisibility: meta.initialVisibility,
    files: meta.files.map((f, side) => ({
      fdType: f.fdType,
      serves: meta.kind === "pair" ? (side === 0 ? "private" : "shared") : undefined,
      sizeBytes,
      populatedUnitCount: populated[side] ?? 0,
      memfdName: f.memfdName,
    })),
    policy: {
      discardPolicy: pool.discardPolicyOf(arena),
      discardPolicyOverridden: arena.policy.discard !== undefined,
      punchGranularityBytes: BigInt(pool.granularityOf(arena)),
      punchGranularityOverridden: arena.policy.punchGranularityBytes !== undefined,
    },
    createTime: new Date(meta.createTime),
  };
}

export function leaseInfo(lease: Lease, sides: 1 | 2, owner: Identity, meta: LeaseMeta | undefined): LeaseInfo {
  const pages = lease.pages;
  const all = lease.unitCount * PAGES;
  const sharedLive = pages.count(0, all, (p, d) => ~p & ~d);
  const privateLive = pages.count(0, all, (p, d) => p & ~d);
  const discardedPages = pages.count(0, all, (_p, d) => d);
  return {
    leaseId: lease.id,
    arenaId: lease.arenaId,
    owner,
    offsetBytes: BigInt(lease.start) * UNIT,
    lengthBytes: BigInt(lease.unitCount) * UNIT,
    unitCount: lease.unitCount,
    label: meta?.label ?? "",
    sharedBytes: BigInt(sharedLive) * PAGE,
    privateBytes: BigInt(privateLive) * PAGE,
    discardedBytes: BigInt(discardedPages) * PAGE,
    discardedUnitCount: holeUnits(lease, sides),
    splitUnitCount: pages.splitUnitCount,
    createTime: new Date(meta?.createTime ?? 0),
  };
}

const SYMBOL_STATE: Record<UnitMapSymbol, UnitState> = {
  ".": "free",
  L: "leased",
  S: "split",
  D: "deferred",
  // A pair's stale copy: the unit is leased and live; the proto has no separate state for it.
  T: "leased",
  H: "discarded",
  C: "claimed",
};

/**
 * Unit maps of the given arenas, as runs of one state and one lease: the core's runs with their
 * symbols read as the proto's states (a stale copy is leased), adjacent runs merged when alike.
 * The work is the arenas' leased units and runs, never their sizes.
 */
export function unitMaps(pool: Pool, arenaIds: ReadonlySet<string>): ArenaUnitMap[] {
  const report = fragmentationReport(pool, { arenaIds });
  const maps: ArenaUnitMap[] = [];
  for (const a of report.arenas) {
    const runs: UnitRun[] = [];
    for (const run of a.unitRuns) {
      const state = SYMBOL_STATE[run.symbol];
      const leaseId = run.leaseId ?? "";
      const last = runs[runs.length - 1];
      if (last?.state === state && last.leaseId === leaseId) runs[runs.length - 1] = { ...last, unitCount: last.unitCount + run.unitCount };
      else runs.push({ firstUnit: run.firstUnit, unitCount: run.unitCount, state, leaseId });
    }
    maps.push({ arenaId: a.id, unitCount: a.sizeUnits, runs, largestFreeRunUnitCount: a.largestFreeRun });
  }
  return maps.sort((x, y) => (x.arenaId < y.arenaId ? -1 : x.arenaId > y.arenaId ? 1 : 0));
}

export function reserveMap(pool: Pool, mode: ReserveMode): ReserveMap {
  const counts: number[] = [];
  for (const [s, e] of pool.reserve.heldRuns()) {
    const order = Math.floor(Math.log2(e - s));
    while (counts.length <= order) counts.push(0);
    counts[order]!++;
  }
  return { mode, freeUnitCount: pool.reserve.freeUnits, largestFreeRunUnitCount: pool.reserve.largestFreeRun, freeRunCountsByOrder: counts };
}

/** /proc/buddyinfo, orders >= 9 (2 MiB); empty when unreadable. */
export function readBuddyInfo(path = "/proc/buddyinfo"): BuddyZone[] {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch {
    return [];
  }
  const zones: BuddyZone[] = [];
  for (const line of text.split("\n")) {
    const match = /^Node\s+(\d+),\s+zone\s+(\S+)\s+(.*)$/.exec(line.trim());
    if (match === null) continue;
    const counts = match[3]!.trim().split(/\s+/).map((n) => BigInt(n));
    const high = counts.slice(9);
    const freeBytes = high.reduce((sum, n, i) => sum + n * (4096n << BigInt(9 + i)), 0n);
    zones.push({ node: Number(match[1]), zone: match[2]!, firstOrder: 9, freeBlockCounts: high, freeBytes });
  }
  return zones;
}
