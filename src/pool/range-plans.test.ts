import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { PolicyRejectError } from "./discard-decision.ts";
import { FailedPreconditionError, InvalidArgumentError, NotFoundError } from "./errors.ts";
import { exportSnapshot } from "./snapshot.ts";
import { spansOf, totalsOf } from "./plan-totals.ts";
import { Pool, type PoolOptions } from "./pool.ts";
import { arenaUnitsOf, PAGE_BYTES, UNIT_BYTES } from "./units.ts";

/** An arena of 16 units with two adjacent leases: units [2, 4) and [4, 8). */
function twoLeases(options: Partial<PoolOptions> & { files?: ("guest_memfd" | "memfd")[] } = {}) {
  const pool = new Pool({ capacityUnits: 32, ...(options.policy === undefined ? {} : { policy: options.policy }) });
  const arena = pool.registerArena("vmm", { sizeBytes: 16 * UNIT_BYTES, files: options.files ?? ["guest_memfd"] });
  const a = pool.allocate("vmm", { arenaId: arena.id, unitCount: 2, offsetUnits: 2 });
  const b = pool.allocate("vmm", { arenaId: arena.id, unitCount: 4, offsetUnits: 4 });
  pool.commit(a.id);
  pool.commit(b.id);
  return { pool, arena, first: a.leaseId, second: b.leaseId };
}

function rejects(fn: () => unknown, kind: abstract new (...args: never[]) => Error, message: string, fields: Record<string, string>): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof kind, String(e));
    assert.equal(e.message, message);
    assert.deepEqual({ ...(e as unknown as { fields: object }).fields }, fields);
    return true;
  });
}

describe("Pool: operations over an arena range", () => {
  test("a discard over two leases is one plan per lease, and the results add up", () => {
    const { pool, arena, first, second } = twoLeases();
    const plans = pool.discardRange("vmm", { arenaId: arena.id, offsetBytes: 3 * UNIT_BYTES, lengthBytes: 2 * UNIT_BYTES });
    assert.deepEqual(plans.map((p) => p.leaseId), [first, second]);
    const results = plans.map((p) => pool.commit(p.id));
    assert.deepEqual(results.map((r) => [r.kind, r.unitsReturned, r.punchedBytes]), [["discard", 1, UNIT_BYTES], ["discard", 1, UNIT_BYTES]]);
    const totals = totalsOf(results);
    assert.equal(totals.unitsReturned, 2);
    assert.equal(totals.punchedBytes, 2 * UNIT_BYTES);
    assert.equal(totals.discardPolicy, undefined, "whole units need no policy");
    pool.assertInvariants();
  });

  test("a populate reports the discarded bytes it made live again, and the units it took", () => {
    const { pool, arena } = twoLeases({ policy: { discard: "defer" } });
    for (const p of pool.discardRange("vmm", { arenaId: arena.id, offsetBytes: 4 * UNIT_BYTES, lengthBytes: 3 * PAGE_BYTES })) pool.commit(p.id);
    for (const p of pool.discardRange("vmm", { arenaId: arena.id, offsetBytes: 5 * UNIT_BYTES, lengthBytes: UNIT_BYTES })) pool.commit(p.id);
    const plans = pool.populateRange("vmm", { arenaId: arena.id, offsetBytes: 4 * UNIT_BYTES, lengthBytes: 2 * UNIT_BYTES });
    const totals = totalsOf(plans.map((p) => pool.commit(p.id)));
    assert.equal(totals.restoredBytes, 3 * PAGE_BYTES + UNIT_BYTES);
    assert.equal(totals.unitsTaken, 1, "the punched unit comes back; the deferred pages were never freed");
    assert.equal(totals.populatedBytes, UNIT_BYTES);
    pool.assertInvariants();
  });

  test("a conversion reports only the bytes not already in the target state, and the collapsible units as runs", () => {
    const { pool, arena } = twoLeases();
    const half = pool.convertRange("vmm", { arenaId: arena.id, offsetBytes: 4 * UNIT_BYTES, lengthBytes: UNIT_BYTES / 2, toPrivate: true, mode: "notify" });
    assert.equal(totalsOf(half.map((p) => pool.commit(p.id))).convertedBytes, UNIT_BYTES / 2);
    const all = pool.convertRange("vmm", { arenaId: arena.id, offsetBytes: 2 * UNIT_BYTES, lengthBytes: 6 * UNIT_BYTES, toPrivate: true, mode: "notify" });
    const totals = totalsOf(all.map((p) => pool.commit(p.id)));
    assert.equal(totals.convertedBytes, 6 * UNIT_BYTES - UNIT_BYTES / 2);
    assert.deepEqual(totals.collapsibleUnits, [{ firstUnit: 2, unitCount: 6 }]);
  });

  test("a failed step is left out of the figures", () => {
    const { pool, arena } = twoLeases();
    const [plan] = pool.discardRange("vmm", { arenaId: arena.id, offsetBytes: 4 * UNIT_BYTES, lengthBytes: 2 * UNIT_BYTES });
    assert.ok(plan !== undefined);
    assert.deepEqual(plan.steps.map((s) => s.op), ["punch"], "one punch step of 2 units");
    const result = pool.commit(plan.id, [0]);
    assert.deepEqual({ reverted: result.reverted, unitsReturned: result.unitsReturned, punchedBytes: result.punchedBytes }, { reverted: 1, unitsReturned: 0, punchedBytes: 0 });
    pool.assertInvariants();
  });

  test("bad ranges are refused naming the field, and change nothing", () => {
    const { pool, arena } = twoLeases({ policy: { discard: "reject" } });
    const before = JSON.stringify(exportSnapshot(pool));
    const id = arena.id;
    rejects(() => pool.discardRange("vmm", { arenaId: id, offsetBytes: 100, lengthBytes: PAGE_BYTES }), InvalidArgumentError, "discard offset 100 and length 4096 must be multiples of 4096", { field: "offset_bytes", value: "100" });
    rejects(() => pool.populateRange("vmm", { arenaId: id, offsetBytes: 0, lengthBytes: 0 }), InvalidArgumentError, "populate length is 0", { field: "length_bytes", value: "0" });
    rejects(() => pool.convertRange("vmm", { arenaId: id, offsetBytes: 15 * UNIT_BYTES, lengthBytes: 2 * UNIT_BYTES, toPrivate: true, mode: "notify" }), InvalidArgumentError, `convert range [${15 * UNIT_BYTES}, ${17 * UNIT_BYTES}) passes the end of arena "${id}" (${16 * UNIT_BYTES} bytes)`, { resource: "arena", id, field: "length_bytes", value: String(2 * UNIT_BYTES) });
    rejects(() => pool.discardRange("vmm", { arenaId: id, offsetBytes: 7 * UNIT_BYTES, lengthBytes: 2 * UNIT_BYTES }), FailedPreconditionError, `discard range [0x1000000, 0x1200000) of arena "${id}" is not leased by the caller`, { resource: "arena", id, field: "offset_bytes", value: String(8 * UNIT_BYTES) });
    rejects(() => pool.discardRange("intruder", { arenaId: id, offsetBytes: 4 * UNIT_BYTES, lengthBytes: UNIT_BYTES }), NotFoundError, `arena "${id}" does not exist`, { resource: "arena", id });
    // The last segment is refused by policy: the first one's plan is cancelled, nothing changes.
    assert.throws(() => pool.discardRange("vmm", { arenaId: id, offsetBytes: 3 * UNIT_BYTES, lengthBytes: 2 * UNIT_BYTES + PAGE_BYTES }), (e: unknown) => {
      assert.ok(e instanceof PolicyRejectError);
      assert.match(e.message, new RegExp(`^discard \\[0x600000, 0xa01000\\) of arena "${id}" is inside \\[0x600000, 0xc00000\\), which it does not cover whole; policy reject: discard whole units \\(`));
      return true;
    });
    assert.equal(pool.pendingPlanCount, 0);
    assert.equal(JSON.stringify(exportSnapshot(pool)), before);
  });

  test("a memfd arena has no private pages to convert", () => {
    const { pool, arena } = twoLeases({ files: ["memfd"] });
    rejects(() => pool.convertRange("vmm", { arenaId: arena.id, offsetBytes: 4 * UNIT_BYTES, lengthBytes: UNIT_BYTES, toPrivate: true, mode: "notify" }), FailedPreconditionError, `arena "${arena.id}" is a memfd arena: it has no private pages`, { resource: "arena", id: arena.id });
  });

  test("the size_bytes rule: a positive multiple of 2 MiB, at most 2^32 units", () => {
    assert.equal(arenaUnitsOf(4n * BigInt(UNIT_BYTES)), 4);
    rejects(() => arenaUnitsOf(0n), InvalidArgumentError, "size_bytes 0 is not a positive multiple of 2 MiB", { field: "size_bytes", value: "0" });
    rejects(() => arenaUnitsOf(4096n), InvalidArgumentError, "size_bytes 4096 is not a positive multiple of 2 MiB", { field: "size_bytes", value: "4096" });
    const tooBig = (2n ** 32n + 1n) * BigInt(UNIT_BYTES);
    rejects(() => arenaUnitsOf(tooBig), InvalidArgumentError, `size_bytes ${tooBig} is more than 2^32 units`, { field: "size_bytes", value: String(tooBig) });
  });

  test("unit spans merge, sort and drop repeats", () => {
    assert.deepEqual(spansOf([7, 3, 4, 4, 5, 9]), [{ firstUnit: 3, unitCount: 3 }, { firstUnit: 7, unitCount: 1 }, { firstUnit: 9, unitCount: 1 }]);
    assert.deepEqual(spansOf([]), []);
  });
});
