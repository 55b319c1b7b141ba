/**
 * HandOverArena on the fake kernel (pool.proto; arena-handover.ts): a launcher hands its memfd
 * arena to the VMM it spawned by the VMM's pidfd. The VMM's exit frees the units, the launcher's
 * does not; every refusal is precise and changes nothing; the new owner survives a restart.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { Fd } from "@gmempool/sys";
import type { FakeDaemon, FakeVmm } from "./testing/fake-daemon.ts";
import { daemon, deliverTo, refuses, rejects, stopAfterTests, UNIT, until } from "./testing/manager-test-kit.ts";
import type { ArenaInfo } from "./pool-service.ts";

/** A launcher's memfd arena of `units` units with one lease of all of them. */
async function launcherArena(d: FakeDaemon, launcher: FakeVmm, units = 4): Promise<ArenaInfo> {
  const memfds: Fd[] = [];
  const { arena } = await d.manager.createMemfdArena(launcher.caller(), { requestId: "", sizeBytes: BigInt(units) * UNIT, backing: "shmem", name: "vm", deliver: deliverTo(launcher, memfds) });
  await d.manager.allocate(launcher.caller(), { requestId: "", arenaId: arena.arenaId, unitCount: units, label: "guest" });
  return arena;
}

/** The launcher sends a pidfd of `pid` (opened in its own process) and names it in HandOverArena. */
function handOver(d: FakeDaemon, launcher: FakeVmm, arenaId: string, pid: number, requestId = ""): Promise<{ arena: ArenaInfo }> {
  const pidfd = launcher.kernel.openPidfd(pid);
  return launcher.withSentFd(pidfd, (fd) => d.manager.handOverArena(launcher.caller(), { requestId, arenaId, ownerPidfd: fd })).finally(() => launcher.kernel.close(pidfd));
}

/** A daemon, a launcher with its arena and lease, and the VMM it is to hand them to. */
async function launched(): Promise<{ d: FakeDaemon; launcher: FakeVmm; vmm: FakeVmm; arena: ArenaInfo }> {
  const d = await daemon();
  const launcher = d.vmm();
  const vmm = d.vmm();
  return { d, launcher, vmm, arena: await launcherArena(d, launcher) };
}

describe("HandOverArena: ownership follows the VMM", () => {
  test("the named process owns the arena and its leases; the launcher's exit frees nothing, the VMM's exit frees every unit", async () => {
    const { d, launcher, vmm, arena } = await launched();
    const { arena: handed } = await handOver(d, launcher, arena.arenaId, vmm.pid);
    assert.equal(handed.owner.pid, vmm.pid);
    assert.equal(handed.owner.uid, 1000);
    assert.equal(handed.owner.startTimeTicks, 1000n + BigInt(vmm.pid));
    assert.deepEqual(d.manager.listArenas(vmm.caller(), { allOwners: false }).map((a) => a.arenaId), [arena.arenaId]);
    assert.deepEqual(d.manager.listLeases(vmm.caller(), { arenaId: "", allOwners: false }).map((l) => l.leaseId).length, 1);
    await rejects(Promise.resolve().then(() => d.manager.getArena(launcher.caller(), arena.arenaId)), "not-found", /does not exist/);
    d.assertConservation();

    launcher.exit();
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(d.manager.getPoolStatus(vmm.caller()).leasedUnitCount, 4, "the launcher's exit released the handed arena's units");
    assert.equal(d.manager.getArena(vmm.caller(), arena.arenaId).leasedUnitCount, 4);
    d.assertConservation();

    vmm.exit();
    await until(() => d.manager.getPoolStatus(d.manager.identify(d.kernel.credentials)).arenaCount === 0, 2000);
    assert.equal(d.manager.getPoolStatus(d.manager.identify(d.kernel.credentials)).leasedUnitCount, 0);
    assert.deepEqual(d.kernel.openFds().filter((fd) => d.kernel.identifyFd(fd).kind === "pidfd"), [], "the daemon's pidfd of the VMM stayed open");
    d.assertConservation();
  });

  test("the daemon keeps one fd for the new owner (its dup of the pidfd); the token's copy is closed after the call", async () => {
    const { d, launcher, vmm, arena } = await launched();
    const before = d.kernel.openFds().length;
    await handOver(d, launcher, arena.arenaId, vmm.pid);
    // One fd more: the watch's dup of the VMM's pidfd; the token's copy was closed after the call.
    assert.equal(d.kernel.openFds().length, before + 1);
    d.assertConservation();
  });

  test("refusals: not the caller's arena, another uid, an exited process, an fd that is no pidfd — each named, nothing changed", async () => {
    const d = await daemon();
    const launcher = d.vmm();
    const stranger = d.vmm();
    const otherUid = d.vmm({ uid: 2000, gid: 2000 });
    const arena = await launcherArena(d, launcher);

    await refuses(d, () => handOver(d, stranger, arena.arenaId, stranger.pid), "not-found", new RegExp(`arena "${arena.arenaId}" does not exist`));
    await refuses(d, () => handOver(d, launcher, "", stranger.pid), "invalid-argument", /arena_id is empty/);
    await refuses(d, () => handOver(d, launcher, arena.arenaId, otherUid.pid), "permission-denied", new RegExp(`process ${otherUid.pid} belongs to uid 2000; arena "${arena.arenaId}" belongs to uid 1000`));

    const gone = d.vmm();
    const pidfd = launcher.kernel.openPidfd(gone.pid);
    gone.exit();
    await refuses(d, () => launcher.withSentFd(pidfd, (fd) => d.manager.handOverArena(launcher.caller(), { requestId: "", arenaId: arena.arenaId, ownerPidfd: fd })), "failed-precondition", new RegExp(`process ${gone.pid} has exited`));
    launcher.kernel.close(pidfd);

    const memfd = launcher.kernel.memfdCreate("not-a-pidfd", "shmem");
    await refuses(d, () => launcher.withSentFd(memfd, (fd) => d.manager.handOverArena(launcher.caller(), { requestId: "", arenaId: arena.arenaId, ownerPidfd: fd })), "invalid-argument", /owner_pidfd_token: .*not a pidfd/);
    // What the fd channel's SEND_FD answers for it, before any call: invalid-argument naming it.
    await launcher.withSentFd(memfd, (fd) => {
      assert.throws(() => d.manager.inspectFd(fd, "pidfd"), /the fd is a shmem memfd of 0 bytes, not the claimed pidfd/);
      return Promise.resolve();
    });
    launcher.kernel.close(memfd);
    // A pidfd where a memfd is claimed is refused the same way.
    const own = launcher.kernel.openPidfd(launcher.pid);
    await launcher.withSentFd(own, (fd) => {
      assert.throws(() => d.manager.inspectFd(fd, "memfd_shmem"), /the fd is a pidfd, not the claimed memfd_shmem/);
      assert.deepEqual(d.manager.inspectFd(fd, "pidfd"), { fdType: "pidfd", sizeBytes: 0n });
      return Promise.resolve();
    });
    launcher.kernel.close(own);
    d.assertConservation();
  });

  test("the admin may hand over any arena, within its owner's uid", async () => {
    const { d, vmm, arena } = await launched();
    const admin = d.vmm({ uid: 0, gid: 0 });
    const pidfd = admin.kernel.openPidfd(vmm.pid);
    const { arena: handed } = await admin.withSentFd(pidfd, (fd) => d.manager.handOverArena(admin.caller(), { requestId: "", arenaId: arena.arenaId, ownerPidfd: fd }));
    admin.kernel.close(pidfd);
    assert.equal(handed.owner.pid, vmm.pid);
    d.assertConservation();
  });

  test("a retry with the same request id replays the handover", async () => {
    const { d, launcher, vmm, arena } = await launched();
    const first = await handOver(d, launcher, arena.arenaId, vmm.pid, "hand-1");
    const again = await handOver(d, launcher, arena.arenaId, vmm.pid, "hand-1");
    assert.equal((again as { replayed?: boolean }).replayed, true);
    assert.deepEqual(again.arena.owner, first.arena.owner);
  });

  test("a restart keeps the handed owner: the VMM still owns the arena, and its exit then frees the units", async () => {
    const d = stopAfterTests(await daemon());
    const launcher = d.vmm();
    const vmm = d.vmm();
    const arena = await launcherArena(d, launcher);
    await handOver(d, launcher, arena.arenaId, vmm.pid);
    launcher.exit();
    const d2 = stopAfterTests(await d.crashAndRestart());
    const restored = d2.manager.getArena(vmm.caller(d2), arena.arenaId);
    assert.equal(restored.owner.pid, vmm.pid);
    assert.equal(restored.leasedUnitCount, 4);
    assert.equal(d2.manager.listLeases(vmm.caller(d2), { arenaId: arena.arenaId, allOwners: false }).length, 1);
    vmm.exit();
    const admin = d2.manager.identify(d2.kernel.credentials);
    await until(() => d2.manager.getPoolStatus(admin).arenaCount === 0, 2000);
    assert.equal(d2.manager.getPoolStatus(admin).leasedUnitCount, 0);
  });
});
