import assert from "node:assert/strict";
import { test } from "node:test";
import * as core from "./index.ts";
import { FIELD_DISCARDED, FIELD_POPULATED_SIDE0 } from "./lease-pages.ts";
import { Lease } from "./lease.ts";
import { LeasePages } from "./lease-pages.ts";

const { Pool, UNIT_BYTES } = core;

/** A pool with one arena and one committed lease of 2 units at unit 2. */
function pool() {
  const p = new Pool({ capacityUnits: 8 });
  const arena = p.registerArena("vmm", { sizeBytes: 6 * UNIT_BYTES, files: ["memfd"] });
  const plan = p.allocate("vmm", { arenaId: arena.id, unitCount: 2, offsetUnits: 2 });
  p.commit(plan.id);
  p.assertInvariants();
  return { p, arena, lease: p.lease(plan.leaseId) };
}

function leaseMap(p: InstanceType<typeof Pool>): Map<string, Lease> {
  return (p as unknown as { leaseMap: Map<string, Lease> }).leaseMap;
}

test("the invariant checker notices a lease that covers free units", () => {
  const { p, arena } = pool();
  arena.free.add(2, 3);
  assert.throws(() => p.assertInvariants(), /overlaps free units/);
});

test("the invariant checker notices overlapping leases and a lease past its arena", () => {
  const { p, arena } = pool();
  const overlapping = new Lease("x", arena.id, "vmm", core.units(3), core.units(2), new LeasePages(2, 1, false), "active");
  arena.free.remove(4, 5);
  arena.leases.set("x", overlapping);
  leaseMap(p).set("x", overlapping);
  assert.throws(() => p.assertInvariants(), /overlap/);
  arena.leases.delete("x");
  const past = new Lease("y", arena.id, "vmm", core.units(5), core.units(2), new LeasePages(2, 1, false), "active");
  arena.free.remove(5, 6);
  arena.leases.set("y", past);
  leaseMap(p).set("y", past);
  assert.throws(() => p.assertInvariants(), /runs past arena/);
});

test("the invariant checker notices a lease indexed nowhere or in the wrong place", () => {
  const { p, arena, lease } = pool();
  leaseMap(p).set("ghost", new Lease("ghost", "none", "vmm", core.units(0), core.units(1), new LeasePages(1, 1, false), "active"));
  assert.throws(() => p.assertInvariants(), /belongs to no arena/);
  leaseMap(p).delete("ghost");
  leaseMap(p).set(lease.id, new Lease(lease.id, arena.id, "vmm", lease.start, lease.unitCount, lease.pages, "active"));
  assert.throws(() => p.assertInvariants(), /not indexed consistently/);
});

test("the invariant checker notices units neither free nor leased", () => {
  const { p, arena } = pool();
  arena.free.remove(0, 1);
  assert.throws(() => p.assertInvariants(), /free \+ leased = 5 units, size 6/);
});

test("the invariant checker notices populated units the reserve does not count, and stale totals", () => {
  const { p, lease } = pool();
  lease.pages.setField(FIELD_POPULATED_SIDE0, 0, 1024, false);
  assert.throws(() => p.assertInvariants(), /leases hold 0 populated units but the reserve counts 2 leased/);
  lease.pages.setField(FIELD_POPULATED_SIDE0, 0, 1024, true);
  lease.pages.setField(FIELD_DISCARDED, 0, 1, true);
  assert.throws(() => p.assertInvariants(), /running totals .* differ from recount/);
});

test("the reserve checker notices a slot both held and vacant, and broken conservation", () => {
  const { p } = pool();
  const reserve = p.reserve as unknown as { held: core.ExtentSet; vacant: core.ExtentSet };
  reserve.vacant.add(0, 1);
  assert.throws(() => p.assertInvariants(), /both held and vacant|conservation/);
  const { p: q } = pool();
  (q.reserve as unknown as { held: core.ExtentSet }).held.remove(0, 1);
  assert.throws(() => q.assertInvariants(), /conservation broken: free 5 \+ reserved 0 \+ leased 2 \+ claimed 0 = 7, capacity 8/);
});

test("returning more units than are leased is a bookkeeping error", () => {
  const { p } = pool();
  assert.throws(() => p.reserve.beginTakeBack(3), /3 units returned but only 2 are leased/);
});
