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
  const handingOut = new Map<string, number>();
  const arenaHeld = new Map<string, number>();
  for (const plan of pool.pendingPlans()) {
    for (const step of plan.steps) if (step.op === "populate") handingOut.set(step.arenaId, (handingOut.get(step.arenaId) ?? 0) + step.unitsTaken);
  }
  for (const arena of pool.arenas()) {
    let arenaPopulated = 0;
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
          if (lease.pages.any(u * PAGES, (u + 1) * PAGES, isPopulated)) arenaPopulated++;
        }
      }
      const counts = countPageStates(lease.pages, 0, lease.unitCount);
      totals.deferredPages += counts.deferredPages;
      totals.stalePages += counts.stalePages;
      totals.splitUnits += counts.splitUnits;
    });
    if (covered !== arena.sizeUnits) throw new Error(`arena "${arena.id}": free + leased = ${covered} units, size ${arena.sizeUnits}`);
    populatedSideUnits += arenaPopulated;
    arenaHeld.set(arena.id, arenaPopulated + (handingOut.get(arena.id) ?? 0));
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
  for (const arena of pool.arenas()) {
    const held = arenaHeld.get(arena.id) ?? 0;
    if (arena.poolUnits !== held) throw new Error(`arena "${arena.id}" counts ${arena.poolUnits} units from the pool but holds ${held} (populated + handing out)`);
    if (arena.reservation !== undefined && pool.findReservation(arena.reservation)?.arenaId !== arena.id) throw new Error(`arena "${arena.id}" names claim "${arena.reservation}", whose reservation does not name it`);
  }
  let reserved = 0;
  for (const reservation of pool.reservations()) {
    reserved += pool.reservedUnitsOf(reservation);
    if (reservation.arenaId !== undefined && pool.findArena(reservation.arenaId)?.reservation !== reservation.claimUid) throw new Error(`claim "${reservation.claimUid}" names arena "${reservation.arenaId}", which does not name it`);
  }
  if (reserved !== pool.reserve.reservedUnits) throw new Error(`reservations ear-mark ${reserved} units but the reserve counts ${pool.reserve.reservedUnits} reserved`);
}
