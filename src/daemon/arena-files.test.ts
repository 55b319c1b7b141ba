/**
 * One file, one arena (pool.proto): a file any arena records — ACTIVE, DELETING or DETACHED —
 * is refused as a new arena, and a reattach takes only the journaled file.
 */
import assert from "node:assert/strict";
import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";
import { crc32 } from "node:zlib";
import { MAINLINE_PRIVATE_MEMORY } from "../kvm/fake/fake-capabilities.ts";
import { type Fd, KVM_X86_SW_PROTECTED_VM } from "@gmempool/sys";
import { FakeDaemon, type FakeVmm } from "./testing/fake-daemon.ts";
import { type ArenaInfo } from "./pool-service.ts";
import { daemon, gmemArena, deliverTo, refuses, rejects, UNIT, stopAfterTests } from "./testing/manager-test-kit.ts";

describe("one file, one arena (st_dev, st_ino)", () => {
  const SIZE = 4n * UNIT;

  function register(vmm: FakeVmm, fd: Fd, d: FakeDaemon = vmm.daemon): Promise<{ arena: ArenaInfo }> {
    return vmm.withSentFd(fd, (sent) => d.manager.registerGuestMemfdArena(vmm.caller(d), { requestId: "", gmemFd: sent, sizeBytes: SIZE, initialVisibility: "shared", name: "again" }), d);
  }

  function reattach(vmm: FakeVmm, d: FakeDaemon, arenaId: string, fds: { gmem?: Fd; memfd?: Fd }): Promise<{ arena: ArenaInfo }> {
    const { gmem, memfd } = fds;
    const send = (fd: Fd | undefined, call: (sent: Fd | undefined) => Promise<{ arena: ArenaInfo }>): Promise<{ arena: ArenaInfo }> => (fd === undefined ? call(undefined) : vmm.withSentFd(fd, call, d));
    return send(gmem, (g) => send(memfd, (m) => d.manager.reattachArena(vmm.caller(d), { requestId: "", arenaId, ...(g === undefined ? {} : { gmemFd: g }), ...(m === undefined ? {} : { memfdFd: m }) })));
  }

  /** The message of pool.proto's "this guest_memfd (same inode) is already an arena"; it never
   * names the arena (it may be another owner's: invariant 5). */
  function alreadyArena(vmm: FakeVmm, fd: Fd): RegExp {
    const { device, inode } = vmm.kernel.identifyFd(fd);
    return new RegExp(`^this guest_memfd \\(device ${device}, inode ${inode}\\) is already an arena \\(one file backs at most one arena\\)$`);
  }

  function notTheFile(vmm: FakeVmm, journaled: Fd, received: Fd, arenaId: string): RegExp {
    const j = vmm.kernel.identifyFd(journaled);
    const r = vmm.kernel.identifyFd(received);
    return new RegExp(`^the fd is not arena "${arenaId}"'s file \\(journaled device ${j.device} inode ${j.inode}, received device ${r.device} inode ${r.inode}\\)$`);
  }

  test("a guest_memfd that is already an arena is refused, without naming the arena: re-sent, a dup, another process's copy, a pair's gmem side", async () => {
    const d = await daemon({ capacityUnits: 16 });
    const vmm = d.vmm();
    const other = d.vmm({ uid: 1001 });
    const { arena, gmem } = await gmemArena(vmm, 4);
    await d.manager.allocate(vmm.caller(), { requestId: "", arenaId: arena.arenaId, unitCount: 2, label: "" });
    const already = alreadyArena(vmm, gmem);
    const dup = vmm.kernel.dupCloexec(gmem);
    const theirs = other.kernel.adoptFile(vmm.kernel.fileForFd(gmem, "sendmsg").get());
    await refuses(d, () => register(vmm, gmem), "failed-precondition", already);
    await refuses(d, () => register(vmm, dup), "failed-precondition", already);
    await refuses(d, () => register(other, theirs), "failed-precondition", already);
    const received: Fd[] = [];
    await refuses(d, () => vmm.withSentFd(gmem, (sent) => d.manager.createArenaPair(vmm.caller(), { requestId: "", gmemFd: sent, sizeBytes: SIZE, sharedBacking: "shmem", initialVisibility: "private", name: "", deliver: deliverTo(vmm, received) })), "failed-precondition", already);
    // Nothing changed (no arena, no fd kept, the arena's pages not punched), and no memfd delivered.
    assert.equal(received.length, 0);
    assert.equal(vmm.kernel.populatedBytes(gmem), 2n * UNIT);
    d.assertConservation();
    // Another guest_memfd of the same size is another file; once the arena is gone, its file is free.
    const twin = await register(vmm, vmm.createGuestMemfd(4));
    await d.manager.deleteArena(vmm.caller(), { requestId: "", arenaId: arena.arenaId, releaseLeases: true });
    const again = await register(vmm, gmem);
    assert.notEqual(again.arena.arenaId, twin.arena.arenaId);
    d.assertConservation();
  });

  test("a DELETING arena still holds its file; a registration in flight claims it (conflict)", async () => {
    const d = await daemon({ capacityUnits: 16 });
    const vmm = d.vmm();
    const { arena, gmem } = await gmemArena(vmm, 4);
    await d.manager.allocate(vmm.caller(), { requestId: "", arenaId: arena.arenaId, unitCount: 2, label: "" });
    let resume = d.kernel.pauseSlowCalls();
    const deleting = d.manager.deleteArena(vmm.caller(), { requestId: "", arenaId: arena.arenaId, releaseLeases: true });
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(d.manager.getArena(vmm.caller(), arena.arenaId).state, "deleting");
    await rejects(register(vmm, gmem), "failed-precondition", alreadyArena(vmm, gmem));
    resume();
    await deleting;
    // A registration waiting on the kernel (its punch) has claimed the file.
    resume = d.kernel.pauseSlowCalls();
    const first = register(vmm, gmem);
    await new Promise((resolve) => setImmediate(resolve));
    const { device, inode } = vmm.kernel.identifyFd(gmem);
    await rejects(register(vmm, gmem), "conflict", new RegExp(`^this guest_memfd \\(device ${device}, inode ${inode}\\) is being made an arena by a call in flight$`));
    resume();
    const { arena: made } = await first;
    assert.deepEqual(d.manager.listArenas(vmm.caller(), { allOwners: false }).map((a) => a.arenaId), [made.arenaId]);
    await rejects(register(vmm, gmem), "failed-precondition", alreadyArena(vmm, gmem));
    d.assertConservation();
  });

  test("after a restart: a DETACHED arena's guest_memfd is refused as a new arena; reattach takes only the journaled file", async () => {
    const d = await daemon({ capacityUnits: 16 });
    const vmm = d.vmm();
    const { arena, gmem } = await gmemArena(vmm, 4);
    await d.manager.allocate(vmm.caller(), { requestId: "", arenaId: arena.arenaId, unitCount: 2, label: "" });
    const d2 = await d.crashAndRestart();
    stopAfterTests(d2);
    assert.equal(d2.manager.getArena(vmm.caller(d2), arena.arenaId).state, "detached");
    // Registering it again would punch the pages the DETACHED arena's leases hold.
    await rejects(register(vmm, gmem, d2), "failed-precondition", alreadyArena(vmm, gmem));
    assert.equal(vmm.kernel.populatedBytes(gmem), 2n * UNIT);
    // Same kind, same size, another file: its contents are not the arena's.
    const twin = vmm.createGuestMemfd(4);
    await rejects(reattach(vmm, d2, arena.arenaId, { gmem: twin }), "failed-precondition", notTheFile(vmm, gmem, twin, arena.arenaId));
    assert.equal(d2.manager.getArena(vmm.caller(d2), arena.arenaId).state, "detached");
    // Two reattaches racing: the second finds the first's claim (not a second set of dups).
    const resume = d2.kernel.pauseSlowCalls();
    const first = reattach(vmm, d2, arena.arenaId, { gmem });
    await new Promise((resolve) => setImmediate(resolve));
    await rejects(reattach(vmm, d2, arena.arenaId, { gmem }), "conflict", new RegExp(`^arena "${arena.arenaId}" is being reattached by a call in flight$`));
    resume();
    const { arena: back } = await first;
    assert.equal(back.state, "active");
    assert.equal(vmm.kernel.populatedBytes(gmem), 2n * UNIT);
    d2.assertConservation();
  });

  test("a memfd or pair arena reattaches only with the memfd the daemon made, not another with the same name and size", async () => {
    const d = await daemon({ capabilities: MAINLINE_PRIVATE_MEMORY, capacityUnits: 16 });
    const vmm = d.vmm();
    const memfds: Fd[] = [];
    const { arena: single } = await d.manager.createMemfdArena(vmm.caller(), { requestId: "", sizeBytes: SIZE, backing: "shmem", name: "", deliver: deliverTo(vmm, memfds) });
    const gmem = vmm.createGuestMemfd(4, 0n, KVM_X86_SW_PROTECTED_VM);
    const { arena: pair } = await vmm.withSentFd(gmem, (sent) => d.manager.createArenaPair(vmm.caller(), { requestId: "", gmemFd: sent, sizeBytes: SIZE, sharedBacking: "shmem", initialVisibility: "private", name: "", deliver: deliverTo(vmm, memfds) }));
    const d2 = await d.crashAndRestart();
    stopAfterTests(d2);
    const forge = (arenaId: string): Fd => {
      const fd = vmm.kernel.memfdCreate(`gmempool:${arenaId}`, "shmem");
      vmm.kernel.ftruncate(fd, SIZE);
      return fd;
    };
    const forged = forge(single.arenaId);
    await rejects(reattach(vmm, d2, single.arenaId, { memfd: forged }), "failed-precondition", notTheFile(vmm, memfds[0]!, forged, single.arenaId));
    const forgedShared = forge(pair.arenaId);
    await rejects(reattach(vmm, d2, pair.arenaId, { gmem, memfd: forgedShared }), "failed-precondition", notTheFile(vmm, memfds[1]!, forgedShared, pair.arenaId));
    assert.equal((await reattach(vmm, d2, single.arenaId, { memfd: memfds[0]! })).arena.state, "active");
    assert.equal((await reattach(vmm, d2, pair.arenaId, { gmem, memfd: memfds[1]! })).arena.state, "active");
    d2.assertConservation();
  });

  test("a journal from before file identities: reattach checks kind and size, then journals the identity it got", async () => {
    const d = await daemon({ capacityUnits: 16 });
    const vmm = d.vmm();
    const { arena, gmem } = await gmemArena(vmm, 4);
    await d.manager.simulateCrash();
    d.host.exitProcess(d.kernel.pid);
    await forgetFileIdentities(d.journalDir);
    const d2 = await FakeDaemon.start({ ...d.options, host: d.host, journalDir: d.journalDir });
    stopAfterTests(d2);
    // The old journal cannot tell the files apart, but another arena's file is still refused.
    const { gmem: otherGmem } = await gmemArena(vmm, 4, {}, d2);
    await rejects(reattach(vmm, d2, arena.arenaId, { gmem: otherGmem }), "failed-precondition", alreadyArena(vmm, otherGmem));
    await reattach(vmm, d2, arena.arenaId, { gmem });
    const d3 = await d2.crashAndRestart();
    stopAfterTests(d3);
    const twin = vmm.createGuestMemfd(4);
    await rejects(reattach(vmm, d3, arena.arenaId, { gmem: twin }), "failed-precondition", notTheFile(vmm, gmem, twin, arena.arenaId));
    await reattach(vmm, d3, arena.arenaId, { gmem });
    d3.assertConservation();
  });
});

/** Rewrites a journal as a daemon before file identities wrote it: arena files without device and inode. */
async function forgetFileIdentities(dir: string): Promise<void> {
  const strip = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(strip);
    if (typeof value !== "object" || value === null) return value;
    const entries = Object.entries(value).filter(([key]) => !("fdType" in value && (key === "device" || key === "inode")));
    return Object.fromEntries(entries.map(([key, v]) => [key, strip(v)]));
  };
  for (const name of await readdir(dir)) {
    const path = join(dir, name);
    const lines = (await readFile(path, "utf8")).split("\n").filter((line) => line !== "");
    const framed = lines.map((line) => {
      const json = JSON.stringify(strip(JSON.parse(line.slice(9))));
      return `${crc32(json).toString(16).padStart(8, "0")} ${json}\n`;
    });
    await writeFile(path, framed.join(""));
  }
}
