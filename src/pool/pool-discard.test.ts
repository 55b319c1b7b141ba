import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { ConflictError, ExhaustedError, FailedPreconditionError, InvalidArgumentError } from "./errors.ts";
import type { Plan, PunchStep } from "./plan.ts";
import { Pool, type PoolOptions } from "./pool.ts";
import { poolFingerprint } from "./testing/pool-fingerprint.ts";
import { PAGE_BYTES, UNIT_BYTES } from "./units.ts";

const MiB = 1024 * 1024;

function leased(options: Partial<PoolOptions> & { unitCount?: number; files?: ("guest_memfd" | "memfd")[] } = {}) {
  const pool = new Pool({ capacityUnits: options.capacityUnits ?? 64, ...(options.policy === undefined ? {} : { policy: options.policy }) });
  const arena = pool.registerArena("vmm", { sizeBytes: 32 * UNIT_BYTES, files: options.files ?? ["guest_memfd"] });
  const plan = pool.allocate("vmm", { arenaId: arena.id, unitCount: options.unitCount ?? 4, offsetUnits: 4 });
  pool.commit(plan.id);
  const base = 4 * UNIT_BYTES;
  return { pool, arena, leaseId: plan.leaseId, base };
}

function settle(pool: Pool, plan: Plan, failed: number[] = []) {
  pool.assertInvariants();
  const result = pool.commit(plan.id, failed);
  pool.assertInvariants();
  return result;
}

describe("Pool: discard", () => {
  test("a whole-unit discard punches the unit and returns it to the reserve under every policy", () => {
    for (const discard of ["reject", "zero", "defer"] as const) {
      const { pool, leaseId, base } = leased({ policy: { discard } });
      const plan = pool.discard("vmm", { leaseId, offsetBytes: base + UNIT_BYTES, lengthBytes: UNIT_BYTES });
      assert.deepEqual(plan.steps, [{ op: "punch", arenaId: plan.arenaId, side: 0, bytes: { start: base + UNIT_BYTES, end: base + 2 * UNIT_BYTES }, unitsReturned: 1, reserveSlots: [{ start: 60, end: 61 }] }]);
      assert.equal(plan.discard?.policy, "none");
      assert.equal(plan.discard.punchedBytes, UNIT_BYTES);
      settle(pool, plan);
      assert.equal(pool.reserve.freeUnits, 61, discard);
    }
  });

  test("reject refuses a sub-unit discard, names the aligned part, and changes nothing", () => {
    const { pool, leaseId, base } = leased({ policy: { discard: "reject" } });
    const before = poolFingerprint(pool);
    assert.throws(
      () => pool.discard("vmm", { leaseId, offsetBytes: base + PAGE_BYTES, lengthBytes: 2 * UNIT_BYTES }),
      (e) => e instanceof FailedPreconditionError && e.message.includes("not aligned to the 2 MiB punch granularity") && e.message.includes(`the aligned part is [${base + UNIT_BYTES}, ${base + 2 * UNIT_BYTES})`),
    );
    assert.deepEqual(poolFingerprint(pool), before);
    assert.throws(() => pool.discard("vmm", { leaseId, offsetBytes: base, lengthBytes: PAGE_BYTES }), /no whole 2 MiB block lies inside it/);
    assert.deepEqual(poolFingerprint(pool), before);
  });

  test("defer marks pages discarded and punches the unit once all its pages are discarded", () => {
    const { pool, leaseId, base } = leased({ policy: { discard: "defer" } });
    const first = pool.discard("vmm", { leaseId, offsetBytes: base, lengthBytes: 256 * PAGE_BYTES });
    assert.equal(first.steps.length, 0);
    assert.deepEqual(first.discard, { policy: "defer", punchedBytes: 0, zeroedBytes: 0, deferredBytes: 1 * MiB });
    settle(pool, first);
    assert.equal(pool.deferredBytes, 1 * MiB);
    assert.equal(pool.splitUnits, 1);
    const second = pool.discard("vmm", { leaseId, offsetBytes: base + 256 * PAGE_BYTES, lengthBytes: 256 * PAGE_BYTES });
    assert.deepEqual(second.steps.map((s) => s.op), ["punch"]);
    settle(pool, second);
    assert.equal(pool.deferredBytes, 0);
    assert.equal(pool.splitUnits, 0);
    assert.equal(pool.reserve.freeUnits, 61);
  });

  test("a discard that completes a deferred unit reports the unit punched and nothing deferred", () => {
    const { pool, leaseId, base } = leased({ policy: { discard: "defer" } });
    settle(pool, pool.discard("vmm", { leaseId, offsetBytes: base, lengthBytes: PAGE_BYTES }));
    const rest = pool.discard("vmm", { leaseId, offsetBytes: base + PAGE_BYTES, lengthBytes: UNIT_BYTES - PAGE_BYTES });
    assert.deepEqual(rest.steps.map((s) => [s.op, s.bytes.start - base, s.bytes.end - base]), [["punch", 0, UNIT_BYTES]]);
    // The punch covers page 0 too (deferred by the first call, outside this range).
    assert.deepEqual(rest.discard, { policy: "defer", punchedBytes: UNIT_BYTES, zeroedBytes: 0, deferredBytes: 0 });
    settle(pool, rest);
    assert.equal(pool.deferredBytes, 0);
  });

  test("pages discarded before are already-discarded: never deferred again", () => {
    const { pool, leaseId, base } = leased({ policy: { discard: "defer" } });
    settle(pool, pool.discard("vmm", { leaseId, offsetBytes: base, lengthBytes: UNIT_BYTES }));
    const punchedPage = pool.discard("vmm", { leaseId, offsetBytes: base, lengthBytes: PAGE_BYTES });
    assert.deepEqual(punchedPage.discard, { policy: "defer", punchedBytes: 0, zeroedBytes: 0, deferredBytes: 0 });
    settle(pool, punchedPage);
    settle(pool, pool.discard("vmm", { leaseId, offsetBytes: base + UNIT_BYTES, lengthBytes: PAGE_BYTES }));
    const overlapping = pool.discard("vmm", { leaseId, offsetBytes: base + UNIT_BYTES, lengthBytes: 3 * PAGE_BYTES });
    assert.deepEqual(overlapping.discard, { policy: "defer", punchedBytes: 0, zeroedBytes: 0, deferredBytes: 2 * PAGE_BYTES });
    settle(pool, overlapping);
    assert.equal(pool.deferredBytes, 3 * PAGE_BYTES);
  });

  test("in a pair a page is deferred while either file still holds it", () => {
    const { pool, leaseId, base } = leased({ files: ["guest_memfd", "memfd"], policy: { discard: "defer" } });
    // Page 0 becomes private (its gmem unit is populated); the rest of the unit stays shared.
    const convert = pool.convert("vmm", { leaseId, offsetBytes: base, lengthBytes: PAGE_BYTES, toPrivate: true, mode: "notify" });
    settle(pool, convert);
    // Discarding the shared pages empties the memfd unit (punched) but the gmem unit keeps page
    // 0 live, so pages 1..511 stay populated there: deferred, and punched on the other side.
    const shared = pool.discard("vmm", { leaseId, offsetBytes: base + PAGE_BYTES, lengthBytes: UNIT_BYTES - PAGE_BYTES });
    assert.deepEqual(shared.steps.map((s) => [s.op, s.side]), [["punch", 1]]);
    assert.deepEqual(shared.discard, { policy: "defer", punchedBytes: UNIT_BYTES, zeroedBytes: 0, deferredBytes: UNIT_BYTES - PAGE_BYTES });
    settle(pool, shared);
  });

  test("the deferred cap turns further sub-unit discards into reject or zero", () => {
    const capped = leased({ policy: { discard: "defer", deferredCapBytes: 8 * PAGE_BYTES, deferOverflow: "reject" } });
    settle(capped.pool, capped.pool.discard("vmm", { leaseId: capped.leaseId, offsetBytes: capped.base, lengthBytes: 8 * PAGE_BYTES }));
    assert.throws(() => capped.pool.discard("vmm", { leaseId: capped.leaseId, offsetBytes: capped.base + UNIT_BYTES, lengthBytes: PAGE_BYTES }), /deferred cap of 32 KiB is reached \(32 KiB deferred\)/);
    const zeroing = leased({ policy: { discard: "defer", deferredCapBytes: 0, deferOverflow: "zero" } });
    const plan = zeroing.pool.discard("vmm", { leaseId: zeroing.leaseId, offsetBytes: zeroing.base, lengthBytes: 2 * PAGE_BYTES });
    assert.equal(plan.discard?.policy, "zero");
    assert.deepEqual(plan.steps.map((s) => s.op), ["zero"]);
    settle(zeroing.pool, plan);
    assert.equal(zeroing.pool.deferredBytes, 0);
  });

  test("zero writes zeroes over populated shared pages and frees nothing", () => {
    const { pool, leaseId, base } = leased({ policy: { discard: "zero" } });
    const plan = pool.discard("vmm", { leaseId, offsetBytes: base + 3 * PAGE_BYTES, lengthBytes: 5 * PAGE_BYTES });
    assert.deepEqual(plan.steps, [{ op: "zero", arenaId: plan.arenaId, side: 0, bytes: { start: base + 3 * PAGE_BYTES, end: base + 8 * PAGE_BYTES } }]);
    assert.deepEqual(plan.discard, { policy: "zero", punchedBytes: 0, zeroedBytes: 5 * PAGE_BYTES, deferredBytes: 0 });
    settle(pool, plan);
    assert.equal(pool.reserve.freeUnits, 60);
  });

  test("zero refuses private pages: the host cannot write them", () => {
    const pool = new Pool({ capacityUnits: 8, policy: { discard: "zero" } });
    const arena = pool.registerArena("vmm", { sizeBytes: 4 * UNIT_BYTES, files: ["guest_memfd"] });
    const alloc = pool.allocate("vmm", { arenaId: arena.id, unitCount: 1, initiallyPrivate: true });
    pool.commit(alloc.id);
    assert.throws(() => pool.discard("vmm", { leaseId: alloc.leaseId, offsetBytes: PAGE_BYTES, lengthBytes: PAGE_BYTES }), /cannot zero private page at offset 4096/);
  });

  test("with a 4 KiB granularity pages are punched at once and the unit splits", () => {
    const { pool, leaseId, base } = leased({ policy: { punchGranularityBytes: PAGE_BYTES } });
    const plan = pool.discard("vmm", { leaseId, offsetBytes: base + PAGE_BYTES, lengthBytes: 2 * PAGE_BYTES });
    assert.deepEqual(plan.steps.map((s) => [s.op, (s as PunchStep).unitsReturned]), [["punch", 0]]);
    settle(pool, plan);
    assert.equal(pool.splitUnits, 1);
    assert.equal(pool.deferredBytes, 0);
    assert.equal(pool.reserve.freeUnits, 60);
    const rest = pool.discard("vmm", { leaseId, offsetBytes: base, lengthBytes: UNIT_BYTES });
    assert.deepEqual(rest.steps.map((s) => [s.op, (s as PunchStep).unitsReturned, s.bytes.end - s.bytes.start]), [["punch", 1, UNIT_BYTES]]);
    settle(pool, rest);
    assert.equal(pool.splitUnits, 0);
    assert.equal(pool.reserve.freeUnits, 61);
  });

  test("with a 4 KiB granularity a page punch never merges with the whole-unit punch next to it", () => {
    const { pool, leaseId, base } = leased({ policy: { punchGranularityBytes: PAGE_BYTES } });
    const plan = pool.discard("vmm", { leaseId, offsetBytes: base + 87 * PAGE_BYTES, lengthBytes: 2 * UNIT_BYTES - 87 * PAGE_BYTES });
    assert.deepEqual(plan.steps.map((s) => [s.bytes.start - base, s.bytes.end - base, (s as PunchStep).unitsReturned]), [[87 * PAGE_BYTES, UNIT_BYTES, 0], [UNIT_BYTES, 2 * UNIT_BYTES, 1]]);
    settle(pool, plan);
  });

  test("with a 4 KiB granularity a partly punched unit is not repopulated by a later discard", () => {
    const { pool, leaseId, base } = leased({ policy: { punchGranularityBytes: PAGE_BYTES } });
    settle(pool, pool.discard("vmm", { leaseId, offsetBytes: base, lengthBytes: UNIT_BYTES / 2 }));
    const page = pool.discard("vmm", { leaseId, offsetBytes: base + 300 * PAGE_BYTES, lengthBytes: PAGE_BYTES });
    assert.deepEqual(page.steps.map((s) => [s.op, s.bytes.start - base, s.bytes.end - base]), [["punch", 300 * PAGE_BYTES, 301 * PAGE_BYTES]]);
    settle(pool, page);
    assert.equal(pool.deferredBytes, 0);
  });

  test("with a 4 MiB granularity a 2 MiB discard is deferred until its 4 MiB block is whole", () => {
    const { pool, leaseId, base } = leased({ policy: { punchGranularityBytes: 4 * MiB } });
    const half = pool.discard("vmm", { leaseId, offsetBytes: base, lengthBytes: UNIT_BYTES });
    assert.equal(half.steps.length, 0);
    settle(pool, half);
    assert.equal(pool.deferredBytes, UNIT_BYTES);
    const whole = pool.discard("vmm", { leaseId, offsetBytes: base + UNIT_BYTES, lengthBytes: UNIT_BYTES });
    assert.deepEqual(whole.steps.map((s) => [s.op, s.bytes.start, s.bytes.end]), [["punch", base, base + 4 * MiB]]);
    settle(pool, whole);
    assert.equal(pool.reserve.freeUnits, 62);
  });

  test("a failed punch leaves the pages discarded but populated: deferred, nothing lost", () => {
    const { pool, leaseId, base } = leased();
    const plan = pool.discard("vmm", { leaseId, offsetBytes: base, lengthBytes: UNIT_BYTES });
    settle(pool, plan, [0]);
    assert.equal(pool.deferredBytes, UNIT_BYTES);
    assert.equal(pool.reserve.freeUnits, 60);
  });

  test("discard ranges are checked: alignment, overflow, inside the lease", () => {
    const { pool, leaseId, base } = leased();
    assert.throws(() => pool.discard("vmm", { leaseId, offsetBytes: base + 1, lengthBytes: PAGE_BYTES }), (e) => e instanceof InvalidArgumentError && /offset \d+ is not aligned to 4 KiB pages/.test(e.message));
    assert.throws(() => pool.discard("vmm", { leaseId, offsetBytes: base, lengthBytes: 100 }), /length 100 is not a multiple of 4 KiB/);
    assert.throws(() => pool.discard("vmm", { leaseId, offsetBytes: base, lengthBytes: 0 }), /length must be positive, got 0/);
    assert.throws(() => pool.discard("vmm", { leaseId, offsetBytes: Number.MAX_SAFE_INTEGER - 4095, lengthBytes: 8192 }), /overflows/);
    assert.throws(() => pool.discard("vmm", { leaseId, offsetBytes: 0, lengthBytes: PAGE_BYTES }), /outside lease "lease-1" \[8388608, 16777216\)/);
  });

  test("a plan in flight on a unit makes other plans on it conflict", () => {
    const { pool, leaseId, base } = leased();
    const plan = pool.discard("vmm", { leaseId, offsetBytes: base, lengthBytes: UNIT_BYTES });
    assert.throws(() => pool.discard("vmm", { leaseId, offsetBytes: base + PAGE_BYTES, lengthBytes: PAGE_BYTES }), ConflictError);
    assert.throws(() => pool.release("vmm", leaseId), /kernel call in flight/);
    const other = pool.discard("vmm", { leaseId, offsetBytes: base + UNIT_BYTES, lengthBytes: UNIT_BYTES });
    settle(pool, other);
    settle(pool, plan);
  });
});

describe("Pool: populate", () => {
  test("populating a discarded unit takes a unit from the reserve again", () => {
    const { pool, leaseId, base } = leased();
    settle(pool, pool.discard("vmm", { leaseId, offsetBytes: base, lengthBytes: UNIT_BYTES }));
    const plan = pool.populate("vmm", { leaseId, offsetBytes: base + PAGE_BYTES, lengthBytes: PAGE_BYTES });
    assert.deepEqual(plan.steps.map((s) => [s.op, s.bytes.start, s.bytes.end]), [["populate", base, base + UNIT_BYTES]]);
    settle(pool, plan);
    assert.equal(pool.reserve.freeUnits, 60);
    assert.equal(pool.deferredBytes, UNIT_BYTES - PAGE_BYTES);
  });

  test("populating needs free units and leaves the lease unchanged when there are none", () => {
    const { pool, arena, leaseId, base } = leased({ capacityUnits: 32 });
    // Another arena takes all but one of the units the first lease left.
    const other = pool.registerArena("vmm", { sizeBytes: 27 * UNIT_BYTES, files: ["guest_memfd"] });
    settle(pool, pool.allocate("vmm", { arenaId: other.id, unitCount: 27 }));
    settle(pool, pool.discard("vmm", { leaseId, offsetBytes: base, lengthBytes: UNIT_BYTES }));
    settle(pool, pool.allocate("vmm", { arenaId: arena.id, unitCount: 2 }));
    assert.throws(() => pool.populate("vmm", { leaseId, offsetBytes: base, lengthBytes: PAGE_BYTES }), (e) => e instanceof ExhaustedError && e.message.includes("needs 1 more units, 0 free"));
    assert.equal(pool.deferredBytes, 0);
    pool.assertInvariants();
  });
});
