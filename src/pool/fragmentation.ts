/**
 * Fragmentation metrics and the per-arena unit map (DESIGN.md §8): what an operator looks at to
 * see whether free memory is still in intact 2 MiB units.
 */
import type { Arena, ArenaLayout, FileKind } from "./arena.ts";
import type { Lease } from "./lease.ts";
import { countPageStates } from "./page-state-counts.ts";
import type { Pool } from "./pool.ts";
import { populatedPredicate } from "./population-planner.ts";
import { PAGES_PER_UNIT, PAGE_BYTES, UNIT_BYTES } from "./units.ts";

const PAGES = PAGES_PER_UNIT as number;

/**
 * One symbol per unit state. Precedence when several apply: claimed > deferred > split > stale > leased.
 * Deferred comes before split: a partly discarded unit always has mixed page states, and what
 * an operator needs to see is that discarded pages wait there for the rest of their unit.
 */
export const UNIT_MAP_LEGEND = {
  ".": "free: not part of any lease",
  L: "leased: populated, all pages alike",
  S: "split: pages in mixed states",
  D: "deferred: discarded pages still populated",
  T: "stale: a pair's copy on the side the page does not live on",
  H: "hole: part of a lease, not populated (discarded whole)",
  C: "claimed: a kernel call is in flight",
} as const;
export type UnitMapSymbol = keyof typeof UNIT_MAP_LEGEND;

/**
 * A run of units alike: one symbol, one lease (none for free units). An arena's map is its runs
 * in order, every unit once. Runs, not a symbol per unit: building them costs the leased units
 * (at most the pool's capacity) and one run per gap, never the arena's size, so a sparse arena
 * of any size maps in the time its leases take (issue 12: a 2^28-unit arena's per-unit map
 * exhausted the heap).
 */
export interface UnitMapRun {
  readonly firstUnit: number;
  readonly unitCount: number;
  readonly symbol: UnitMapSymbol;
  /** The lease covering the run; undefined for free units. */
  readonly leaseId: string | undefined;
}

/** The runs as one symbol per unit (tests and small maps only: it costs the arena's size). */
export function unitMapText(runs: readonly UnitMapRun[]): string {
  return runs.map((r) => r.symbol.repeat(r.unitCount)).join("");
}

export interface ArenaFragmentation {
  readonly id: string;
  readonly owner: string;
  readonly layout: ArenaLayout;
  readonly files: readonly FileKind[];
  readonly sizeUnits: number;
  readonly leaseCount: number;
  /** Units of the arena not covered by a lease. */
  readonly freeUnits: number;
  readonly largestFreeRun: number;
  /** Populated side-units (a pair's unit populated on both sides counts twice). */
  readonly populatedUnits: number;
  readonly splitUnits: number;
  readonly deferredBytes: number;
  readonly staleBytes: number;
  /** Bytes freed inside units that stay leased (4 KiB punches): free, but not in intact units. */
  readonly punchedInsideUnitsBytes: number;
  readonly granularityBytes: number;
  readonly discardPolicy: string;
  /** The unit map as runs (empty with `withoutMaps`). */
  readonly unitRuns: readonly UnitMapRun[];
}

export interface PoolFragmentation {
  readonly capacityUnits: number;
  readonly freeUnits: number;
  readonly claimedUnits: number;
  /** Held units ear-marked for claims' reservations: neither free nor leased. */
  readonly reservedUnits: number;
  readonly leasedUnits: number;
  readonly reserveLargestFreeRun: number;
  readonly splitUnits: number;
  readonly deferredBytes: number;
  readonly staleBytes: number;
  readonly punchedInsideUnitsBytes: number;
  /** Free memory in intact units / all free memory (intact units + pages punched inside units). */
  readonly intactFreeFraction: number;
  readonly arenas: readonly ArenaFragmentation[];
}

export interface FragmentationOptions {
  /** Leave out unit maps (they are the only part that grows with the number of leases). */
  readonly withoutMaps?: boolean;
  /**
   * Only these arenas: the work is theirs alone. The reserve's figures stay pool-wide; the pages
   * punched inside leased units (and so `intactFreeFraction`) cover the arenas reported.
   */
  readonly arenaIds?: ReadonlySet<string>;
}

export function fragmentationReport(pool: Pool, options: FragmentationOptions = {}): PoolFragmentation {
  const wanted = options.arenaIds;
  const all = [...pool.arenas()];
  const arenas = (wanted === undefined ? all : all.filter((a) => wanted.has(a.id))).map((arena) => arenaFragmentation(pool, arena, options.withoutMaps !== true));
  const punched = arenas.reduce((n, a) => n + a.punchedInsideUnitsBytes, 0);
  const intactFree = pool.reserve.freeUnits * UNIT_BYTES;
  return {
    capacityUnits: pool.capacityUnits,
    freeUnits: pool.reserve.freeUnits,
    claimedUnits: pool.reserve.claimedUnits,
    reservedUnits: pool.reserve.reservedUnits,
    leasedUnits: pool.reserve.leasedUnits,
    reserveLargestFreeRun: pool.reserve.largestFreeRun,
    splitUnits: pool.splitUnits,
    deferredBytes: pool.deferredBytes,
    staleBytes: pool.staleBytes,
    punchedInsideUnitsBytes: punched,
    intactFreeFraction: intactFree + punched === 0 ? 1 : intactFree / (intactFree + punched),
    arenas,
  };
}

/** Appends `count` units of `symbol` (in `leaseId`) at `first`, merging with the last run when alike. */
function pushRun(runs: UnitMapRun[], first: number, count: number, symbol: UnitMapSymbol, leaseId: string | undefined): void {
  if (count === 0) return;
  const last = runs[runs.length - 1];
  if (last !== undefined && last.symbol === symbol && last.leaseId === leaseId && last.firstUnit + last.unitCount === first) runs[runs.length - 1] = { ...last, unitCount: last.unitCount + count };
  else runs.push({ firstUnit: first, unitCount: count, symbol, leaseId });
}

function arenaFragmentation(pool: Pool, arena: Arena, withMap: boolean): ArenaFragmentation {
  let populatedUnits = 0;
  let splitUnits = 0;
  let deferredPages = 0;
  let stalePages = 0;
  let punchedPages = 0;
  const runs: UnitMapRun[] = [];
  let next = 0;
  for (const lease of [...arena.leases.values()].sort((x, y) => x.start - y.start)) {
    const counts = countPageStates(lease.pages, 0, lease.unitCount);
    splitUnits += counts.splitUnits;
    deferredPages += counts.deferredPages;
    stalePages += counts.stalePages;
    for (let u = 0; u < lease.unitCount; u++) {
      for (let side = 0 as 0 | 1; side < arena.sides; side++) {
        const populated = lease.pages.count(u * PAGES, (u + 1) * PAGES, populatedPredicate(side));
        if (populated > 0) {
          populatedUnits++;
          punchedPages += PAGES - populated;
        }
      }
    }
    if (withMap) {
      pushRun(runs, next, lease.start - next, ".", undefined);
      for (let u = 0; u < lease.unitCount; u++) pushRun(runs, lease.start + u, 1, unitSymbol(lease, u), lease.id);
      next = lease.end;
    }
  }
  if (withMap) pushRun(runs, next, arena.sizeUnits - next, ".", undefined);
  return {
    id: arena.id,
    owner: arena.owner,
    layout: arena.layout,
    files: arena.files,
    sizeUnits: arena.sizeUnits,
    leaseCount: arena.leases.size,
    freeUnits: arena.free.size,
    largestFreeRun: arena.free.largestRun(),
    populatedUnits,
    splitUnits,
    deferredBytes: deferredPages * PAGE_BYTES,
    staleBytes: stalePages * PAGE_BYTES,
    punchedInsideUnitsBytes: punchedPages * PAGE_BYTES,
    granularityBytes: pool.granularityOf(arena),
    discardPolicy: pool.discardPolicyOf(arena),
    unitRuns: runs,
  };
}

function unitSymbol(lease: Lease, u: number): UnitMapSymbol {
  if (lease.busy.has(u)) return "C";
  const counts = countPageStates(lease.pages, u, u + 1);
  if (counts.deferredPages > 0) return "D";
  if (lease.pages.isSplit(u)) return "S";
  if (counts.stalePages > 0) return "T";
  const lo = u * PAGES;
  const hi = lo + PAGES;
  const populated = lease.pages.any(lo, hi, populatedPredicate(0)) || (lease.pages.sides === 2 && lease.pages.any(lo, hi, populatedPredicate(1)));
  return populated ? "L" : "H";
}
