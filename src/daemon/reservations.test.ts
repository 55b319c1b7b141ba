/**
 * Reservations through the manager (issue 11): Reserve / Unreserve / ListReservations, arenas
 * created with a reservation token, status and metrics, and kill -9 of the daemon with
 * reservations bound and unbound (FakeDaemon.crashAndRestart: the journal takes no more
 * writes, the process exits, a new daemon starts on the same journal).
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { FakeDaemon, type FakeVmm } from "./testing/fake-daemon.ts";
import { daemon, deliverTo, rejects, refuses, stopAfterTests, UNIT } from "./testing/manager-test-kit.ts";
import type { Fd } from "@gmempool/sys";

function admin(d: FakeDaemon) {
  return d.manager.identify(d.kernel.credentials);
}

function units(d: FakeDaemon) {
  const s = d.manager.getPoolStatus(admin(d));
  return { free: s.freeUnitCount, reserved: s.reservedUnitCount, leased: s.leasedUnitCount, claimed: s.claimedUnitCount };
}

async function memfdArena(d: FakeDaemon, vmm: FakeVmm, sizeUnits: number, reservationToken?: string) {
  const received: Fd[] = [];
  const { arena } = await d.manager.createMemfdArena(vmm.caller(d), { requestId: "", sizeBytes: BigInt(sizeUnits) * UNIT, backing: "shmem", name: "vm", deliver: deliverTo(vmm, received), ...(reservationToken === undefined ? {} : { reservationToken }) });
  return arena;
}

describe("reservations in the daemon", () => {
  test("Reserve ear-marks units: status shows them reserved, not free; a retry returns the same token", async () => {
    const d = await daemon({ capacityUnits: 16 });
    const first = await d.manager.reserve(admin(d), { claimUid: "uid-1", sizeBytes: 6n * UNIT });
    assert.match(first.token, /^[0-9a-f]{32}$/);
    assert.equal(first.created, true);
    assert.deepEqual(first.reservation, { claimUid: "uid-1", sizeUnitCount: 6, reservedUnitCount: 6, arenaId: "" });
    assert.deepEqual(units(d), { free: 10, reserved: 6, leased: 0, claimed: 0 });
    const again = await d.manager.reserve(admin(d), { claimUid: "uid-1", sizeBytes: 6n * UNIT });
    assert.equal(again.token, first.token);
    assert.equal(again.created, false);
    assert.equal(d.manager.getPoolStatus(admin(d)).reservationCount, 1);
    assert.equal(d.manager.metrics().reservedUnits, 6);
    d.manager.assertInvariants();
  });

  test("refusals: not the admin, another size, more than free, a bad size or claim", async () => {
    const d = await daemon({ capacityUnits: 8 });
    const vmm = d.vmm();
    await rejects(d.manager.reserve(vmm.caller(d), { claimUid: "u", sizeBytes: UNIT }), "permission-denied");
    await d.manager.reserve(admin(d), { claimUid: "u", sizeBytes: 2n * UNIT });
    await refuses(d, () => d.manager.reserve(admin(d), { claimUid: "u", sizeBytes: 4n * UNIT }), "failed-precondition", /claim "u" is already reserved with 2 units, not 4/);
    await refuses(d, () => d.manager.reserve(admin(d), { claimUid: "big", sizeBytes: 7n * UNIT }), "exhausted", /claim "big": requested 7 units, 6 free in the pool of 8/);
    await refuses(d, () => d.manager.reserve(admin(d), { claimUid: "odd", sizeBytes: UNIT + 4096n }), "invalid-argument", /size_bytes 2101248 is not a positive multiple of 2 MiB/);
    await refuses(d, () => d.manager.reserve(admin(d), { claimUid: "", sizeBytes: UNIT }), "invalid-argument", /claim_uid must not be empty/);
    await refuses(d, () => d.manager.reserve(admin(d), { claimUid: "x".repeat(129), sizeBytes: UNIT }), "invalid-argument", /claim_uid is 129 bytes, at most 128/);
    assert.deepEqual(d.manager.listReservations(admin(d)).map((r) => r.claimUid), ["u"]);
  });

  test("an arena made with the token takes its units from the reservation: leased, not reserved; unreserve then frees the rest", async () => {
    const d = await daemon({ capacityUnits: 16 });
    const vmm = d.vmm();
    const { token } = await d.manager.reserve(admin(d), { claimUid: "uid-1", sizeBytes: 8n * UNIT });
    const arena = await memfdArena(d, vmm, 8, token);
    assert.equal(d.manager.listReservations(admin(d))[0]?.arenaId, arena.arenaId);
    // Another tenant cannot take the claim's units.
    const other = d.vmm({ uid: 2000 });
    const otherArena = await memfdArena(d, other, 16);
    await rejects(d.manager.allocate(other.caller(d), { requestId: "", arenaId: otherArena.arenaId, unitCount: 9, label: "" }), "exhausted", /requested 9 units, 8 free in the pool of 16/);
    const { lease } = await d.manager.allocate(vmm.caller(d), { requestId: "", arenaId: arena.arenaId, unitCount: 8, label: "boot" });
    assert.deepEqual(units(d), { free: 8, reserved: 0, leased: 8, claimed: 0 });
    await d.manager.release(vmm.caller(d), { requestId: "", leaseId: lease.leaseId });
    assert.deepEqual(units(d), { free: 8, reserved: 8, leased: 0, claimed: 0 });
    await d.manager.allocate(vmm.caller(d), { requestId: "", arenaId: arena.arenaId, unitCount: 3, label: "" });
    const gone = await d.manager.unreserve(admin(d), "uid-1");
    assert.deepEqual(gone, { existed: true, releasedUnitCount: 5 });
    assert.deepEqual(units(d), { free: 13, reserved: 0, leased: 3, claimed: 0 });
    assert.equal(d.manager.getArena(vmm.caller(d), arena.arenaId).arenaId, arena.arenaId);
    assert.deepEqual(await d.manager.unreserve(admin(d), "uid-1"), { existed: false, releasedUnitCount: 0 });
    d.manager.assertInvariants();
  });

  test("a wrong token is permission-denied with one answer, whether or not any claim exists; a second arena on one reservation is refused", async () => {
    const d = await daemon({ capacityUnits: 16 });
    const vmm = d.vmm();
    const noClaims = await memfdArena(d, vmm, 1, "00".repeat(16)).then(() => undefined, (e: unknown) => e);
    const { token } = await d.manager.reserve(admin(d), { claimUid: "uid-1", sizeBytes: 4n * UNIT });
    const wrong = await memfdArena(d, vmm, 1, token.replace(/.$/, (c) => (c === "0" ? "1" : "0"))).then(() => undefined, (e: unknown) => e);
    for (const e of [noClaims, wrong]) assert.ok(e instanceof Error && (e as { kind?: string }).kind === "permission-denied" && e.message === "reservation_token matches no reservation", String(e));
    await rejects(memfdArena(d, vmm, 5, token), "failed-precondition", /size_bytes 10485760 \(5 units\) is larger than the reservation \(4 units\)/);
    await memfdArena(d, vmm, 4, token);
    await rejects(memfdArena(d, vmm, 1, token), "failed-precondition", /already backs an arena/);
    d.manager.assertInvariants();
  });

  test("kill -9: reservations and their bindings survive; the arena's leases stay leased, the rest reserved", async () => {
    const d = stopAfterTests(await FakeDaemon.start({ capacityUnits: 16 }));
    const vmm = d.vmm();
    const a = await d.manager.reserve(admin(d), { claimUid: "bound", sizeBytes: 6n * UNIT });
    const b = await d.manager.reserve(admin(d), { claimUid: "loose", sizeBytes: 3n * UNIT });
    await d.manager.reserve(admin(d), { claimUid: "gone", sizeBytes: 2n * UNIT });
    await d.manager.unreserve(admin(d), "gone");
    const arena = await memfdArena(d, vmm, 6, a.token);
    await d.manager.allocate(vmm.caller(d), { requestId: "", arenaId: arena.arenaId, unitCount: 2, label: "" });
    const before = units(d);
    const e = stopAfterTests(await d.crashAndRestart());
    assert.deepEqual(units(e), before);
    assert.deepEqual(units(e), { free: 7, reserved: 7, leased: 2, claimed: 0 });
    assert.deepEqual(e.manager.listReservations(admin(e)), [
      { claimUid: "bound", sizeUnitCount: 6, reservedUnitCount: 4, arenaId: arena.arenaId },
      { claimUid: "loose", sizeUnitCount: 3, reservedUnitCount: 3, arenaId: "" },
    ]);
    const again = await e.manager.reserve(admin(e), { claimUid: "loose", sizeBytes: 3n * UNIT });
    assert.equal(again.token, b.token);
    e.manager.assertInvariants();
    // A compaction writes them into the snapshot; a second crash reads them from there.
    const f = stopAfterTests(await e.crashAndRestart());
    assert.deepEqual(units(f), before);
  });
});
