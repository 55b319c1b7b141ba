import assert from "node:assert/strict";
import { test } from "node:test";
import { fragmentationReport } from "./fragmentation.ts";
import { Pool } from "./pool.ts";
import { exportSnapshot, importSnapshot, SNAPSHOT_VERSION, type PoolSnapshot } from "./snapshot.ts";
import { PAGE_BYTES, UNIT_BYTES } from "./units.ts";

function busyPool() {
  const pool = new Pool({ capacityUnits: 40, maxStepUnits: 2, policy: { discard: "defer" } });
  const gmem = pool.registerArena("vmm-a", { sizeBytes: 16 * UNIT_BYTES, files: ["guest_memfd"], policy: { discard: "zero" } });
  const pair = pool.registerArena("vmm-b", { sizeBytes: 4 * UNIT_BYTES, files: ["guest_memfd", "memfd"] });
  const a = pool.allocate("vmm-a", { arenaId: gmem.id, unitCount: 6 });
  pool.commit(a.id);
  const b = pool.allocate("vmm-b", { arenaId: pair.id, unitCount: 4, initiallyPrivate: true });
  pool.commit(b.id);
  pool.commit(pool.convert("vmm-a", { leaseId: a.leaseId, offsetBytes: 5 * PAGE_BYTES, lengthBytes: 7 * PAGE_BYTES, toPrivate: true, mode: "notify" }).id);
  pool.commit(pool.convert("vmm-b", { leaseId: b.leaseId, offsetBytes: UNIT_BYTES, lengthBytes: 3 * PAGE_BYTES, toPrivate: false, mode: "notify" }).id);
  pool.commit(pool.discard("vmm-a", { leaseId: a.leaseId, offsetBytes: 2 * UNIT_BYTES, lengthBytes: UNIT_BYTES }).id);
  return { pool, a, b };
}

test("a snapshot survives JSON and rebuilds the same pool", () => {
  const { pool } = busyPool();
  const copy = importSnapshot(JSON.parse(JSON.stringify(exportSnapshot(pool))) as PoolSnapshot);
  assert.deepEqual(fragmentationReport(copy), fragmentationReport(pool));
  assert.deepEqual(copy.policy, pool.policy);
  assert.equal(copy.splitUnits, 2);
  assert.ok(copy.staleBytes > 0);
  copy.commit(copy.release("vmm-a", [...copy.leases()][0]!.id).id);
  copy.assertInvariants();
});

test("a snapshot taken while plans are in flight describes the pool as if they were aborted", () => {
  const { pool, a } = busyPool();
  const before = fragmentationReport(exportAndImport(pool));
  const alloc = pool.allocate("vmm-a", { arenaId: pool.lease(a.leaseId).arenaId, unitCount: 3 });
  pool.release("vmm-b", [...pool.leases()].find((l) => l.owner === "vmm-b")!.id);
  const during = exportAndImport(pool);
  assert.deepEqual(fragmentationReport(during), before);
  assert.equal(during.reserve.freeUnits + during.reserve.leasedUnits, 40);
  pool.abort(alloc.id);
});

test("a snapshot of another version or with inconsistent leases is refused", () => {
  const { pool } = busyPool();
  const snapshot = exportSnapshot(pool);
  assert.throws(() => importSnapshot({ ...snapshot, version: SNAPSHOT_VERSION + 1 }), /snapshot version 2 is not 1/);
  const broken = JSON.parse(JSON.stringify(snapshot)) as { arenas: { leases: { unitBytes: string }[] }[] };
  broken.arenas[0]!.leases[0]!.unitBytes = btoa("x");
  assert.throws(() => importSnapshot(broken as unknown as typeof snapshot), /1 unit bytes for 6 units/);
  const conserved = { ...snapshot, reserveHeldRuns: [[0, 40]] as [number, number][] };
  assert.throws(() => importSnapshot(conserved), /populated units/);
  assert.throws(() => importSnapshot({ ...snapshot, reserveHeldRuns: [[0, 41]] }), /outside capacity/);
});

function exportAndImport(pool: Pool): Pool {
  return importSnapshot(JSON.parse(JSON.stringify(exportSnapshot(pool))) as PoolSnapshot);
}
