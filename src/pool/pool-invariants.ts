/**
 * The invariant checker of DESIGN.md §3, over a whole pool. Slow on purpose (it recounts
 * everything from the leases' page state); tests call it after every step.
 */
import { countPageStates, type PageStateCounts } from "./page-state-counts.ts";
import type { Side } from "./plan.ts";
import type { Pool } from "./pool.ts";
import { populatedPredicate } from "./population-planner.ts";
import { PAGES_PER_UNIT } from "./units.ts";

const PAGES = PAGES_PER_UNIT as number;

export function checkPoolInvariants(pool: Pool, runningTotals: PageStateCounts): void {
  pool.reserve.assertInvariants();
  let populatedSideUnits = 0;
  let claimedForPunch = 0;
  const totals = { deferredPages: 0, stalePages: 0, splitUnits: 0 };
  for (const plan of pool.pendingPlans()) {
    for (const step of plan.steps) if (step.op === "punch") claimedForPunch += step.unitsReturned;
  }
  const leaseIds = new Set<string>();
  for (const arena of pool.arenas()) {
    arena.free.assertInvariants();
    let covered = arena.free.size;
    const sorted = [...arena.leases.values()].sort((a, b) => a.start - b.start);
    sorted.forEach((lease, i) => {
      leaseIds.add(lease.id);
      if (pool.lease(lease.id) !== lease || lease.arenaId !== arena.id) throw new Error(`lease "${lease.id}" is not indexed consistently`);
      if (lease.owner !== arena.owner) throw new Error(`lease "${lease.id}" is owned by ${lease.owner}, its arena "${arena.id}" by ${arena.owner}`);
      if (arena.free.intersects(lease.start, lease.end)) throw new Error(`lease "${lease.id}" overlaps free units of arena "${arena.id}"`);
      if (lease.end > arena.sizeUnits) throw new Error(`lease "${lease.id}" runs past arena "${arena.id}"`);
      const next = sorted[i + 1];
      if (next !== undefined && next.start < lease.end) throw new Error(`leases "${lease.id}" and "${next.id}" overlap`);
      covered += lease.unitCount;
      lease.pages.assertInvariants();
      lease.busy.assertInvariants();
      for (let side = 0 as Side; side < arena.sides; side++) {
        const isPopulated = populatedPredicate(side);
        for (let u = 0; u < lease.unitCount; u++) {
          if (lease.pages.any(u * PAGES, (u + 1) * PAGES, isPopulated)) populatedSideUnits++;
        }
      }
      const counts = countPageStates(lease.pages, 0, lease.unitCount);
      totals.deferredPages += counts.deferredPages;
      totals.stalePages += counts.stalePages;
      totals.splitUnits += counts.splitUnits;
    });
    if (covered !== arena.sizeUnits) throw new Error(`arena "${arena.id}": free + leased = ${covered} units, size ${arena.sizeUnits}`);
  }
  for (const lease of pool.leases()) {
    if (!leaseIds.has(lease.id)) throw new Error(`lease "${lease.id}" belongs to no arena`);
  }
  if (populatedSideUnits !== pool.reserve.leasedUnits + claimedForPunch) {
    throw new Error(`leases hold ${populatedSideUnits} populated units but the reserve counts ${pool.reserve.leasedUnits} leased + ${claimedForPunch} being punched`);
  }
  if (totals.deferredPages !== runningTotals.deferredPages || totals.stalePages !== runningTotals.stalePages || totals.splitUnits !== runningTotals.splitUnits) {
    throw new Error(`running totals ${JSON.stringify(runningTotals)} differ from recount ${JSON.stringify(totals)}`);
  }
}
