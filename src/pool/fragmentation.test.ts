import assert from "node:assert/strict";
import { test } from "node:test";
import { fragmentationReport, unitMapText } from "./fragmentation.ts";
import { Pool } from "./pool.ts";
import { PAGE_BYTES, UNIT_BYTES } from "./units.ts";

function build() {
  const pool = new Pool({ capacityUnits: 32, policy: { discard: "defer" } });
  const gmem = pool.registerArena("vmm", { id: "vm1", sizeBytes: 8 * UNIT_BYTES, files: ["guest_memfd"] });
  const pair = pool.registerArena("vmm", { id: "cvm", sizeBytes: 2 * UNIT_BYTES, files: ["guest_memfd", "memfd"] });
  const a = pool.allocate("vmm", { arenaId: gmem.id, unitCount: 5, offsetUnits: 1 });
  pool.commit(a.id);
  const b = pool.allocate("vmm", { arenaId: pair.id, unitCount: 2 });
  pool.commit(b.id);
  return { pool, a, b };
}

test("the unit map shows free, leased, hole, deferred, split and claimed units", () => {
  const { pool, a, b } = build();
  pool.commit(pool.discard("vmm", { leaseId: a.leaseId, offsetBytes: 2 * UNIT_BYTES, lengthBytes: UNIT_BYTES }).id);
  pool.commit(pool.discard("vmm", { leaseId: a.leaseId, offsetBytes: 3 * UNIT_BYTES, lengthBytes: PAGE_BYTES }).id);
  pool.commit(pool.convert("vmm", { leaseId: a.leaseId, offsetBytes: 4 * UNIT_BYTES, lengthBytes: PAGE_BYTES, toPrivate: true, mode: "notify" }).id);
  pool.commit(pool.convert("vmm", { leaseId: b.leaseId, offsetBytes: UNIT_BYTES, lengthBytes: UNIT_BYTES, toPrivate: true, mode: "notify" }).id);
  pool.discard("vmm", { leaseId: a.leaseId, offsetBytes: 5 * UNIT_BYTES, lengthBytes: UNIT_BYTES });
  const report = fragmentationReport(pool);
  const vm1 = report.arenas.find((x) => x.id === "vm1")!;
  const cvm = report.arenas.find((x) => x.id === "cvm")!;
  // Unit 3 has a discarded page waiting (deferred before split); unit 4 mixes visibilities.
  assert.equal(unitMapText(vm1.unitRuns), ".LHDSC..");
  assert.equal(unitMapText(cvm.unitRuns), "LL");
  assert.equal(vm1.freeUnits, 3);
  assert.equal(vm1.largestFreeRun, 2);
  assert.equal(vm1.leaseCount, 1);
  assert.equal(vm1.populatedUnits, 4);
  assert.equal(vm1.splitUnits, 2);
  // The unit whose punch is in flight still holds its discarded pages until the punch commits.
  assert.equal(vm1.deferredBytes, PAGE_BYTES + UNIT_BYTES);
  assert.equal(vm1.discardPolicy, "defer");
  assert.equal(vm1.granularityBytes, UNIT_BYTES);
  assert.equal(cvm.populatedUnits, 2);
  assert.equal(cvm.staleBytes, 0);
  assert.equal(report.capacityUnits, 32);
  assert.equal(report.claimedUnits, 1);
  assert.equal(report.freeUnits + report.claimedUnits + report.leasedUnits, 32);
  assert.equal(report.intactFreeFraction, 1);
});

test("a pair with a partly converted unit shows it stale; maps can be left out", () => {
  const { pool, b } = build();
  pool.commit(pool.convert("vmm", { leaseId: b.leaseId, offsetBytes: 0, lengthBytes: PAGE_BYTES, toPrivate: true, mode: "notify" }).id);
  const report = fragmentationReport(pool, { withoutMaps: true });
  const cvm = report.arenas.find((x) => x.id === "cvm")!;
  assert.deepEqual(cvm.unitRuns, []);
  assert.equal(cvm.staleBytes, UNIT_BYTES);
  assert.equal(report.staleBytes, UNIT_BYTES);
  const withMap = fragmentationReport(pool).arenas.find((x) => x.id === "cvm")!;
  assert.equal(unitMapText(withMap.unitRuns), "SL");
});

test("pages punched inside leased units count as free memory that is not intact", () => {
  const pool = new Pool({ capacityUnits: 4, policy: { punchGranularityBytes: PAGE_BYTES } });
  const arena = pool.registerArena("vmm", { sizeBytes: 2 * UNIT_BYTES, files: ["memfd"] });
  const a = pool.allocate("vmm", { arenaId: arena.id, unitCount: 2 });
  pool.commit(a.id);
  pool.commit(pool.discard("vmm", { leaseId: a.leaseId, offsetBytes: 0, lengthBytes: UNIT_BYTES / 2 }).id);
  const report = fragmentationReport(pool);
  assert.equal(report.punchedInsideUnitsBytes, UNIT_BYTES / 2);
  assert.equal(report.intactFreeFraction, (2 * UNIT_BYTES) / (2 * UNIT_BYTES + UNIT_BYTES / 2));
  const empty = fragmentationReport(new Pool({ capacityUnits: 0 }));
  assert.equal(empty.intactFreeFraction, 1);
});

test("a whole unit discarded inside a larger punch block is deferred; a stale copy left by a failed punch is stale", () => {
  const pool = new Pool({ capacityUnits: 8 });
  const big = pool.registerArena("vmm", { sizeBytes: 2 * UNIT_BYTES, files: ["guest_memfd"], policy: { punchGranularityBytes: 2 * UNIT_BYTES } });
  const a = pool.allocate("vmm", { arenaId: big.id, unitCount: 2 });
  pool.commit(a.id);
  pool.commit(pool.discard("vmm", { leaseId: a.leaseId, offsetBytes: 0, lengthBytes: UNIT_BYTES }).id);
  const pair = pool.registerArena("vmm", { sizeBytes: UNIT_BYTES, files: ["guest_memfd", "memfd"] });
  const b = pool.allocate("vmm", { arenaId: pair.id, unitCount: 1 });
  pool.commit(b.id);
  const convert = pool.convert("vmm", { leaseId: b.leaseId, offsetBytes: 0, lengthBytes: UNIT_BYTES, toPrivate: true, mode: "notify" });
  const punch = convert.steps.findIndex((s) => s.op === "punch");
  pool.commit(convert.id, [punch]);
  const report = fragmentationReport(pool);
  assert.deepEqual(report.arenas.map((x) => unitMapText(x.unitRuns)), ["DL", "T"]);
  pool.assertInvariants();
});

test("pages punched inside a pair's leased units count too", () => {
  const pool = new Pool({ capacityUnits: 4, policy: { punchGranularityBytes: PAGE_BYTES } });
  const arena = pool.registerArena("vmm", { sizeBytes: UNIT_BYTES, files: ["guest_memfd", "memfd"] });
  const a = pool.allocate("vmm", { arenaId: arena.id, unitCount: 1, initiallyPrivate: true });
  pool.commit(a.id);
  pool.commit(pool.convert("vmm", { leaseId: a.leaseId, offsetBytes: 0, lengthBytes: UNIT_BYTES / 2, toPrivate: false, mode: "notify" }).id);
  const report = fragmentationReport(pool);
  // The gmem's now-shared half is punched page by page; the memfd unit is populated whole (a
  // populate is never less than a unit), so its private half is held stale until reconciled.
  assert.equal(report.punchedInsideUnitsBytes, UNIT_BYTES / 2);
  assert.equal(report.staleBytes, UNIT_BYTES / 2);
  assert.ok(report.intactFreeFraction < 1);
  pool.assertInvariants();
});

test("a sparse arena as large as the pool maps as runs: a few leases, a few runs, whatever its size", () => {
  const capacity = 1 << 27; // 256 TiB: a per-unit map of it did not fit in the heap (issue 12)
  const pool = new Pool({ capacityUnits: capacity });
  const arena = pool.registerArena("vmm", { id: "huge", sizeBytes: capacity * UNIT_BYTES, files: ["memfd"] });
  pool.commit(pool.allocate("vmm", { arenaId: arena.id, unitCount: 2, offsetUnits: 5 }).id);
  pool.commit(pool.allocate("vmm", { arenaId: arena.id, unitCount: 1, offsetUnits: capacity - 1 }).id);
  const [map] = fragmentationReport(pool, { arenaIds: new Set(["huge"]) }).arenas;
  assert.deepEqual(
    map!.unitRuns.map((r) => [r.firstUnit, r.unitCount, r.symbol]),
    [
      [0, 5, "."],
      [5, 2, "L"],
      [7, capacity - 8, "."],
      [capacity - 1, 1, "L"],
    ],
  );
});

test("the arena filter reports only the arenas asked for; the reserve's figures stay pool-wide, the punched pages are the arenas'", () => {
  const pool = new Pool({ capacityUnits: 8, policy: { punchGranularityBytes: PAGE_BYTES } });
  const punchedArena = pool.registerArena("vmm", { id: "p", sizeBytes: 2 * UNIT_BYTES, files: ["memfd"] });
  const other = pool.registerArena("vmm", { id: "o", sizeBytes: 2 * UNIT_BYTES, files: ["memfd"] });
  const lease = pool.allocate("vmm", { arenaId: punchedArena.id, unitCount: 2 });
  pool.commit(lease.id);
  pool.commit(pool.allocate("vmm", { arenaId: other.id, unitCount: 1 }).id);
  pool.commit(pool.discard("vmm", { leaseId: lease.leaseId, offsetBytes: 0, lengthBytes: UNIT_BYTES / 2 }).id);
  const whole = fragmentationReport(pool);
  assert.equal(whole.punchedInsideUnitsBytes, UNIT_BYTES / 2);
  const onlyOther = fragmentationReport(pool, { arenaIds: new Set(["o"]) });
  assert.deepEqual(onlyOther.arenas.map((x) => x.id), ["o"]);
  assert.equal(onlyOther.leasedUnits, whole.leasedUnits);
  assert.equal(onlyOther.punchedInsideUnitsBytes, 0);
  assert.equal(fragmentationReport(pool, { arenaIds: new Set(["p"]) }).punchedInsideUnitsBytes, UNIT_BYTES / 2);
});
