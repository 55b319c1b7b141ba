import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { ConflictError, ExhaustedError, FailedPreconditionError, InvalidArgumentError, NotFoundError } from "./errors.ts";
import type { Plan, PopulateStep } from "./plan.ts";
import { alignedFit } from "./placement.ts";
import { Pool } from "./pool.ts";
import { ExtentSet } from "./extent-set.ts";
import { poolFingerprint } from "./testing/pool-fingerprint.ts";
import { PAGE_BYTES, UNIT_BYTES } from "./units.ts";

const MiB = 1024 * 1024;

function commitChecked(pool: Pool, plan: Plan, failed: number[] = []) {
  pool.assertInvariants();
  const result = pool.commit(plan.id, failed);
  pool.assertInvariants();
  return result;
}

function poolWithArena(capacityUnits = 64, arenaUnits = 32) {
  const pool = new Pool({ capacityUnits });
  const arena = pool.registerArena("vmm-a", { sizeBytes: arenaUnits * UNIT_BYTES, files: ["guest_memfd"] });
  return { pool, arena };
}

describe("Pool: arenas", () => {
  test("an arena must be a positive multiple of 2 MiB", () => {
    const pool = new Pool({ capacityUnits: 8 });
    assert.throws(() => pool.registerArena("a", { sizeBytes: 3 * MiB, files: ["memfd"] }), (e) => e instanceof InvalidArgumentError && /3145728 is not a positive multiple of 2 MiB/.test(e.message));
    assert.throws(() => pool.registerArena("a", { sizeBytes: 0, files: ["memfd"] }), InvalidArgumentError);
    assert.throws(() => pool.registerArena("a", { sizeBytes: -2 * MiB, files: ["memfd"] }), /non-negative integer, got -2097152/);
  });

  test("a pair is guest_memfd + memfd; other file lists are rejected by name", () => {
    const pool = new Pool({ capacityUnits: 8 });
    assert.throws(() => pool.registerArena("a", { sizeBytes: 2 * MiB, files: ["memfd", "guest_memfd"] }), /got memfd \+ guest_memfd/);
    assert.throws(() => pool.registerArena("a", { sizeBytes: 2 * MiB, files: [] }), /got 0/);
    assert.throws(() => pool.registerArena("a", { sizeBytes: 2 * MiB, files: ["ext4" as "memfd"] }), /unknown file kind "ext4"/);
    const pair = pool.registerArena("a", { sizeBytes: 2 * MiB, files: ["guest_memfd", "memfd-hugetlb"] });
    assert.equal(pair.layout, "pair");
    assert.equal(pair.sides, 2);
  });

  test("an arena size must fit its punch granularity", () => {
    const pool = new Pool({ capacityUnits: 8 });
    assert.throws(() => pool.registerArena("a", { sizeBytes: 2 * MiB, files: ["guest_memfd"], policy: { punchGranularityBytes: 4 * MiB } }), /size_bytes 2097152 is not a multiple of the punch granularity 4 MiB/);
  });

  test("arena ids are unique and non-empty", () => {
    const pool = new Pool({ capacityUnits: 8 });
    pool.registerArena("a", { id: "vm1", sizeBytes: 2 * MiB, files: ["memfd"] });
    assert.throws(() => pool.registerArena("a", { id: "vm1", sizeBytes: 2 * MiB, files: ["memfd"] }), FailedPreconditionError);
    assert.throws(() => pool.registerArena("a", { id: "", sizeBytes: 2 * MiB, files: ["memfd"] }), /must not be empty/);
    const generated = pool.registerArena("a", { sizeBytes: 2 * MiB, files: ["memfd"] });
    assert.match(generated.id, /^arena-\d+$/);
  });

  test("unregistering needs the owner and no leases left", () => {
    const { pool, arena } = poolWithArena();
    const plan = pool.allocate("vmm-a", { arenaId: arena.id, unitCount: 1 });
    commitChecked(pool, plan);
    assert.throws(() => pool.unregisterArena("vmm-b", arena.id), NotFoundError);
    assert.throws(() => pool.unregisterArena("vmm-a", arena.id), (e) => e instanceof FailedPreconditionError && e.message.includes(plan.leaseId));
    commitChecked(pool, pool.release("vmm-a", plan.leaseId));
    pool.unregisterArena("vmm-a", arena.id);
    assert.throws(() => pool.arena(arena.id), NotFoundError);
  });
});

describe("Pool: allocate and release", () => {
  test("allocate plans populate steps in bounded chunks and commits a lease", () => {
    const pool = new Pool({ capacityUnits: 64, maxStepUnits: 8 });
    const arena = pool.registerArena("vmm-a", { sizeBytes: 32 * UNIT_BYTES, files: ["guest_memfd"] });
    const plan = pool.allocate("vmm-a", { arenaId: arena.id, unitCount: 20 });
    assert.deepEqual(plan.steps.map((s) => s.op), ["populate", "populate", "populate"]);
    assert.deepEqual(plan.steps.map((s) => (s.op === "populate" ? s.unitsTaken : -1)), [8, 8, 4]);
    assert.equal(pool.reserve.claimedUnits, 20);
    assert.equal(pool.lease(plan.leaseId).state, "allocating");
    const result = commitChecked(pool, plan);
    assert.equal(result.leaseState, "active");
    assert.equal(pool.reserve.leasedUnits, 20);
    assert.equal(pool.reserve.freeUnits, 44);
  });

  test("allocating more units than are free is exhausted and names both numbers", () => {
    const { pool, arena } = poolWithArena(8, 8);
    const other = pool.registerArena("vmm-b", { sizeBytes: 8 * UNIT_BYTES, files: ["guest_memfd"] });
    commitChecked(pool, pool.allocate("vmm-b", { arenaId: other.id, unitCount: 3 }));
    assert.throws(() => pool.allocate("vmm-a", { arenaId: arena.id, unitCount: 6 }), (e) => e instanceof ExhaustedError && e.message === "requested 6 units, 5 free in the pool of 8");
    assert.equal(pool.reserve.freeUnits, 5);
    assert.equal(arena.free.size, 8);
  });

  test("an arena larger than the pool is refused, naming both sizes", () => {
    const pool = new Pool({ capacityUnits: 8 });
    assert.throws(() => pool.registerArena("vmm", { sizeBytes: 9 * UNIT_BYTES, files: ["memfd"] }), (e) => e instanceof InvalidArgumentError && /9 units\) is larger than the pool \(8 units, 16 MiB\)/.test(e.message));
    assert.deepEqual([...pool.arenas()], []);
  });

  test("no contiguous run in the arena is exhausted and names the largest run", () => {
    const { pool, arena } = poolWithArena(64, 8);
    commitChecked(pool, pool.allocate("vmm-a", { arenaId: arena.id, unitCount: 2, offsetUnits: 3 }));
    assert.throws(() => pool.allocate("vmm-a", { arenaId: arena.id, unitCount: 4 }), /no free run of 4 units \(largest is 3 of 6 free\)/);
  });

  test("placement: unaligned, past the arena, overlapping", () => {
    const pool = new Pool({ capacityUnits: 64, policy: { punchGranularityBytes: 4 * MiB } });
    const arena = pool.registerArena("vmm-a", { sizeBytes: 16 * UNIT_BYTES, files: ["guest_memfd"] });
    assert.throws(() => pool.allocate("vmm-a", { arenaId: arena.id, unitCount: 3 }), /unit_count 3 is not a multiple of .* 4 MiB \(2 units\)/);
    assert.throws(() => pool.allocate("vmm-a", { arenaId: arena.id, unitCount: 2, offsetUnits: 1 }), /offset 1 units is not aligned/);
    assert.throws(() => pool.allocate("vmm-a", { arenaId: arena.id, unitCount: 4, offsetUnits: 14 }), (e) => e instanceof InvalidArgumentError && e.message === `placement [${14 * UNIT_BYTES}, ${18 * UNIT_BYTES}) passes the end of arena "${arena.id}" (${16 * UNIT_BYTES} bytes)` && e.fields.field === "offset_bytes");
    assert.throws(() => pool.allocate("vmm-a", { arenaId: arena.id, unitCount: 18 }), /larger than arena/);
    assert.throws(() => pool.allocate("vmm-a", { arenaId: arena.id, unitCount: 0 }), /unit_count must be at least 1, got 0/);
    assert.throws(() => pool.allocate("vmm-a", { arenaId: arena.id, unitCount: 1.5 }), /unit_count must be at least 1, got 1.5/);
    const first = pool.allocate("vmm-a", { arenaId: arena.id, unitCount: 4, offsetUnits: 4 });
    assert.throws(() => pool.allocate("vmm-a", { arenaId: arena.id, unitCount: 2, offsetUnits: 6 }), (e) => e instanceof FailedPreconditionError && e.message.includes(first.leaseId));
    pool.assertInvariants();
  });

  test("only the owner may allocate in an arena or release its lease", () => {
    const { pool, arena } = poolWithArena();
    assert.throws(() => pool.allocate("intruder", { arenaId: arena.id, unitCount: 1 }), (e) => e instanceof NotFoundError && e.message === `arena "${arena.id}" does not exist`);
    const plan = pool.allocate("vmm-a", { arenaId: arena.id, unitCount: 1 });
    commitChecked(pool, plan);
    assert.throws(() => pool.release("intruder", plan.leaseId), NotFoundError);
    assert.throws(() => pool.release("vmm-a", "lease-404"), (e) => e instanceof NotFoundError && e.message === 'lease "lease-404" does not exist');
    assert.throws(() => pool.allocate("vmm-a", { arenaId: "nope", unitCount: 1 }), NotFoundError);
  });

  test("findArena / findLease answer a lookup without throwing; arena / lease throw not-found", () => {
    const { pool, arena } = poolWithArena();
    const plan = pool.allocate("vmm-a", { arenaId: arena.id, unitCount: 1 });
    commitChecked(pool, plan);
    assert.equal(pool.findArena(arena.id), pool.arena(arena.id));
    assert.equal(pool.findLease(plan.leaseId), pool.lease(plan.leaseId));
    assert.equal(pool.findArena("nope"), undefined);
    assert.equal(pool.findLease("lease-404"), undefined);
    assert.throws(() => pool.lease("lease-404"), NotFoundError);
  });

  test("release punches every populated unit and gives the arena range back", () => {
    const { pool, arena } = poolWithArena();
    const alloc = pool.allocate("vmm-a", { arenaId: arena.id, unitCount: 5 });
    commitChecked(pool, alloc);
    const release = pool.release("vmm-a", alloc.leaseId);
    assert.deepEqual(release.steps.map((s) => s.op), ["punch"]);
    assert.equal(pool.lease(alloc.leaseId).state, "releasing");
    assert.throws(() => pool.release("vmm-a", alloc.leaseId), ConflictError);
    const result = commitChecked(pool, release);
    assert.equal(result.leaseState, "released");
    assert.equal(pool.reserve.freeUnits, 64);
    assert.equal(arena.free.size, 32);
    assert.equal(arena.leases.size, 0);
  });

  test("a failed allocation step leaves a failed lease holding exactly the populated units", () => {
    const pool = new Pool({ capacityUnits: 64, maxStepUnits: 2 });
    const arena = pool.registerArena("vmm-a", { sizeBytes: 32 * UNIT_BYTES, files: ["guest_memfd"] });
    const plan = pool.allocate("vmm-a", { arenaId: arena.id, unitCount: 6 });
    assert.equal(plan.steps.length, 3);
    const result = commitChecked(pool, plan, [1]);
    assert.deepEqual([result.applied, result.reverted, result.leaseState], [2, 1, "failed"]);
    assert.equal(pool.reserve.leasedUnits, 4);
    assert.equal(pool.reserve.freeUnits, 60);
    assert.throws(() => pool.discard("vmm-a", { leaseId: plan.leaseId, offsetBytes: 0, lengthBytes: UNIT_BYTES }), /is failed: only a release is accepted/);
    const release = pool.release("vmm-a", plan.leaseId);
    assert.equal(release.steps.length, 2);
    commitChecked(pool, release);
    assert.equal(pool.reserve.freeUnits, 64);
  });

  test("a failed release step keeps the unpunched units leased in a failed lease", () => {
    const pool = new Pool({ capacityUnits: 16, maxStepUnits: 1 });
    const arena = pool.registerArena("vmm-a", { sizeBytes: 4 * UNIT_BYTES, files: ["memfd"] });
    const alloc = pool.allocate("vmm-a", { arenaId: arena.id, unitCount: 3 });
    commitChecked(pool, alloc);
    const result = commitChecked(pool, pool.release("vmm-a", alloc.leaseId), [0]);
    assert.equal(result.leaseState, "failed");
    assert.equal(pool.reserve.leasedUnits, 1);
    const retry = pool.release("vmm-a", alloc.leaseId);
    assert.equal(retry.steps.length, 1);
    commitChecked(pool, retry);
    assert.equal(pool.reserve.freeUnits, 16);
  });

  test("abort reverts every step: the pool is as before the plan", () => {
    const { pool, arena } = poolWithArena();
    const plan = pool.allocate("vmm-a", { arenaId: arena.id, unitCount: 3 });
    const result = pool.abort(plan.id);
    assert.equal(result.reverted, 1);
    assert.equal(pool.reserve.freeUnits, 64);
    pool.assertInvariants();
    assert.throws(() => pool.abort(plan.id), /plan \d+ is not in flight/);
    assert.throws(() => pool.commit(999), NotFoundError);
  });

  test("commit rejects step indices the plan does not have", () => {
    const { pool, arena } = poolWithArena();
    const plan = pool.allocate("vmm-a", { arenaId: arena.id, unitCount: 1 });
    assert.throws(() => pool.commit(plan.id, [5]), /has no step 5 \(it has 1\)/);
    assert.equal(pool.pendingPlanCount, 1);
    assert.deepEqual(pool.pendingPlans().map((p) => p.id), [plan.id]);
    commitChecked(pool, plan);
  });

  test("forceRelease releases any owner's lease", () => {
    const { pool, arena } = poolWithArena();
    const plan = pool.allocate("vmm-a", { arenaId: arena.id, unitCount: 2 });
    commitChecked(pool, plan);
    commitChecked(pool, pool.forceRelease(plan.leaseId));
    assert.equal(pool.reserve.freeUnits, 64);
  });

  test("lease ids given by the caller are unique", () => {
    const { pool, arena } = poolWithArena();
    commitChecked(pool, pool.allocate("vmm-a", { arenaId: arena.id, unitCount: 1 }, "boot"));
    assert.throws(() => pool.allocate("vmm-a", { arenaId: arena.id, unitCount: 1 }, "boot"), FailedPreconditionError);
  });

  test("reserve slots are handed out from the top and taken back at the bottom", () => {
    const { pool, arena } = poolWithArena(16, 16);
    const plan = pool.allocate("vmm-a", { arenaId: arena.id, unitCount: 4 });
    const step = plan.steps[0] as PopulateStep;
    assert.equal(step.op, "populate");
    assert.deepEqual(step.reserveSlots, [{ start: 12, end: 16 }]);
    commitChecked(pool, plan);
    assert.equal(pool.reserve.largestFreeRun, 12);
    const release = pool.release("vmm-a", plan.leaseId);
    commitChecked(pool, release);
    assert.deepEqual(pool.reserve.heldRuns(), [[0, 16]]);
  });
});

describe("Pool: policy", () => {
  test("setPolicy refuses a granularity that existing arenas or leases do not fit", () => {
    const { pool, arena } = poolWithArena(64, 6);
    assert.throws(() => pool.setPolicy({ punchGranularityBytes: 8 * MiB }), /not a multiple of 8 MiB/);
    pool.setPolicy({ punchGranularityBytes: 4 * MiB });
    commitChecked(pool, pool.allocate("vmm-a", { arenaId: arena.id, unitCount: 2, offsetUnits: 2 }));
    pool.setPolicy({ punchGranularityBytes: UNIT_BYTES });
    commitChecked(pool, pool.allocate("vmm-a", { arenaId: arena.id, unitCount: 1, offsetUnits: 1 }));
    assert.throws(() => pool.setPolicy({ punchGranularityBytes: 4 * MiB }), /is not aligned to 4 MiB/);
    assert.equal(pool.policy.punchGranularityBytes, UNIT_BYTES);
  });

  test("granularities other than 4 KiB and power-of-two multiples of 2 MiB are refused", () => {
    const pool = new Pool({ capacityUnits: 8 });
    for (const g of [8192, 6 * MiB, 2048 * MiB, 0]) {
      assert.throws(() => pool.setPolicy({ punchGranularityBytes: g }), new RegExp(`punch granularity ${g} must be`));
    }
    pool.setPolicy({ punchGranularityBytes: 1024 * MiB });
    pool.setPolicy({ punchGranularityBytes: 4096 });
  });

  test("policy values from the wire are checked by name", () => {
    const pool = new Pool({ capacityUnits: 8 });
    assert.throws(() => pool.setPolicy({ discard: "drop" as "zero" }), /unknown discard policy "drop"; expected one of reject, zero, defer/);
    assert.throws(() => pool.setPolicy({ deferOverflow: "defer" as "zero" }), /unknown defer overflow "defer"/);
    assert.throws(() => pool.setPolicy({ fit: "worst-fit" as "best-fit" }), /unknown fit strategy/);
    assert.throws(() => pool.setPolicy({ deferredCapBytes: 100 }), /not a multiple of 4 KiB/);
    assert.throws(() => new Pool({ capacityUnits: -1 }), /pool capacity \(units\) must be a non-negative integer, got -1/);
  });

  test("setArenaPolicy overrides the pool for one arena and checks its leases", () => {
    const { pool, arena } = poolWithArena(64, 8);
    commitChecked(pool, pool.allocate("vmm-a", { arenaId: arena.id, unitCount: 1, offsetUnits: 1 }));
    assert.throws(() => pool.setArenaPolicy(arena.id, { punchGranularityBytes: 4 * MiB }), /not aligned to 4 MiB/);
    assert.throws(() => pool.setArenaPolicy(arena.id, { discard: "nope" as "zero" }), /unknown discard policy/);
    pool.setArenaPolicy(arena.id, { discard: "reject", punchGranularityBytes: 4096 });
    assert.equal(pool.discardPolicyOf(arena), "reject");
    assert.equal(pool.granularityOf(arena), 4096);
  });

  test("best-fit places a lease in the smallest run that holds it", () => {
    const pool = new Pool({ capacityUnits: 64, policy: { fit: "best-fit" } });
    const arena = pool.registerArena("vmm-a", { sizeBytes: 16 * UNIT_BYTES, files: ["memfd"] });
    commitChecked(pool, pool.allocate("vmm-a", { arenaId: arena.id, unitCount: 1, offsetUnits: 5 }));
    commitChecked(pool, pool.allocate("vmm-a", { arenaId: arena.id, unitCount: 1, offsetUnits: 8 }));
    const plan = pool.allocate("vmm-a", { arenaId: arena.id, unitCount: 2 });
    assert.equal(pool.lease(plan.leaseId).start, 6);
  });

  test("alignedFit aligns the start inside a run", () => {
    const free = new ExtentSet();
    free.add(1, 6);
    free.add(9, 20);
    assert.equal(alignedFit(free, 4, 4, "first-fit"), 12);
    assert.equal(alignedFit(free, 2, 2, "first-fit"), 2);
    assert.equal(alignedFit(free, 2, 2, "best-fit"), 2);
    assert.equal(alignedFit(free, 16, 1, "best-fit"), -1);
  });
});

/**
 * Everything a plan could change: page state and leases (the snapshot, which holds unit bytes
 * and split records), lease states and busy units, running totals, the reserve's slots, the
 * arenas' free units and the plans in flight.
 */
/** Cancels `plan` and checks that the pool is exactly as `before`. */
function cancelChecked(pool: Pool, plan: Plan, before: ReturnType<typeof poolFingerprint>): void {
  pool.assertInvariants();
  pool.cancel(plan.id);
  assert.deepEqual(poolFingerprint(pool), before);
  assert.throws(() => pool.commit(plan.id), NotFoundError);
}

describe("Pool: cancel (a plan none of whose steps reached the kernel, as if never made)", () => {
  /** A 4-unit lease of a one-file or pair arena, half of its second unit discarded (deferred). */
  function withDeferred(files: ("guest_memfd" | "memfd")[] = ["guest_memfd"], capacityUnits = 32) {
    const pool = new Pool({ capacityUnits, maxStepUnits: 1, policy: { discard: "defer" } });
    const arena = pool.registerArena("vmm", { sizeBytes: 8 * UNIT_BYTES, files });
    const alloc = pool.allocate("vmm", { arenaId: arena.id, unitCount: 4 });
    commitChecked(pool, alloc);
    const leaseId = alloc.leaseId;
    commitChecked(pool, pool.discard("vmm", { leaseId, offsetBytes: UNIT_BYTES, lengthBytes: 256 * PAGE_BYTES }));
    assert.equal(pool.deferredBytes, 1 * MiB);
    return { pool, arena, leaseId };
  }

  test("a discard: pages it marked discarded are live again, its punch slots go back, its units are not busy", () => {
    const { pool, leaseId } = withDeferred();
    const before = poolFingerprint(pool);
    // Completes unit 1 (punched), punches unit 2 whole, defers half of unit 3.
    const request = { leaseId, offsetBytes: UNIT_BYTES + 256 * PAGE_BYTES, lengthBytes: UNIT_BYTES + 256 * PAGE_BYTES + 256 * PAGE_BYTES };
    const plan = pool.discard("vmm", request);
    assert.deepEqual(plan.steps.map((s) => s.op), ["punch", "punch"]);
    assert.equal(plan.discard?.deferredBytes, 1 * MiB);
    // Counted deferred (discarded, still populated) until the punches are applied.
    assert.equal(pool.deferredBytes, 5 * MiB);
    cancelChecked(pool, plan, before);
    assert.equal(pool.deferredBytes, 1 * MiB);
    const again = pool.discard("vmm", request);
    commitChecked(pool, again);
    assert.equal(pool.reserve.leasedUnits, 2);
  });

  test("a populate: discarded pages are discarded again, its populate slots go back", () => {
    const { pool, leaseId } = withDeferred();
    commitChecked(pool, pool.discard("vmm", { leaseId, offsetBytes: 2 * UNIT_BYTES, lengthBytes: UNIT_BYTES }));
    const before = poolFingerprint(pool);
    const plan = pool.populate("vmm", { leaseId, offsetBytes: 0, lengthBytes: 4 * UNIT_BYTES });
    assert.deepEqual(plan.steps.map((s) => s.op), ["populate"]);
    assert.equal(pool.deferredBytes, 0);
    cancelChecked(pool, plan, before);
    assert.equal(pool.reserve.freeUnits, 29);
  });

  test("a notify conversion of a pair: attributes and stale pages as before, no slot claimed", () => {
    const { pool, leaseId } = withDeferred(["guest_memfd", "memfd"]);
    const before = poolFingerprint(pool);
    const plan = pool.convert("vmm", { leaseId, offsetBytes: 0, lengthBytes: UNIT_BYTES + 8 * PAGE_BYTES, toPrivate: true, mode: "notify" });
    assert.ok(plan.steps.some((s) => s.op === "populate") && plan.steps.some((s) => s.op === "punch"));
    assert.notDeepEqual(poolFingerprint(pool).totals, before.totals);
    cancelChecked(pool, plan, before);
  });

  test("an in-place conversion changes nothing when planned, so cancelling it only frees its units", () => {
    const { pool, leaseId } = withDeferred();
    const before = poolFingerprint(pool);
    const plan = pool.convert("vmm", { leaseId, offsetBytes: 0, lengthBytes: 4 * PAGE_BYTES, toPrivate: true, mode: "in-place" });
    assert.throws(() => pool.discard("vmm", { leaseId, offsetBytes: 0, lengthBytes: UNIT_BYTES }), ConflictError);
    cancelChecked(pool, plan, before);
  });

  test("an allocation: the lease is gone, its units are free in the arena and in the reserve", () => {
    const { pool, arena } = withDeferred();
    const before = poolFingerprint(pool);
    const plan = pool.allocate("vmm", { arenaId: arena.id, unitCount: 2, initiallyPrivate: true }, "boot");
    cancelChecked(pool, plan, before);
    assert.throws(() => pool.lease("boot"), NotFoundError);
    commitChecked(pool, pool.allocate("vmm", { arenaId: arena.id, unitCount: 4 }, "boot"));
  });

  test("a release: the lease is back in its previous state (active or failed) with its units", () => {
    const { pool, leaseId } = withDeferred();
    const before = poolFingerprint(pool);
    cancelChecked(pool, pool.release("vmm", leaseId), before);
    assert.equal(pool.lease(leaseId).state, "active");

    const failing = pool.release("vmm", leaseId);
    commitChecked(pool, failing, [0]);
    const failed = poolFingerprint(pool);
    assert.equal(pool.lease(leaseId).state, "failed");
    cancelChecked(pool, pool.forceRelease(leaseId), failed);
    assert.equal(pool.lease(leaseId).state, "failed");
    commitChecked(pool, pool.release("vmm", leaseId));
    assert.equal(pool.reserve.freeUnits, 32);
  });

  test("plans of one request over several leases: cancelling the earlier ones when a later one is refused", () => {
    const pool = new Pool({ capacityUnits: 16, policy: { discard: "reject" } });
    const arena = pool.registerArena("vmm", { sizeBytes: 4 * UNIT_BYTES, files: ["guest_memfd"] });
    const first = pool.allocate("vmm", { arenaId: arena.id, unitCount: 2 });
    const second = pool.allocate("vmm", { arenaId: arena.id, unitCount: 2 });
    commitChecked(pool, first);
    commitChecked(pool, second);
    const before = poolFingerprint(pool);
    const plan = pool.discard("vmm", { leaseId: first.leaseId, offsetBytes: 0, lengthBytes: 2 * UNIT_BYTES });
    assert.throws(() => pool.discard("vmm", { leaseId: second.leaseId, offsetBytes: 2 * UNIT_BYTES, lengthBytes: PAGE_BYTES }), FailedPreconditionError);
    cancelChecked(pool, plan, before);
    assert.equal(pool.deferredBytes, 0);
  });

  test("an unknown plan, or one already settled or cancelled, is not found", () => {
    const { pool, leaseId } = withDeferred();
    assert.throws(() => pool.cancel(999), (e) => e instanceof NotFoundError && /plan 999 is not in flight/.test(e.message));
    const plan = pool.discard("vmm", { leaseId, offsetBytes: 0, lengthBytes: UNIT_BYTES });
    pool.cancel(plan.id);
    assert.throws(() => pool.cancel(plan.id), NotFoundError);
    const committed = pool.discard("vmm", { leaseId, offsetBytes: 0, lengthBytes: UNIT_BYTES });
    commitChecked(pool, committed);
    assert.throws(() => pool.cancel(committed.id), NotFoundError);
    pool.assertInvariants();
  });
});
