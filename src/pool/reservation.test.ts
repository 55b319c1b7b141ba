import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { ExhaustedError, FailedPreconditionError, InvalidArgumentError, NotFoundError } from "./errors.ts";
import { Pool } from "./pool.ts";
import { exportSnapshot, importSnapshot, type PoolSnapshot } from "./snapshot.ts";
import { UNIT_BYTES } from "./units.ts";

function places(pool: Pool) {
  const r = pool.reserve;
  return { free: r.freeUnits, reserved: r.reservedUnits, claimed: r.claimedUnits, leased: r.leasedUnits };
}

function allocateCommitted(pool: Pool, owner: string, arenaId: string, unitCount: number, failed: number[] = []) {
  const plan = pool.allocate(owner, { arenaId, unitCount });
  pool.assertInvariants();
  const result = pool.commit(plan.id, failed);
  pool.assertInvariants();
  return result;
}

describe("Pool: reservations", () => {
  test("a reservation ear-marks free units as their own state, counted once", () => {
    const pool = new Pool({ capacityUnits: 16 });
    const { reservation, created } = pool.reserveClaim("claim-1", 6, "tok-1");
    pool.assertInvariants();
    assert.equal(created, true);
    assert.equal(reservation.sizeUnits, 6);
    assert.deepEqual(places(pool), { free: 10, reserved: 6, claimed: 0, leased: 0 });
    assert.equal(pool.reserve.largestFreeRun, 10);
  });

  test("the same claim and size return the first reservation and its token; another size is failed-precondition", () => {
    const pool = new Pool({ capacityUnits: 16 });
    pool.reserveClaim("claim-1", 6, "tok-1");
    const again = pool.reserveClaim("claim-1", 6, "tok-2");
    assert.equal(again.created, false);
    assert.equal(again.reservation.token, "tok-1");
    assert.equal(pool.reserve.reservedUnits, 6);
    assert.throws(() => pool.reserveClaim("claim-1", 7, "tok-3"), (e) => e instanceof FailedPreconditionError && /claim "claim-1" is already reserved with 6 units, not 7/.test(e.message));
    pool.assertInvariants();
  });

  test("more than is free is exhausted naming requested and free units, and nothing is reserved", () => {
    const pool = new Pool({ capacityUnits: 8 });
    pool.reserveClaim("a", 5, "t");
    assert.throws(() => pool.reserveClaim("b", 4, "u"), (e) => e instanceof ExhaustedError && /claim "b": requested 4 units, 3 free in the pool of 8 \(5 reserved, 0 leased\)/.test(e.message));
    assert.equal(pool.findReservation("b"), undefined);
    assert.deepEqual(places(pool), { free: 3, reserved: 5, claimed: 0, leased: 0 });
  });

  test("bad claims and sizes are invalid-argument naming the field", () => {
    const pool = new Pool({ capacityUnits: 8 });
    assert.throws(() => pool.reserveClaim("", 1, "t"), (e) => e instanceof InvalidArgumentError && e.fields.field === "claim_uid");
    assert.throws(() => pool.reserveClaim("c", 0, "t"), /size must be at least 1 unit, got 0/);
    assert.throws(() => pool.reserveClaim("c", 1, ""), /token must not be empty/);
  });

  test("reserved units are not free for other arenas' allocations", () => {
    const pool = new Pool({ capacityUnits: 8 });
    pool.reserveClaim("a", 6, "t");
    const other = pool.registerArena("vmm-b", { sizeBytes: 8 * UNIT_BYTES, files: ["memfd"] });
    assert.throws(() => pool.allocate("vmm-b", { arenaId: other.id, unitCount: 3 }), /requested 3 units, 2 free in the pool of 8/);
    allocateCommitted(pool, "vmm-b", other.id, 2);
    assert.deepEqual(places(pool), { free: 0, reserved: 6, claimed: 0, leased: 2 });
  });

  test("the bound arena draws on its reservation first, then on the free pool; releases refill the reservation", () => {
    const pool = new Pool({ capacityUnits: 16 });
    pool.reserveClaim("a", 4, "t");
    const arena = pool.registerArena("vmm-a", { sizeBytes: 4 * UNIT_BYTES, files: ["guest_memfd", "memfd"], reservation: "a" });
    assert.equal(pool.findReservation("a")?.arenaId, arena.id);
    const first = allocateCommitted(pool, "vmm-a", arena.id, 3);
    assert.deepEqual(places(pool), { free: 12, reserved: 1, claimed: 0, leased: 3 });
    // Converting one page of a unit in a pair populates the unit's other side too: the first from
    // the reservation, the next from free.
    const lease = first.leaseId;
    for (const u of [0, 1]) {
      const plan = pool.convert("vmm-a", { leaseId: lease, offsetBytes: u * UNIT_BYTES, lengthBytes: 4096, toPrivate: true, mode: "notify" });
      pool.commit(plan.id);
      pool.assertInvariants();
    }
    assert.deepEqual(places(pool), { free: 11, reserved: 0, claimed: 0, leased: 5 });
    const release = pool.release("vmm-a", lease);
    pool.commit(release.id);
    pool.assertInvariants();
    assert.deepEqual(places(pool), { free: 12, reserved: 4, claimed: 0, leased: 0 });
  });

  test("a failed hand-out gives the reserved units back to the reservation", () => {
    const pool = new Pool({ capacityUnits: 8, maxStepUnits: 1 });
    pool.reserveClaim("a", 4, "t");
    const arena = pool.registerArena("vmm-a", { sizeBytes: 4 * UNIT_BYTES, files: ["memfd"], reservation: "a" });
    const plan = pool.allocate("vmm-a", { arenaId: arena.id, unitCount: 4 });
    assert.deepEqual(places(pool), { free: 4, reserved: 0, claimed: 4, leased: 0 });
    pool.commit(plan.id, [1, 3]);
    pool.assertInvariants();
    assert.deepEqual(places(pool), { free: 4, reserved: 2, claimed: 0, leased: 2 });
  });

  test("an arena must fit its reservation, and a reservation backs one arena at a time", () => {
    const pool = new Pool({ capacityUnits: 16 });
    pool.reserveClaim("a", 4, "t");
    assert.throws(() => pool.registerArena("vmm-a", { sizeBytes: 5 * UNIT_BYTES, files: ["memfd"], reservation: "a" }), (e) => e instanceof FailedPreconditionError && /size_bytes 10485760 \(5 units\) is larger than the reservation \(4 units\)/.test(e.message));
    assert.throws(() => pool.registerArena("vmm-a", { sizeBytes: UNIT_BYTES, files: ["memfd"], reservation: "nope" }), NotFoundError);
    const arena = pool.registerArena("vmm-a", { sizeBytes: 2 * UNIT_BYTES, files: ["memfd"], reservation: "a" });
    assert.throws(() => pool.registerArena("vmm-b", { sizeBytes: UNIT_BYTES, files: ["memfd"], reservation: "a" }), (e) => e instanceof FailedPreconditionError && /already backs an arena/.test(e.message) && !e.message.includes(arena.id));
    pool.unregisterArena("vmm-a", arena.id);
    assert.equal(pool.findReservation("a")?.arenaId, undefined);
    pool.registerArena("vmm-b", { sizeBytes: UNIT_BYTES, files: ["memfd"], reservation: "a" });
    pool.assertInvariants();
    assert.equal(pool.reserve.reservedUnits, 4);
  });

  test("unreserving frees the remainder and leaves a live arena's leases to their owner", () => {
    const pool = new Pool({ capacityUnits: 16 });
    pool.reserveClaim("a", 6, "t");
    const arena = pool.registerArena("vmm-a", { sizeBytes: 6 * UNIT_BYTES, files: ["memfd"], reservation: "a" });
    const { leaseId } = allocateCommitted(pool, "vmm-a", arena.id, 2);
    const gone = pool.unreserveClaim("a");
    pool.assertInvariants();
    assert.equal(gone?.releasedUnits, 4);
    assert.equal(arena.reservation, undefined);
    assert.deepEqual(places(pool), { free: 14, reserved: 0, claimed: 0, leased: 2 });
    pool.commit(pool.release("vmm-a", leaseId).id);
    pool.assertInvariants();
    assert.deepEqual(places(pool), { free: 16, reserved: 0, claimed: 0, leased: 0 });
    assert.equal(pool.unreserveClaim("a"), undefined);
  });

  test("unreserving with a hand-out in flight counts every unit once whichever way it settles", () => {
    for (const failed of [[], [0]]) {
      const pool = new Pool({ capacityUnits: 8 });
      pool.reserveClaim("a", 4, "t");
      const arena = pool.registerArena("vmm-a", { sizeBytes: 4 * UNIT_BYTES, files: ["memfd"], reservation: "a" });
      const plan = pool.allocate("vmm-a", { arenaId: arena.id, unitCount: 2 });
      pool.unreserveClaim("a");
      pool.assertInvariants();
      assert.deepEqual(places(pool), { free: 6, reserved: 0, claimed: 2, leased: 0 });
      pool.commit(plan.id, failed);
      pool.assertInvariants();
      assert.equal(pool.reserve.freeUnits + pool.reserve.leasedUnits, 8);
    }
  });

  test("a snapshot keeps reservations and bindings; the ear-mark is recounted from the leases", () => {
    const pool = new Pool({ capacityUnits: 16 });
    pool.reserveClaim("a", 6, "tok-a");
    pool.reserveClaim("b", 3, "tok-b");
    const arena = pool.registerArena("vmm-a", { sizeBytes: 6 * UNIT_BYTES, files: ["memfd"], reservation: "a" });
    allocateCommitted(pool, "vmm-a", arena.id, 2);
    const inFlight = pool.allocate("vmm-a", { arenaId: arena.id, unitCount: 1 });
    const copy = importSnapshot(JSON.parse(JSON.stringify(exportSnapshot(pool))) as PoolSnapshot);
    assert.deepEqual(places(copy), { free: 7, reserved: 7, claimed: 0, leased: 2 });
    assert.equal(copy.findReservation("a")?.arenaId, arena.id);
    assert.equal(copy.findReservation("b")?.token, "tok-b");
    pool.cancel(inFlight.id);
    assert.deepEqual(places(pool), places(copy));
  });

  test("the invariant checker catches an ear-mark that no reservation explains", () => {
    const pool = new Pool({ capacityUnits: 8 });
    pool.reserveClaim("a", 2, "t");
    pool.reserve.earmark(1, "corruption");
    assert.throws(() => pool.assertInvariants(), /reservations ear-mark 2 units but the reserve counts 3 reserved/);
  });
});
