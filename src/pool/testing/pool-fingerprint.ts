/**
 * Tests only: everything observable about a Pool, for "changes nothing" checks (a refused or
 * cancelled call must leave it deep-equal): the snapshot the journal would keep, the lease
 * states and busy ranges, the totals, the reserve's slots, every arena's free extents, the
 * fragmentation report with its unit maps, and the plans pending. Checks the invariants first.
 */
import { fragmentationReport } from "../fragmentation.ts";
import type { Pool } from "../pool.ts";
import { exportSnapshot } from "../snapshot.ts";

export function poolFingerprint(pool: Pool) {
  pool.assertInvariants();
  return {
    snapshot: exportSnapshot(pool),
    leases: [...pool.leases()].map((l) => [l.id, l.state, l.busy.size]),
    totals: [pool.deferredBytes, pool.staleBytes, pool.splitUnits],
    reserve: [pool.reserve.freeUnits, pool.reserve.claimedUnits, pool.reserve.leasedUnits, pool.reserve.heldRuns()],
    free: [...pool.arenas()].map((a) => [a.id, a.free.size, a.free.largestRun()]),
    fragmentation: fragmentationReport(pool),
    pending: pool.pendingPlanCount,
  };
}
