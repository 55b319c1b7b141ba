import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { FailedPreconditionError, InvalidArgumentError } from "./errors.ts";
import type { Plan } from "./plan.ts";
import { Pool } from "./pool.ts";
import type { PoolPolicy } from "./policy.ts";
import { poolFingerprint } from "./testing/pool-fingerprint.ts";
import { PAGE_BYTES, UNIT_BYTES } from "./units.ts";

function settle(pool: Pool, plan: Plan, failed: number[] = []) {
  pool.assertInvariants();
  const result = pool.commit(plan.id, failed);
  pool.assertInvariants();
  return result;
}

function setup(files: ("guest_memfd" | "memfd")[], initiallyPrivate: boolean, policy: Partial<PoolPolicy> = {}) {
  const pool = new Pool({ capacityUnits: 32, policy });
  const arena = pool.registerArena("vmm", { sizeBytes: 8 * UNIT_BYTES, files });
  const plan = pool.allocate("vmm", { arenaId: arena.id, unitCount: 2, initiallyPrivate });
  settle(pool, plan);
  return { pool, arena, leaseId: plan.leaseId };
}

describe("Pool: in-place conversion (one gmem)", () => {
  test("issues KVM_SET_MEMORY_ATTRIBUTES2 for the range and changes state only when it succeeds", () => {
    const { pool, leaseId } = setup(["guest_memfd"], false);
    const plan = pool.convert("vmm", { leaseId, offsetBytes: 0, lengthBytes: 4 * PAGE_BYTES, toPrivate: true, mode: "in-place" });
    assert.deepEqual(plan.steps, [{ op: "set-attributes", arenaId: plan.arenaId, side: 0, bytes: { start: 0, end: 4 * PAGE_BYTES }, private: true }]);
    assert.equal(pool.splitUnits, 0);
    settle(pool, plan, [0]);
    assert.equal(pool.splitUnits, 0);
    const again = pool.convert("vmm", { leaseId, offsetBytes: 0, lengthBytes: 4 * PAGE_BYTES, toPrivate: true, mode: "in-place" });
    settle(pool, again);
    assert.equal(pool.splitUnits, 1);
    assert.equal(pool.reserve.leasedUnits, 2);
  });

  test("a unit whose pages are all private again is reported collapsible", () => {
    const { pool, leaseId } = setup(["guest_memfd"], false);
    settle(pool, pool.convert("vmm", { leaseId, offsetBytes: 0, lengthBytes: PAGE_BYTES, toPrivate: true, mode: "in-place" }));
    const rest = pool.convert("vmm", { leaseId, offsetBytes: PAGE_BYTES, lengthBytes: UNIT_BYTES - PAGE_BYTES, toPrivate: true, mode: "in-place" });
    assert.deepEqual(settle(pool, rest).collapsibleUnits, [0]);
    const back = pool.convert("vmm", { leaseId, offsetBytes: 0, lengthBytes: PAGE_BYTES, toPrivate: false, mode: "in-place" });
    assert.deepEqual(settle(pool, back).collapsibleUnits, []);
  });

  test("notify mode on one gmem records the state the VMM set, with no kernel call", () => {
    const { pool, leaseId } = setup(["guest_memfd"], false);
    const plan = pool.convert("vmm", { leaseId, offsetBytes: 0, lengthBytes: 8 * PAGE_BYTES, toPrivate: true, mode: "notify" });
    assert.deepEqual(plan.steps, []);
    settle(pool, plan);
    assert.equal(pool.splitUnits, 1);
    assert.equal(pool.staleBytes, 0);
  });

  test("a memfd arena has no private memory; a pair cannot convert in place; modes are checked", () => {
    const memfd = setup(["memfd"], false);
    assert.throws(() => memfd.pool.convert("vmm", { leaseId: memfd.leaseId, offsetBytes: 0, lengthBytes: PAGE_BYTES, toPrivate: true, mode: "notify" }), (e) => e instanceof FailedPreconditionError && e.message.includes("memfd arena"));
    const pair = setup(["guest_memfd", "memfd"], false);
    assert.throws(() => pair.pool.convert("vmm", { leaseId: pair.leaseId, offsetBytes: 0, lengthBytes: PAGE_BYTES, toPrivate: true, mode: "in-place" }), /converts out of place/);
    assert.throws(() => pair.pool.convert("vmm", { leaseId: pair.leaseId, offsetBytes: 0, lengthBytes: PAGE_BYTES, toPrivate: true, mode: "both" as "notify" }), InvalidArgumentError);
  });
});

describe("Pool: out-of-place conversion (gmem + memfd pair)", () => {
  test("to private: the gmem unit is populated, the memfd copy goes stale and is punched when whole", () => {
    const { pool, leaseId } = setup(["guest_memfd", "memfd"], false);
    assert.equal(pool.reserve.leasedUnits, 2);
    const part = pool.convert("vmm", { leaseId, offsetBytes: 0, lengthBytes: 10 * PAGE_BYTES, toPrivate: true, mode: "notify" });
    assert.deepEqual(part.steps.map((s) => [s.op, s.side, s.bytes.start, s.bytes.end]), [["populate", 0, 0, UNIT_BYTES]]);
    settle(pool, part);
    assert.equal(pool.reserve.leasedUnits, 3);
    assert.equal(pool.staleBytes, 10 * PAGE_BYTES + (UNIT_BYTES - 10 * PAGE_BYTES));
    const rest = pool.convert("vmm", { leaseId, offsetBytes: 10 * PAGE_BYTES, lengthBytes: UNIT_BYTES - 10 * PAGE_BYTES, toPrivate: true, mode: "notify" });
    assert.deepEqual(rest.steps.map((s) => [s.op, s.side, s.bytes.start, s.bytes.end]), [["punch", 1, 0, UNIT_BYTES]]);
    settle(pool, rest);
    assert.equal(pool.reserve.leasedUnits, 2);
    assert.equal(pool.staleBytes, 0);
  });

  test("to shared from private: the memfd unit is populated and the gmem copy is freed when whole", () => {
    const { pool, leaseId } = setup(["guest_memfd", "memfd"], true);
    const plan = pool.convert("vmm", { leaseId, offsetBytes: UNIT_BYTES, lengthBytes: UNIT_BYTES, toPrivate: false, mode: "notify" });
    assert.deepEqual(plan.steps.map((s) => [s.op, s.side]), [["punch", 0], ["populate", 1]]);
    settle(pool, plan);
    assert.equal(pool.reserve.leasedUnits, 2);
  });

  test("with a 4 KiB granularity stale pages are punched at once, as today's VMMs do", () => {
    const { pool, leaseId } = setup(["guest_memfd", "memfd"], false, { punchGranularityBytes: PAGE_BYTES });
    const plan = pool.convert("vmm", { leaseId, offsetBytes: 0, lengthBytes: 3 * PAGE_BYTES, toPrivate: true, mode: "notify" });
    assert.deepEqual(plan.steps.map((s) => [s.op, s.side, s.bytes.end - s.bytes.start]), [["populate", 0, UNIT_BYTES], ["punch", 1, 3 * PAGE_BYTES]]);
    settle(pool, plan);
    assert.equal(pool.staleBytes, UNIT_BYTES - 3 * PAGE_BYTES);
    assert.equal(pool.splitUnits, 1);
  });

  test("policy zero zeroes the stale shared copies that stay populated", () => {
    const { pool, leaseId } = setup(["guest_memfd", "memfd"], false, { discard: "zero" });
    const plan = pool.convert("vmm", { leaseId, offsetBytes: 2 * PAGE_BYTES, lengthBytes: 2 * PAGE_BYTES, toPrivate: true, mode: "notify" });
    assert.deepEqual(plan.steps.map((s) => [s.op, s.side, s.bytes.start, s.bytes.end]), [["populate", 0, 0, UNIT_BYTES], ["zero", 1, 2 * PAGE_BYTES, 4 * PAGE_BYTES]]);
    settle(pool, plan);
  });

  test("a conversion that needs more units than are free changes nothing", () => {
    const pool = new Pool({ capacityUnits: 2 });
    const arena = pool.registerArena("vmm", { sizeBytes: 2 * UNIT_BYTES, files: ["guest_memfd", "memfd"] });
    const alloc = pool.allocate("vmm", { arenaId: arena.id, unitCount: 2 });
    settle(pool, alloc);
    const before = poolFingerprint(pool);
    assert.throws(() => pool.convert("vmm", { leaseId: alloc.leaseId, offsetBytes: 0, lengthBytes: PAGE_BYTES, toPrivate: true, mode: "notify" }), /needs 1 more units, 0 free/);
    assert.deepEqual(poolFingerprint(pool), before);
  });
});
