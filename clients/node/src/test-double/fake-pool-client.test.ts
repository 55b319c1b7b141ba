/**
 * The test double's own mechanics: the in-process transport, the fd bridge, identities, faults,
 * owner exit, restart and shutdown. The daemon's rules are the daemon's (src/daemon tests, and
 * the parity test that holds the double to the daemon on real sockets); the calls here only
 * show that they reach it and come back as PoolClient's errors.
 */
import assert from "node:assert/strict";
import { closeSync, existsSync, fstatSync, openSync, readlinkSync } from "node:fs";
import { after, describe, test } from "node:test";
import { CancelledError, DeadlineExceededError, ExhaustedError, FailedPreconditionError, InternalError, InvalidArgumentError, NotFoundError, PermissionDeniedError, UnavailableError } from "../pool-errors.ts";
import { FakePoolClient } from "../testing.ts";

const MiB = 1024n * 1024n;
const opened: FakePoolClient[] = [];
function fake(options: ConstructorParameters<typeof FakePoolClient>[0] = {}): FakePoolClient {
  const f = new FakePoolClient(options);
  opened.push(f);
  return f;
}
after(async () => {
  await Promise.all(opened.map((f) => f.shutdown()));
});

describe("the in-process daemon", () => {
  test("a memfd arena's fd is a real memfd of the arena's size, named as the daemon names it", async () => {
    const f = fake();
    const { arena, memfd } = await f.createMemfdArena({ sizeBytes: 8n * MiB, name: "vm" });
    try {
      assert.equal(BigInt(fstatSync(memfd).size), 8n * MiB);
      assert.equal(readlinkSync(`/proc/self/fd/${memfd}`), `/memfd:gmempool:${arena.arenaId} (deleted)`);
      const lease = await f.allocate(arena.arenaId, { unitCount: 3 });
      assert.equal((await f.getPoolStatus()).leasedUnitCount, 3);
      await f.release(lease.leaseId);
      await f.assertConservation();
    } finally {
      closeSync(memfd);
    }
  });

  test("the host is the one configured, never the machine's", async () => {
    const plain = await fake({ guestMemfd: false }).getCapabilities();
    assert.deepEqual(plain.arenaKinds, ["memfd"]);
    const inPlace = await fake({ inPlaceConversion: true }).getCapabilities();
    assert.ok(inPlace.conversionModes.includes("in-place"));
    const here = await fake().getCapabilities();
    assert.deepEqual(here.arenaKinds, ["guest_memfd", "memfd", "pair"]);
    assert.deepEqual(here.conversionModes, ["notify"]);
  });

  test("a stand-in guest_memfd is one file to the daemon: registering it twice is refused by the daemon's rule", async () => {
    const f = fake();
    const gmem = FakePoolClient.createStandInGuestMemfd(4n * MiB);
    try {
      const arena = await f.registerGuestMemfdArena(gmem, { sizeBytes: 4n * MiB, initialVisibility: "shared" });
      assert.equal(arena.kind, "guest_memfd");
      await assert.rejects(f.registerGuestMemfdArena(gmem, { sizeBytes: 4n * MiB, initialVisibility: "shared" }), (e: unknown) => e instanceof FailedPreconditionError || e instanceof InvalidArgumentError);
      assert.equal((await f.listArenas()).length, 1);
    } finally {
      closeSync(gmem);
    }
  });

  test("an fd the fake kernel cannot model is refused, naming it", async () => {
    const f = fake();
    const devNull = openSync("/dev/null", "r");
    try {
      await assert.rejects(f.registerGuestMemfdArena(devNull, { sizeBytes: 2n * MiB, initialVisibility: "shared" }), (e: unknown) => e instanceof InvalidArgumentError && e.details.includes("/dev/null"));
      assert.deepEqual(await f.listArenas(), []);
    } finally {
      closeSync(devNull);
    }
  });
});

describe("identities", () => {
  test("another process's arena is not found, the admin sees every owner's, a non-admin may not ask for them", async () => {
    const f = fake();
    const other = f.as({ pid: 4_100_001 });
    const admin = f.as({ admin: true });
    const { arena, memfd } = await other.createMemfdArena({ sizeBytes: 2n * MiB });
    closeSync(memfd);
    assert.equal(arena.owner.pid, 4_100_001);
    await assert.rejects(f.getArena(arena.arenaId), NotFoundError);
    assert.deepEqual((await admin.listArenas({ allOwners: true })).map((a) => a.arenaId), [arena.arenaId]);
    await assert.rejects(f.listArenas({ allOwners: true }), PermissionDeniedError);
    assert.equal((await admin.getCapabilities()).callerIsAdmin, true);
    assert.equal((await f.getCapabilities()).callerIsAdmin, false);
    assert.deepEqual((await f.getCapabilities()).caller, f.identity);
  });
});

describe("faults", () => {
  test("failNext answers with the given error without reaching the daemon", async () => {
    const f = fake();
    const { arena, memfd } = await f.createMemfdArena({ sizeBytes: 4n * MiB });
    closeSync(memfd);
    f.failNext("allocate", new ExhaustedError("no units left"), { times: 2 });
    assert.deepEqual(f.pendingFaults(), { allocate: 2 });
    await assert.rejects(f.allocate(arena.arenaId, { unitCount: 1 }), (e: unknown) => e instanceof ExhaustedError && e.details === "no units left" && e.operation === "Allocate");
    await assert.rejects(f.allocate(arena.arenaId, { unitCount: 1 }), ExhaustedError);
    assert.deepEqual(f.pendingFaults(), {});
    assert.equal((await f.getPoolStatus()).leasedUnitCount, 0);
    await f.allocate(arena.arenaId, { unitCount: 1 });
  });

  test("an UnavailableError is waited out: the call is retried with its own request id until it succeeds or its deadline comes", async () => {
    const f = fake();
    const { arena, memfd } = await f.createMemfdArena({ sizeBytes: 4n * MiB });
    closeSync(memfd);
    f.failNext("allocate", () => new UnavailableError("the daemon is starting"), { times: 3 });
    const lease = await f.allocate(arena.arenaId, { unitCount: 1 }, { requestId: "retried-1" });
    assert.deepEqual(f.pendingFaults(), {});
    assert.equal((await f.listLeases()).length, 1);
    // The same id again is the daemon's replay, not a second lease.
    assert.equal((await f.allocate(arena.arenaId, { unitCount: 1 }, { requestId: "retried-1" })).leaseId, lease.leaseId);
    f.failNext("getPoolStatus", () => new UnavailableError("the daemon is draining"), { times: 1000 });
    const started = Date.now();
    await assert.rejects(f.getPoolStatus({ deadlineMs: 400 }), UnavailableError);
    assert.ok(Date.now() - started < 2000);
    f.clearFaults();
  });

  test("stallNext: the call ends at its deadline, or with CancelledError when the client closes", async () => {
    const f = fake();
    f.stallNext("getPoolStatus", { times: 2 });
    await assert.rejects(f.getPoolStatus({ deadlineMs: 50 }), DeadlineExceededError);
    const pending = f.getPoolStatus();
    const view = f.as({});
    view.stallNext("getPolicy");
    const stalled = view.getPolicy();
    view.close();
    await assert.rejects(stalled, CancelledError);
    f.clearFaults();
    await assert.rejects(Promise.race([pending, new Promise((_, reject) => setTimeout(() => reject(new Error("still stalled")), 100))]), /still stalled/);
  });

  test("failKernelCall: the daemon's own handling of a failed syscall, nothing changed", async () => {
    const f = fake();
    await f.failKernelCall("memfdCreate", "EMFILE");
    await assert.rejects(f.createMemfdArena({ sizeBytes: 2n * MiB }), (e: unknown) => (e instanceof ExhaustedError || e instanceof InternalError || e instanceof UnavailableError) && e.details.includes("EMFILE"));
    assert.deepEqual(await f.listArenas(), []);
    await f.assertConservation();
  });
});

describe("processes and restarts", () => {
  test("simulateOwnerExit: the daemon reaps the owner's arenas and says what it released", async () => {
    const f = fake();
    const vmm = f.as({ pid: 4_100_002 });
    const { arena, memfd } = await vmm.createMemfdArena({ sizeBytes: 8n * MiB });
    closeSync(memfd);
    await vmm.allocate(arena.arenaId, { unitCount: 3 });
    assert.deepEqual(await f.simulateOwnerExit({ pid: 4_100_002 }), { deletedArenaCount: 1, releasedLeaseCount: 1, releasedUnitCount: 3 });
    const snapshot = await f.snapshot();
    assert.deepEqual(snapshot.arenas, []);
    assert.equal(snapshot.status.freeUnitCount, snapshot.status.capacityUnitCount);
    assert.ok(snapshot.events.some((e) => e.kind === "owner-exited"));
    // The pid is a new process now: it starts with nothing and can work again.
    assert.deepEqual(await vmm.listArenas(), []);
    const again = await vmm.createMemfdArena({ sizeBytes: 2n * MiB });
    closeSync(again.memfd);
    assert.notEqual(again.arena.owner.startTimeTicks, arena.owner.startTimeTicks);
  });

  test("simulateDaemonRestart: arenas come back DETACHED and PoolClient's own reattach makes them ACTIVE", async () => {
    const f = fake();
    const { arena, memfd } = await f.createMemfdArena({ sizeBytes: 4n * MiB });
    try {
      const lease = await f.allocate(arena.arenaId, { unitCount: 2 });
      await f.simulateDaemonRestart();
      const report = await f.reattachNow();
      assert.deepEqual(report.reattached, [arena.arenaId]);
      assert.equal((await f.getArena(arena.arenaId)).state, "active");
      assert.equal((await f.getLease(lease.leaseId)).unitCount, 2);
      await f.assertConservation();
    } finally {
      closeSync(memfd);
    }
  });

  test("simulateDaemonRestart with keepFiles: the fd store keeps the files, the arenas stay ACTIVE", async () => {
    const f = fake({ autoReattach: false });
    const { arena, memfd } = await f.createMemfdArena({ sizeBytes: 2n * MiB });
    closeSync(memfd);
    await f.simulateDaemonRestart({ keepFiles: true });
    assert.equal((await f.getArena(arena.arenaId)).state, "active");
    await f.simulateDaemonRestart();
    assert.equal((await f.getArena(arena.arenaId)).state, "detached");
  });

  test("drain: mutations answer UnavailableError, reads still work", async () => {
    const f = fake();
    await f.drain();
    await assert.rejects(f.createMemfdArena({ sizeBytes: 2n * MiB }), UnavailableError);
    assert.equal((await f.getPoolStatus()).servingState, "draining");
  });

  test("shutdown stops the daemon and removes its journal", async () => {
    const f = new FakePoolClient();
    await f.getPoolStatus();
    assert.equal(existsSync(f.journalDir), true);
    await f.shutdown();
    await assert.rejects(f.getPoolStatus(), CancelledError);
    assert.equal(existsSync(f.journalDir), false);
  });
});
