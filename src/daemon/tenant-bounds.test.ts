/**
 * One tenant cannot make the daemon do work out of proportion to the pool (issue 12, items 3
 * and 8): an arena is at most the pool's capacity, and the fragmentation map of an arena as
 * large as the pool is a few runs, built from its leases, not from its size.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { daemon, deliverTo, rejects } from "./testing/manager-test-kit.ts";
import type { Fd } from "@gmempool/sys";

const UNIT = 2n * 1024n * 1024n;

describe("bounds a tenant cannot push", () => {
  test("a sparse memfd arena larger than the pool (512 TiB) is refused naming both sizes; the daemon serves on", async () => {
    const d = await daemon({ capacityUnits: 64, reserveMode: "none" });
    const vmm = d.vmm();
    const before = d.observableState();
    await rejects(d.manager.createMemfdArena(vmm.caller(), { requestId: "", sizeBytes: (1n << 28n) * UNIT, backing: "shmem", name: "huge", deliver: deliverTo(vmm, []) }), "invalid-argument", /268435456 units\) is larger than the pool \(64 units/);
    assert.deepEqual(d.observableState(), before);
    assert.equal(d.manager.getPoolStatus(vmm.caller()).servingState, "serving");
  });

  test("the map of a pool-sized sparse arena (2^24 units, 32 TiB) is its few runs", async () => {
    const capacity = 1 << 24;
    const d = await daemon({ capacityUnits: capacity, reserveMode: "none" });
    const vmm = d.vmm();
    const received: Fd[] = [];
    const { arena } = await d.manager.createMemfdArena(vmm.caller(), { requestId: "", sizeBytes: BigInt(capacity) * UNIT, backing: "shmem", name: "sparse", deliver: deliverTo(vmm, received) });
    await d.manager.allocate(vmm.caller(), { requestId: "", arenaId: arena.arenaId, unitCount: 2, offsetBytes: 8n * UNIT, label: "" });
    const map = d.manager.getFragmentationMap(vmm.caller(), { arenaId: arena.arenaId, allOwners: false });
    assert.deepEqual(
      map.arenas[0]!.runs.map((r) => [r.firstUnit, r.unitCount, r.state]),
      [
        [0, 8, "free"],
        [8, 2, "leased"],
        [10, capacity - 10, "free"],
      ],
    );
  });
});

describe("Watch streams per uid", () => {
  test("one uid's unread streams stop at its own limit; another uid and the admin can still watch", async () => {
    const d = await daemon({ capacityUnits: 8, configure: (c) => ({ ...c, limits: { ...c.limits, watchStreams: 8, watchStreamsPerUid: 3 } }) });
    const hog = d.vmm({ uid: 1001 });
    const other = d.vmm({ uid: 1002 });
    const admin = d.manager.identify(d.kernel.credentials);
    const open = [];
    for (let i = 0; i < 3; i++) open.push(d.manager.watch(hog.caller(), { arenaId: "", kinds: [], allOwners: false }));
    assert.throws(() => d.manager.watch(hog.caller(), { arenaId: "", kinds: [], allOwners: false }), (e: unknown) => e instanceof Error && "kind" in e && e.kind === "exhausted" && /uid 1001 has 3 Watch streams open \(limits.watch_streams_per_uid = 3\)/.test(e.message));
    // A second process of the same uid counts for the uid.
    assert.throws(() => d.manager.watch(d.vmm({ uid: 1001 }).caller(), { arenaId: "", kinds: [], allOwners: false }), /uid 1001/);
    for (let i = 0; i < 3; i++) open.push(d.manager.watch(other.caller(), { arenaId: "", kinds: [], allOwners: false }));
    // 6 of 8 open, none the admin's: the last 2 are the admin's room (a third uid is refused).
    assert.throws(() => d.manager.watch(d.vmm({ uid: 1003 }).caller(), { arenaId: "", kinds: [], allOwners: false }), /6 Watch streams of callers other than the admin are open: the last 2 of limits.watch_streams = 8 are room kept for the admin/);
    open.push(d.manager.watch(admin, { arenaId: "", kinds: [], allOwners: true }));
    open.push(d.manager.watch(admin, { arenaId: "", kinds: [], allOwners: true }));
    assert.throws(() => d.manager.watch(admin, { arenaId: "", kinds: [], allOwners: true }), /8 Watch streams open in all \(limits.watch_streams = 8\)/);
    open[0]!.close();
    open.push(d.manager.watch(hog.caller(), { arenaId: "", kinds: [], allOwners: false }));
    for (const s of open) s.close();
  });
});
