/**
 * Restart without loss (DESIGN.md §7), owner exit (§6) and idempotent retries, on the fake
 * kernel. A "crash" is `FakeDaemon.crashAndRestart()`: the journal takes no more writes, the
 * daemon's fake process exits (its fds close, its reserve guest_memfd is freed, as after
 * kill -9), and a new daemon starts on the same journal and host, where the VMMs live on.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { FakeHost } from "../kvm/fake/fake-host.ts";
import type { FakeKernel } from "../kvm/fake/fake-kernel.ts";
import type { Fd } from "@gmempool/sys";
import { ManualClock } from "../kvm/manual-clock.ts";
import { FakeDaemon, type FakeVmm } from "./testing/fake-daemon.ts";
import { until } from "./testing/manager-test-kit.ts";
import { type ArenaFdStore, type PoolEvent } from "./pool-service.ts";
import { isGmempoolError } from "../pool/errors.ts";
import { Prng } from "../pool/testing/prng.ts";

const UNIT = 2n * 1024n * 1024n;

function random(seed: number): () => number {
  const prng = new Prng(seed);
  return () => prng.next();
}

async function gmemArena(d: FakeDaemon, vmm: FakeVmm, units: number, requestId = ""): Promise<{ arenaId: string; gmem: Fd }> {
  const gmem = vmm.createGuestMemfd(units);
  const { arena } = await vmm.withSentFd(gmem, (fd) => d.manager.registerGuestMemfdArena(vmm.caller(d), { requestId, gmemFd: fd, sizeBytes: BigInt(units) * UNIT, initialVisibility: "shared", name: "" }), d);
  return { arenaId: arena.arenaId, gmem };
}

async function reattach(d: FakeDaemon, vmm: FakeVmm, arenaId: string, gmem: Fd): Promise<void> {
  await vmm.withSentFd(gmem, (fd) => d.manager.reattachArena(vmm.caller(d), { requestId: "", arenaId, gmemFd: fd }), d);
}

describe("restart without loss", () => {
  for (const seed of Array.from({ length: Number(process.env["GMEMPOOL_CRASH_SEEDS"] ?? 8) }, (_, i) => i + 1)) {
    test(`kill -9 in the middle of a churn loses no acknowledged lease and no unit (seed ${seed})`, async () => {
      const rand = random(seed);
      const d = await FakeDaemon.start({ capacityUnits: 48, configure: (c) => ({ ...c, journal: { ...c.journal, compactAfterRecords: 7 + seed } }) });
      const vmms = [d.vmm(), d.vmm(), d.vmm()];
      const arenas = await Promise.all(vmms.map((v) => gmemArena(d, v, 24)));
      const live = new Map<string, number>(); // acknowledged leases -> vmm index
      const released = new Set<string>();
      const releasing = new Set<string>(); // a release was started: the lease may or may not be gone
      const inflight: Promise<unknown>[] = [];
      const crashAfter = 20 + Math.floor(rand() * 40);
      for (let op = 0; op < crashAfter; op++) {
        const i = Math.floor(rand() * vmms.length);
        const vmm = vmms[i]!;
        const mine = [...live].filter(([, v]) => v === i).map(([id]) => id);
        const choice = rand();
        if (choice < 0.5 || mine.length === 0) {
          inflight.push(d.manager.allocate(vmm.caller(), { requestId: `op-${op}`, arenaId: arenas[i]!.arenaId, unitCount: 1 + Math.floor(rand() * 4), label: `op-${op}` }).then((r) => live.set(r.lease.leaseId, i), () => undefined));
        } else if (choice < 0.8) {
          const id = mine[Math.floor(rand() * mine.length)]!;
          releasing.add(id);
          inflight.push(d.manager.release(vmm.caller(), { requestId: `op-${op}`, leaseId: id }).then(() => {
            live.delete(id);
            released.add(id);
          }, () => undefined));
        } else {
          const id = mine[Math.floor(rand() * mine.length)]!;
          const lease = [...d.manager.pool.leases()].find((l) => l.id === id);
          if (lease === undefined) continue; // its release is in flight
          inflight.push(d.manager.discard(vmm.caller(), { requestId: `op-${op}`, arenaId: arenas[i]!.arenaId, offsetBytes: BigInt(lease.start) * UNIT + 4096n, lengthBytes: UNIT }).then(() => undefined, () => undefined));
        }
        // Let some operations finish, leave others in flight.
        if (rand() < 0.5) await new Promise((resolve) => setImmediate(resolve));
      }
      const acknowledgedLive = new Map(live);
      const acknowledgedReleased = new Set(released);

      const d2 = await d.crashAndRestart();
      for (const [id, i] of acknowledgedLive) {
        if (releasing.has(id)) continue;
        assert.equal(d2.manager.getLease(vmms[i]!.caller(d2), id).leaseId, id, `acknowledged lease ${id} survived`);
      }
      for (const id of acknowledgedReleased) assert.throws(() => d2.manager.pool.lease(id), /does not exist/, `released lease ${id} stays released`);
      for (const [i, vmm] of vmms.entries()) {
        assert.equal(d2.manager.getArena(vmm.caller(d2), arenas[i]!.arenaId).state, "detached");
        await reattach(d2, vmm, arenas[i]!.arenaId, arenas[i]!.gmem);
      }
      d2.assertConservation();
      // Every unit is accounted for: release it all and the reserve is whole again.
      for (const [i, vmm] of vmms.entries()) {
        for (const lease of d2.manager.listLeases(vmm.caller(d2), { arenaId: "", allOwners: false })) {
          await d2.manager.release(vmm.caller(d2), { requestId: "", leaseId: lease.leaseId });
        }
        assert.equal(vmm.kernel.populatedBytes(arenas[i]!.gmem), 0n);
      }
      assert.equal(d2.manager.pool.reserve.freeUnits, 48);
      d2.assertConservation();
      await d2.close();
    });
  }

  test("a retry after a restart replays the first result; another request with the id is refused", async () => {
    const d = await FakeDaemon.start({ capacityUnits: 16 });
    const vmm = d.vmm();
    const { arenaId, gmem } = await gmemArena(d, vmm, 16);
    const first = await d.manager.allocate(vmm.caller(), { requestId: "alloc-1", arenaId, unitCount: 3, label: "boot" });
    const d2 = await d.crashAndRestart();
    await reattach(d2, vmm, arenaId, gmem);
    const again = await d2.manager.allocate(vmm.caller(d2), { requestId: "alloc-1", arenaId, unitCount: 3, label: "boot" });
    assert.equal(again.replayed, true);
    assert.deepEqual({ ...again, replayed: false }, first);
    assert.equal(d2.manager.listLeases(vmm.caller(d2), { arenaId: "", allOwners: false }).length, 1);
    await assert.rejects(d2.manager.allocate(vmm.caller(d2), { requestId: "alloc-1", arenaId, unitCount: 4, label: "boot" }), (e: unknown) => isGmempoolError(e, "invalid-argument") && /already used for a different Allocate/.test(e.message));
    d2.assertConservation();
    await d2.close();
  });

  test("a request id is remembered for the retention (also across a restart), then acts again", async () => {
    const clock = new ManualClock();
    const retentionMs = 10 * 60 * 1000;
    const d = await FakeDaemon.start({ capacityUnits: 16, clock, configure: (c) => ({ ...c, limits: { ...c.limits, requestIdRetentionMs: retentionMs } }) });
    const vmm = d.vmm();
    const { arenaId, gmem } = await gmemArena(d, vmm, 16);
    const request = { requestId: "boot", arenaId, unitCount: 2, label: "" };
    const first = await d.manager.allocate(vmm.caller(), request);
    clock.advance(retentionMs);
    assert.equal((await d.manager.allocate(vmm.caller(), request)).replayed, true, "still within the retention");
    const d2 = await d.crashAndRestart();
    await reattach(d2, vmm, arenaId, gmem);
    assert.equal((await d2.manager.allocate(vmm.caller(d2), request)).replayed, true, "restored from the journal");
    clock.advance(1);
    const again = await d2.manager.allocate(vmm.caller(d2), request);
    assert.equal(again.replayed, false, "past the retention the request acts again");
    assert.notEqual(again.lease.leaseId, first.lease.leaseId);
    // A restart after the retention does not bring the expired entry back either.
    const d3 = await d2.crashAndRestart();
    await reattach(d3, vmm, arenaId, gmem);
    clock.advance(retentionMs + 1);
    const d4 = await d3.crashAndRestart();
    await reattach(d4, vmm, arenaId, gmem);
    assert.equal((await d4.manager.allocate(vmm.caller(d4), request)).replayed, false);
    assert.equal(d4.manager.listLeases(vmm.caller(d4), { arenaId: "", allOwners: false }).length, 3);
    d4.assertConservation();
    await d4.close();
  });

  test("concurrent retries with one request id act once", async () => {
    const d = await FakeDaemon.start({ capacityUnits: 16 });
    const vmm = d.vmm();
    const { arenaId } = await gmemArena(d, vmm, 16);
    const results = await Promise.all([1, 2, 3].map(() => d.manager.allocate(vmm.caller(), { requestId: "same", arenaId, unitCount: 2, label: "" })));
    assert.equal(new Set(results.map((r) => r.lease.leaseId)).size, 1);
    assert.deepEqual(results.map((r) => r.replayed), [false, true, true]);
    assert.equal(d.manager.pool.reserve.freeUnits, 14);
    const releasedTwice = await Promise.all([1, 2].map(() => d.manager.release(vmm.caller(), { requestId: "rel", leaseId: results[0]!.lease.leaseId })));
    assert.deepEqual(releasedTwice.map((r) => [r.releasedUnitCount, r.replayed]), [[2, false], [2, true]]);
    await d.close();
  });

  test("a memfd arena is reattached with the memfd its VMM received; another file is refused", async () => {
    const d = await FakeDaemon.start({ capacityUnits: 16, reserveMode: "none" });
    const vmm = d.vmm();
    const received: Fd[] = [];
    const { arena } = await d.manager.createMemfdArena(vmm.caller(), { requestId: "m1", sizeBytes: 8n * UNIT, backing: "shmem", name: "", deliver: (fd) => {
      received.push(vmm.kernel.adoptFile(d.kernel.fileForFd(fd, "sendmsg").get()));
      return Promise.resolve();
    } });
    await d.manager.allocate(vmm.caller(), { requestId: "", arenaId: arena.arenaId, unitCount: 5, label: "" });
    const d2 = await d.crashAndRestart();
    await assert.rejects(d2.manager.allocate(vmm.caller(d2), { requestId: "", arenaId: arena.arenaId, unitCount: 1, label: "" }), (e: unknown) => isGmempoolError(e, "failed-precondition") && /DETACHED/.test(e.message));
    const impostor = vmm.kernel.memfdCreate("something-else", "shmem");
    vmm.kernel.ftruncate(impostor, 8n * UNIT);
    await assert.rejects(vmm.withSentFd(impostor, (fd) => d2.manager.reattachArena(vmm.caller(d2), { requestId: "", arenaId: arena.arenaId, memfdFd: fd }), d2), (e: unknown) => isGmempoolError(e, "failed-precondition") && /not the arena's/.test(e.message));
    await vmm.withSentFd(received[0]!, (fd) => d2.manager.reattachArena(vmm.caller(d2), { requestId: "", arenaId: arena.arenaId, memfdFd: fd }), d2);
    assert.equal(vmm.kernel.populatedBytes(received[0]!), 5n * UNIT);
    d2.assertConservation();
    // A replayed create delivers the memfd again on the retry's token.
    const redelivered: Fd[] = [];
    const replay = await d2.manager.createMemfdArena(vmm.caller(d2), { requestId: "m1", sizeBytes: 8n * UNIT, backing: "shmem", name: "", deliver: (fd) => {
      redelivered.push(fd);
      return Promise.resolve();
    } });
    assert.equal(replay.replayed, true);
    assert.equal(redelivered.length, 1);
    await d2.close();
  });

  test("a create retried after a restart that lost its memfd gets a precise error naming the arena, never a second arena (issue 12 item 6)", async () => {
    const d = await FakeDaemon.start({ capacityUnits: 16, reserveMode: "none" });
    const vmm = d.vmm();
    // The reply (and the fd) never reached the VMM: it retries with the same request id.
    const { arena } = await d.manager.createMemfdArena(vmm.caller(), { requestId: "lost-1", sizeBytes: 4n * UNIT, backing: "shmem", name: "", deliver: () => Promise.resolve() });
    const d2 = await d.crashAndRestart();
    const retry = d2.manager.createMemfdArena(vmm.caller(d2), { requestId: "lost-1", sizeBytes: 4n * UNIT, backing: "shmem", name: "", deliver: () => Promise.resolve() });
    await assert.rejects(retry, (e: unknown) => isGmempoolError(e, "failed-precondition") && e.message.includes(arena.arenaId) && /DETACHED/.test(e.message));
    assert.deepEqual(d2.manager.listArenas(vmm.caller(d2), { allOwners: false }).map((a) => a.arenaId), [arena.arenaId]);
    await d2.close();
  });

  test("a memfd arena nobody reattaches within detached_memfd_grace is deleted with its units (file-lost); a reattached one and a guest_memfd arena stay", async () => {
    const clock = new ManualClock();
    const d = await FakeDaemon.start({ capacityUnits: 16, reserveMode: "none", clock });
    const vmm = d.vmm();
    const received: Fd[] = [];
    const deliver = (fd: Fd): Promise<void> => {
      received.push(vmm.kernel.adoptFile(d.kernel.fileForFd(fd, "sendmsg").get()));
      return Promise.resolve();
    };
    const lost = await d.manager.createMemfdArena(vmm.caller(), { requestId: "", sizeBytes: 4n * UNIT, backing: "shmem", name: "lost", deliver: () => Promise.resolve() });
    await d.manager.allocate(vmm.caller(), { requestId: "", arenaId: lost.arena.arenaId, unitCount: 3, label: "" });
    const kept = await d.manager.createMemfdArena(vmm.caller(), { requestId: "", sizeBytes: 2n * UNIT, backing: "shmem", name: "kept", deliver });
    const gmem = await gmemArena(d, vmm, 2);
    const d2 = await d.crashAndRestart();
    await vmm.withSentFd(received[0]!, (fd) => d2.manager.reattachArena(vmm.caller(d2), { requestId: "", arenaId: kept.arena.arenaId, memfdFd: fd }), d2);
    const admin = d2.manager.identify(d2.kernel.credentials);
    const events: PoolEvent[] = [];
    const stream = d2.manager.watch(admin, { arenaId: "", kinds: [], allOwners: true });
    const reading = (async () => {
      for await (const e of stream) {
        events.push(e);
        if (e.kind === "arena-deleted") break;
      }
    })();
    clock.advance(5 * 60 * 1000);
    await until(() => d2.manager.pool.findArena(lost.arena.arenaId) === undefined, 2000);
    await reading;
    const deleted = events.find((e) => e.kind === "arena-deleted");
    assert.ok(deleted?.kind === "arena-deleted" && deleted.reason === "file-lost" && deleted.releasedUnitCount === 3, JSON.stringify(deleted, (_k, v: unknown) => (typeof v === "bigint" ? String(v) : v)));
    assert.equal(d2.manager.getArena(admin, kept.arena.arenaId).state, "active");
    assert.equal(d2.manager.getArena(admin, gmem.arenaId).state, "detached");
    assert.equal(d2.manager.getPoolStatus(admin).freeUnitCount, 16);
    d2.assertConservation();
    await d2.close();
  });

  test("ReattachArena with a read-only reopen or an O_PATH fd of the arena's own memfd is refused naming the access mode, and changes nothing (issue 12 item 5)", async () => {
    const d = await FakeDaemon.start({ capacityUnits: 16, reserveMode: "none" });
    const vmm = d.vmm();
    const received: Fd[] = [];
    const { arena } = await d.manager.createMemfdArena(vmm.caller(), { requestId: "", sizeBytes: 4n * UNIT, backing: "shmem", name: "", deliver: (fd) => {
      received.push(vmm.kernel.adoptFile(d.kernel.fileForFd(fd, "sendmsg").get()));
      return Promise.resolve();
    } });
    await d.manager.allocate(vmm.caller(), { requestId: "", arenaId: arena.arenaId, unitCount: 2, label: "" });
    const d2 = await d.crashAndRestart();
    const before = d2.observableState();
    for (const access of ["read-only", "path"] as const) {
      const reopened = vmm.kernel.reopen(received[0]!, access);
      await assert.rejects(
        vmm.withSentFd(reopened, (fd) => d2.manager.reattachArena(vmm.caller(d2), { requestId: "", arenaId: arena.arenaId, memfdFd: fd }), d2),
        (e: unknown) => isGmempoolError(e, "invalid-argument") && e.message.includes(`opened ${access}`),
      );
      vmm.kernel.close(reopened);
      assert.deepEqual(d2.observableState(), before);
    }
    await vmm.withSentFd(received[0]!, (fd) => d2.manager.reattachArena(vmm.caller(d2), { requestId: "", arenaId: arena.arenaId, memfdFd: fd }), d2);
    assert.equal(d2.manager.getArena(vmm.caller(d2), arena.arenaId).state, "active");
    await d2.close();
  });

  test("reattach makes the file match the journal: extra pages punched, missing ones populated", async () => {
    const d = await FakeDaemon.start({ capacityUnits: 16 });
    const vmm = d.vmm();
    const { arenaId, gmem } = await gmemArena(d, vmm, 16);
    await d.manager.allocate(vmm.caller(), { requestId: "", arenaId, unitCount: 4, offsetBytes: 0n, label: "" });
    const d2 = await d.crashAndRestart();
    // While the daemon was down, the file changed behind the journal's back.
    await vmm.kernel.fallocate(gmem, 3, 0n, UNIT); // punched a leased unit
    await vmm.kernel.fallocate(gmem, 1, 8n * UNIT, 2n * UNIT); // populated unleased units
    await reattach(d2, vmm, arenaId, gmem);
    assert.equal(vmm.kernel.populatedBytes(gmem), 4n * UNIT);
    assert.deepEqual(vmm.kernel.populatedRanges(gmem), [[0n, 4n * UNIT]]);
    d2.assertConservation();
    await d2.close();
  });
});

describe("systemd fd store", () => {
  test("arena files stored with FDSTORE come back ACTIVE after a restart, the kernel matching the journal", async () => {
    let daemonKernel: FakeKernel | undefined;
    const host = new FakeHost();
    const systemd = host.process({ pid: 1 });
    const stored = new Map<string, Fd>();
    const fdStore: ArenaFdStore = {
      store: (name, fd) => {
        const old = stored.get(name);
        if (old !== undefined) systemd.close(old);
        stored.set(name, systemd.adoptFile(daemonKernel!.fileForFd(fd, "sendmsg").get()));
      },
      remove: (name) => {
        const fd = stored.get(name);
        stored.delete(name);
        if (fd !== undefined) systemd.close(fd);
      },
    };
    const inheritFds = (kernel: FakeKernel): ReadonlyMap<string, Fd> => {
      daemonKernel = kernel;
      return new Map([...stored].map(([name, fd]) => [name, kernel.adoptFile(systemd.fileForFd(fd, "sendmsg").get())]));
    };
    const d = await FakeDaemon.start({ host, capacityUnits: 16, fdStore, inheritFds });
    const vmm = d.vmm();
    const a = await gmemArena(d, vmm, 8);
    const gone = await gmemArena(d, vmm, 2);
    await d.manager.allocate(vmm.caller(), { requestId: "", arenaId: a.arenaId, unitCount: 5, label: "" });
    await d.manager.deleteArena(vmm.caller(), { requestId: "", arenaId: gone.arenaId, releaseLeases: true });
    assert.deepEqual([...stored.keys()], [`gmempool.${a.arenaId}.0`]);
    const d2 = await d.crashAndRestart();
    assert.equal(d2.manager.getArena(vmm.caller(d2), a.arenaId).state, "active");
    await d2.manager.allocate(vmm.caller(d2), { requestId: "", arenaId: a.arenaId, unitCount: 3, label: "" });
    d2.assertConservation();
    assert.equal(vmm.kernel.populatedBytes(a.gmem), 8n * UNIT);
    await d2.close();
  });
});

describe("owner exit", () => {
  test("a VMM that exits has its leases released and its units back within one second", async () => {
    const d = await FakeDaemon.start({ capacityUnits: 32 });
    const vmm = d.vmm();
    const other = d.vmm();
    const a = await gmemArena(d, vmm, 16);
    const b = await gmemArena(d, other, 8);
    await d.manager.allocate(vmm.caller(), { requestId: "", arenaId: a.arenaId, unitCount: 10, label: "" });
    await d.manager.allocate(vmm.caller(), { requestId: "", arenaId: a.arenaId, unitCount: 4, label: "" });
    await d.manager.allocate(other.caller(), { requestId: "", arenaId: b.arenaId, unitCount: 3, label: "" });
    const admin = d.manager.identify({ uid: 0, gid: 0, pid: other.pid });
    const events: PoolEvent[] = [];
    const stream = d.manager.watch(admin, { arenaId: "", kinds: ["owner-exited", "lease-released", "arena-deleted"], allOwners: true });
    const reading = (async () => {
      for await (const e of stream) {
        events.push(e);
        if (e.kind === "owner-exited") break;
      }
    })();
    const fdsBefore = d.kernel.openFds().length;
    vmm.exit();
    const ms = await until(() => d.manager.pool.reserve.freeUnits === 32 - 3, 1000);
    await reading;
    assert.ok(ms < 1000, `units back after ${ms} ms`);
    assert.equal(d.kernel.openFds().length, fdsBefore - 1, "the arena's fd is closed");
    assert.deepEqual(events.map((e) => e.kind), ["pool-status", "lease-released", "lease-released", "arena-deleted", "owner-exited"]);
    const exited = events.at(-1)!;
    assert.ok(exited.kind === "owner-exited" && exited.releasedUnitCount === 14 && exited.deletedArenaCount === 1);
    assert.equal(d.manager.listArenas(admin, { allOwners: true }).length, 1);
    d.assertConservation();
    await d.close();
  });

  test("an owner that exited while the daemon was down is cleaned up at start-up", async () => {
    const d = await FakeDaemon.start({ capacityUnits: 16 });
    const vmm = d.vmm();
    const { arenaId } = await gmemArena(d, vmm, 8);
    await d.manager.allocate(vmm.caller(), { requestId: "", arenaId, unitCount: 6, label: "" });
    await d.manager.simulateCrash();
    d.host.exitProcess(d.kernel.pid);
    vmm.exit();
    const d2 = await FakeDaemon.start({ ...d.options, host: d.host, journalDir: d.journalDir });
    // The leases' units come back first, then the arena goes (one cleanup, several awaits).
    await until(() => d2.manager.pool.reserve.freeUnits === 16 && [...d2.manager.pool.arenas()].length === 0, 1000);
    d2.assertConservation();
    await d2.close();
  });

  test("an exit during an allocation waits for it, then releases everything", async () => {
    const d = await FakeDaemon.start({ capacityUnits: 32 });
    const vmm = d.vmm();
    const { arenaId } = await gmemArena(d, vmm, 32);
    const admin = d.manager.identify({ uid: 0, gid: 0, pid: d.vmm().pid });
    const stream = d.manager.watch(admin, { arenaId: "", kinds: ["arena-state-changed", "lease-allocated", "lease-released", "arena-deleted", "owner-exited"], allOwners: true });
    const events = stream[Symbol.asyncIterator]();
    const next = async (): Promise<PoolEvent> => {
      const r = await events.next();
      assert.ok(r.done !== true, "the stream ended");
      return r.value;
    };
    assert.equal((await next()).kind, "pool-status");
    const hold = d.kernel.holdSlowCalls();
    let settled = false;
    const allocation = d.manager.allocate(vmm.caller(), { requestId: "", arenaId, unitCount: 20, label: "" }).finally(() => (settled = true));
    await hold.held;
    vmm.exit();
    // The daemon has seen the exit (the arena is DELETING) while the allocation's kernel call is held.
    const deleting = await next();
    assert.ok(deleting.kind === "arena-state-changed" && deleting.arena.arenaId === arenaId && deleting.arena.state === "deleting", deleting.kind);
    assert.ok(hold.waiting > 0, "the allocation's kernel call is still held");
    assert.equal(settled, false);
    hold.release();
    // The allocation in flight completes; the cleanup waited for it and takes its lease back.
    assert.equal((await allocation).lease.unitCount, 20);
    const rest: PoolEvent[] = [];
    while (rest.at(-1)?.kind !== "owner-exited") rest.push(await next());
    assert.deepEqual(rest.map((e) => e.kind), ["lease-allocated", "lease-released", "arena-deleted", "owner-exited"]);
    assert.ok(rest[3]?.kind === "owner-exited" && rest[3].releasedUnitCount === 20);
    await events.return?.();
    assert.equal(d.manager.pool.reserve.freeUnits, 32);
    assert.deepEqual([...d.manager.pool.arenas()], []);
    d.assertConservation();
    await d.close();
  });
});
