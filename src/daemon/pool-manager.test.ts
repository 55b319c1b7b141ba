import assert from "node:assert/strict";
import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { crc32 } from "node:zlib";
import { IN_PLACE_CONVERSION_V8, MAINLINE_PRIVATE_MEMORY } from "../kvm/fake-capabilities.ts";
import { GUEST_MEMFD_FLAG_INIT_SHARED, GUEST_MEMFD_FLAG_MMAP, KVM_X86_SW_PROTECTED_VM } from "../kvm/kernel-constants.ts";
import type { Fd } from "../kvm/fd.ts";
import { FakeDaemon, type FakeVmm } from "./fake-daemon.ts";
import { type ArenaInfo, type FdDelivery, type PoolEvent } from "./pool-service.ts";
import { isGmempoolError } from "../pool/errors.ts";

const UNIT = 2n * 1024n * 1024n;
const daemons: FakeDaemon[] = [];
after(async () => {
  for (const d of daemons) await d.manager.close().catch(() => undefined);
});

async function daemon(options: Parameters<typeof FakeDaemon.start>[0] = {}): Promise<FakeDaemon> {
  const d = await FakeDaemon.start(options);
  daemons.push(d);
  return d;
}

async function gmemArena(vmm: FakeVmm, units: number, options: { requestId?: string; visibility?: "shared" | "private"; flags?: bigint; vmType?: number } = {}, d: FakeDaemon = vmm.daemon): Promise<{ arena: ArenaInfo; gmem: Fd }> {
  const gmem = vmm.createGuestMemfd(units, options.flags, options.vmType);
  const { arena } = await vmm.withSentFd(gmem, (fd) =>
    d.manager.registerGuestMemfdArena(vmm.caller(d), { requestId: options.requestId ?? "", gmemFd: fd, sizeBytes: BigInt(units) * UNIT, initialVisibility: options.visibility ?? "shared", name: "vm" }),
  d);
  return { arena, gmem };
}

/** A delivery that hands the memfd to the VMM process (as SCM_RIGHTS would). */
function deliverTo(vmm: FakeVmm, received: Fd[]): FdDelivery {
  return (fd) => {
    received.push(vmm.kernel.adoptFile(vmm.daemon.kernel.fileForFd(fd, "sendmsg").get()));
    return Promise.resolve();
  };
}

async function rejects(promise: Promise<unknown>, kind: string, pattern?: RegExp): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(isGmempoolError(error), `expected a GmempoolError, got ${String(error)}`);
    assert.equal(error.kind, kind, error.message);
    if (pattern !== undefined) assert.match(error.message, pattern);
    return true;
  });
}

describe("PoolManager on the fake kernel", () => {
  test("a guest_memfd arena: allocate populates the arena and punches the gmem reserve, release reverses it", async () => {
    const d = await daemon({ capacityUnits: 32 });
    const vmm = d.vmm();
    const { arena } = await gmemArena(vmm, 16);
    assert.equal(arena.state, "active");
    assert.equal(arena.kind, "guest_memfd");
    d.assertConservation();
    const { lease, replayed } = await d.manager.allocate(vmm.caller(), { requestId: "", arenaId: arena.arenaId, unitCount: 10, label: "boot" });
    assert.equal(replayed, false);
    assert.equal(lease.unitCount, 10);
    assert.equal(lease.offsetBytes, 0n);
    assert.equal(lease.sharedBytes, 10n * UNIT);
    assert.equal(d.manager.getPoolStatus(vmm.caller()).freeUnitCount, 22);
    d.assertConservation();
    const released = await d.manager.release(vmm.caller(), { requestId: "", leaseId: lease.leaseId });
    assert.equal(released.releasedUnitCount, 10);
    assert.equal(d.manager.getPoolStatus(vmm.caller()).freeUnitCount, 32);
    d.assertConservation();
  });

  test("a memfd arena is delivered before the call returns; a failed delivery creates nothing", async () => {
    const d = await daemon({ capacityUnits: 16, reserveMode: "none" });
    const vmm = d.vmm();
    const received: Fd[] = [];
    const { arena } = await d.manager.createMemfdArena(vmm.caller(), { requestId: "", sizeBytes: 8n * UNIT, backing: "shmem", name: "m", deliver: deliverTo(vmm, received) });
    assert.equal(received.length, 1);
    assert.equal(vmm.kernel.identifyFd(received[0]!).kind, "memfd");
    assert.equal(arena.files[0]!.memfdName, `gmempool:${arena.arenaId}`);
    const openBefore = d.kernel.openFds().length;
    await rejects(d.manager.createMemfdArena(vmm.caller(), { requestId: "", sizeBytes: 8n * UNIT, backing: "shmem", name: "m", deliver: () => Promise.reject(new Error("connection closed")) }), "failed-precondition", /could not be delivered.*connection closed/);
    assert.equal(d.kernel.openFds().length, openBefore);
    assert.equal(d.manager.listArenas(vmm.caller(), { allOwners: false }).length, 1);
    const { lease } = await d.manager.allocate(vmm.caller(), { requestId: "", arenaId: arena.arenaId, unitCount: 8, label: "" });
    assert.equal(vmm.kernel.populatedBytes(received[0]!), 8n * UNIT);
    d.assertConservation();
    await d.manager.release(vmm.caller(), { requestId: "", leaseId: lease.leaseId });
    assert.equal(vmm.kernel.populatedBytes(received[0]!), 0n);
  });

  test("another owner's ids answer not-found exactly like unknown ids", async () => {
    const d = await daemon();
    const a = d.vmm();
    const b = d.vmm({ uid: 1001 });
    const { arena } = await gmemArena(a, 4);
    const { lease } = await d.manager.allocate(a.caller(), { requestId: "", arenaId: arena.arenaId, unitCount: 2, label: "" });
    const unknown = await d.manager.allocate(b.caller(), { requestId: "", arenaId: "arena-nope", unitCount: 1, label: "" }).catch((e: unknown) => e as Error);
    const foreign = await d.manager.allocate(b.caller(), { requestId: "", arenaId: arena.arenaId, unitCount: 1, label: "" }).catch((e: unknown) => e as Error);
    assert.ok(isGmempoolError(unknown, "not-found") && isGmempoolError(foreign, "not-found"));
    assert.equal(foreign.message.replace(arena.arenaId, "X"), unknown.message.replace("arena-nope", "X"));
    await rejects(d.manager.release(b.caller(), { requestId: "", leaseId: lease.leaseId }), "not-found", /lease ".*" does not exist/);
    assert.throws(() => d.manager.getArena(b.caller(), arena.arenaId), /does not exist/);
    assert.throws(() => d.manager.listArenas(b.caller(), { allOwners: true }), (e: unknown) => isGmempoolError(e, "permission-denied"));
    const admin = d.manager.identify({ uid: 0, gid: 0, pid: b.pid });
    assert.equal(d.manager.getArena(admin, arena.arenaId).arenaId, arena.arenaId);
    d.assertConservation();
  });

  test("bad input gets a precise error and changes nothing", async () => {
    const d = await daemon({ capacityUnits: 8 });
    const vmm = d.vmm();
    const { arena } = await gmemArena(vmm, 8);
    const caller = vmm.caller();
    const id = arena.arenaId;
    await rejects(d.manager.allocate(caller, { requestId: "", arenaId: id, unitCount: 0, label: "" }), "invalid-argument", /unit_count/);
    await rejects(d.manager.allocate(caller, { requestId: "", arenaId: id, unitCount: 1, offsetBytes: 4096n, label: "" }), "invalid-argument", /multiple of 2 MiB/);
    await rejects(d.manager.allocate(caller, { requestId: "", arenaId: id, unitCount: 2, offsetBytes: 7n * UNIT, label: "" }), "invalid-argument", /passes the end/);
    await rejects(d.manager.allocate(caller, { requestId: "", arenaId: id, unitCount: 9, label: "" }), "invalid-argument", /larger than arena/);
    await rejects(d.manager.allocate(caller, { requestId: "bad id!", arenaId: id, unitCount: 1, label: "" }), "invalid-argument", /request_id/);
    await d.manager.allocate(caller, { requestId: "", arenaId: id, unitCount: 6, label: "" });
    await rejects(d.manager.allocate(caller, { requestId: "", arenaId: id, unitCount: 1, offsetBytes: 0n, label: "" }), "failed-precondition", /overlaps lease/);
    const other = await gmemArena(d.vmm(), 4);
    await rejects(d.manager.allocate(other.arena.owner.pid === caller.pid ? caller : d.manager.identify({ uid: 1000, gid: 1000, pid: other.arena.owner.pid }), { requestId: "", arenaId: other.arena.arenaId, unitCount: 3, label: "" }), "exhausted", /Requested 3 units, 2 free|requested 3 units, 2 free/);
    await rejects(d.manager.discard(caller, { requestId: "", arenaId: id, offsetBytes: 100n, lengthBytes: 4096n }), "invalid-argument", /multiples of 4096/);
    await rejects(d.manager.discard(caller, { requestId: "", arenaId: id, offsetBytes: 6n * UNIT, lengthBytes: 4096n }), "failed-precondition", /not leased by the caller/);
    const gmem = vmm.createGuestMemfd(4);
    await rejects(vmm.withSentFd(gmem, (fd) => d.manager.registerGuestMemfdArena(caller, { requestId: "", gmemFd: fd, sizeBytes: 8n * UNIT, initialVisibility: "shared", name: "" })), "invalid-argument", /differs from the fd's size/);
    const received: Fd[] = [];
    await d.manager.createMemfdArena(caller, { requestId: "", sizeBytes: 2n * UNIT, backing: "shmem", name: "", deliver: deliverTo(vmm, received) });
    await rejects(vmm.withSentFd(received[0]!, (fd) => d.manager.registerGuestMemfdArena(caller, { requestId: "", gmemFd: fd, sizeBytes: 2n * UNIT, initialVisibility: "shared", name: "" })), "invalid-argument", /not a guest_memfd/);
    await vmm.withSentFd(received[0]!, (fd) => {
      assert.throws(() => d.manager.inspectFd(fd, "guest_memfd"), /shmem memfd.*not the claimed guest_memfd/);
      assert.equal(d.manager.inspectFd(fd, "memfd_shmem").sizeBytes, 2n * UNIT);
      return Promise.resolve();
    });
    d.assertConservation();
  });

  test("discard under defer punches whole units and defers the rest; populate makes pages live again", async () => {
    const d = await daemon({ capacityUnits: 16 });
    const vmm = d.vmm();
    const { arena } = await gmemArena(vmm, 8);
    const caller = vmm.caller();
    await d.manager.allocate(caller, { requestId: "", arenaId: arena.arenaId, unitCount: 4, label: "" });
    await d.manager.allocate(caller, { requestId: "", arenaId: arena.arenaId, unitCount: 4, label: "" });
    // Spans two leases: [1 unit + 4 KiB, 6 units - 4 KiB).
    const r = await d.manager.discard(caller, { requestId: "", arenaId: arena.arenaId, offsetBytes: UNIT + 4096n, lengthBytes: 5n * UNIT - 8192n });
    assert.equal(r.releasedUnitCount, 3);
    assert.equal(r.punchedBytes, 3n * UNIT);
    assert.equal(r.deferredBytes, 2n * UNIT - 8192n);
    assert.equal(r.appliedPolicy, "defer");
    d.assertConservation();
    const p = await d.manager.populate(caller, { requestId: "", arenaId: arena.arenaId, offsetBytes: 0n, lengthBytes: 8n * UNIT });
    assert.equal(p.populatedUnitCount, 3);
    assert.equal(p.restoredBytes, 5n * UNIT - 8192n);
    d.assertConservation();
  });

  test("discard under reject names the 2 MiB boundaries and changes nothing", async () => {
    const d = await daemon({ configure: (c) => ({ ...c, policy: { ...c.policy, discard: "reject" } }) });
    const vmm = d.vmm();
    const { arena } = await gmemArena(vmm, 4);
    await d.manager.allocate(vmm.caller(), { requestId: "", arenaId: arena.arenaId, unitCount: 4, label: "" });
    await rejects(d.manager.discard(vmm.caller(), { requestId: "", arenaId: arena.arenaId, offsetBytes: 4096n, lengthBytes: 8192n }), "failed-precondition", /0x200000/);
    assert.equal(d.manager.getArena(vmm.caller(), arena.arenaId).deferredBytes, 0n);
    d.assertConservation();
  });

  test("a discard over two leases refused on the second changes nothing on the first (its plan is cancelled, not aborted)", async () => {
    const d = await daemon({ capacityUnits: 16, configure: (c) => ({ ...c, policy: { ...c.policy, discard: "reject" } }) });
    const vmm = d.vmm();
    const caller = vmm.caller();
    const { arena } = await gmemArena(vmm, 4);
    await d.manager.allocate(caller, { requestId: "", arenaId: arena.arenaId, unitCount: 2, label: "" });
    await d.manager.allocate(caller, { requestId: "", arenaId: arena.arenaId, unitCount: 2, label: "" });
    const view = () => {
      const { time: _time, kernelBuddyZones: _zones, ...map } = d.manager.getFragmentationMap(caller, { arenaId: arena.arenaId, allOwners: false });
      return { leases: d.manager.listLeases(caller, { arenaId: arena.arenaId, allOwners: false }), arena: d.manager.getArena(caller, arena.arenaId), status: d.manager.getPoolStatus(caller), map };
    };
    const before = view();
    // The first lease's whole units are planned (punched, pages marked discarded) before the
    // second lease's 4 KiB edge is refused by policy reject.
    await rejects(d.manager.discard(caller, { requestId: "", arenaId: arena.arenaId, offsetBytes: 0n, lengthBytes: 2n * UNIT + 4096n }), "failed-precondition", /\[0x0, 0x600000\)/);
    const after = view();
    assert.equal(after.status.deferredBytes, 0n);
    assert.deepEqual(after, before);
    d.assertConservation();
    // The first lease's units are not busy: a discard of them alone goes through.
    const r = await d.manager.discard(caller, { requestId: "", arenaId: arena.arenaId, offsetBytes: 0n, lengthBytes: 2n * UNIT });
    assert.equal(r.releasedUnitCount, 2);
    d.assertConservation();
  });

  test("discard past the deferred cap under overflow reject names the 2 MiB boundaries too, and changes nothing", async () => {
    const d = await daemon({ configure: (c) => ({ ...c, policy: { ...c.policy, discard: "defer", deferredCapBytes: 8192, deferredOverflow: "reject" } }) });
    const vmm = d.vmm();
    const { arena } = await gmemArena(vmm, 4);
    await d.manager.allocate(vmm.caller(), { requestId: "", arenaId: arena.arenaId, unitCount: 4, label: "" });
    const boundaries = (range: string, enclosing: string): RegExp => new RegExp(`^discard \\[${range}\\) of arena "${arena.arenaId}" is inside \\[${enclosing}\\), which it does not cover whole; policy reject: discard whole units \\(.*the deferred cap of 8 KiB is reached \\(0 B deferred\\)`);
    await rejects(d.manager.discard(vmm.caller(), { requestId: "", arenaId: arena.arenaId, offsetBytes: 0x10000n, lengthBytes: 3n * 4096n }), "failed-precondition", boundaries("0x10000, 0x13000", "0x0, 0x200000"));
    await rejects(d.manager.discard(vmm.caller(), { requestId: "", arenaId: arena.arenaId, offsetBytes: UNIT - 3n * 4096n, lengthBytes: UNIT + 3n * 4096n }), "failed-precondition", boundaries("0x1fd000, 0x400000", "0x0, 0x400000"));
    assert.equal(d.manager.getArena(vmm.caller(), arena.arenaId).deferredBytes, 0n);
    d.assertConservation();
  });

  test("an arena pair converts in notify mode: the target side is populated, the stale side freed a unit at a time", async () => {
    const d = await daemon({ capabilities: MAINLINE_PRIVATE_MEMORY, capacityUnits: 32 });
    const vmm = d.vmm();
    const gmem = vmm.createGuestMemfd(8, 0n, KVM_X86_SW_PROTECTED_VM);
    const received: Fd[] = [];
    const { arena } = await vmm.withSentFd(gmem, (fd) => d.manager.createArenaPair(vmm.caller(), { requestId: "", gmemFd: fd, sizeBytes: 8n * UNIT, sharedBacking: "shmem", initialVisibility: "private", name: "cvm", deliver: deliverTo(vmm, received) }));
    assert.equal(arena.kind, "pair");
    const { lease } = await d.manager.allocate(vmm.caller(), { requestId: "", arenaId: arena.arenaId, unitCount: 4, label: "" });
    assert.equal(lease.privateBytes, 4n * UNIT);
    d.assertConservation();
    const c = await d.manager.convert(vmm.caller(), { requestId: "", arenaId: arena.arenaId, offsetBytes: 0n, lengthBytes: 2n * UNIT, toVisibility: "shared", mode: "notify", contentIntent: undefined });
    assert.equal(c.convertedBytes, 2n * UNIT);
    assert.equal(c.populatedUnitCount, 2);
    assert.equal(c.staleReleasedUnitCount, 2);
    d.assertConservation();
    await rejects(d.manager.convert(vmm.caller(), { requestId: "", arenaId: arena.arenaId, offsetBytes: 0n, lengthBytes: 4096n, toVisibility: "private", mode: "in-place", contentIntent: undefined }), "failed-precondition", /out of place/);
    await rejects(d.manager.convert(vmm.caller(), { requestId: "", arenaId: arena.arenaId, offsetBytes: 0n, lengthBytes: 4096n, toVisibility: "private", mode: "notify", contentIntent: "preserve" }), "failed-precondition", /PRESERVE/);
  });

  test("in-place conversion retries a pinned page, then answers unavailable with error_offset", async () => {
    const d = await daemon({ capabilities: IN_PLACE_CONVERSION_V8, configure: (c) => ({ ...c, limits: { ...c.limits, conversionRetries: 2 } }) });
    const vmm = d.vmm();
    const { arena } = await gmemArena(vmm, 4, { flags: GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_INIT_SHARED, vmType: KVM_X86_SW_PROTECTED_VM });
    await d.manager.allocate(vmm.caller(), { requestId: "", arenaId: arena.arenaId, unitCount: 2, label: "" });
    const fd = d.manager.arenaFds(arena.arenaId)![0]!;
    d.kernel.pin(fd, 0x3000n);
    const error = await d.manager.convert(vmm.caller(), { requestId: "", arenaId: arena.arenaId, offsetBytes: 0n, lengthBytes: UNIT, toVisibility: "private", mode: "in-place", contentIntent: undefined }).catch((e: unknown) => e);
    assert.ok(isGmempoolError(error, "unavailable"), String(error));
    assert.equal(error.errorOffsetBytes, 0x3000n);
    assert.match(error.message, /EAGAIN at offset 0x3000/);
    d.kernel.unpin(fd, 0x3000n);
    const ok = await d.manager.convert(vmm.caller(), { requestId: "", arenaId: arena.arenaId, offsetBytes: 0n, lengthBytes: UNIT, toVisibility: "private", mode: "in-place", contentIntent: undefined });
    assert.equal(ok.convertedBytes, UNIT);
    assert.deepEqual(ok.collapsibleUnits, [{ firstUnit: 0, unitCount: 1 }]);
    d.assertConservation();
  });

  test("in-place conversion without KVM_SET_MEMORY_ATTRIBUTES2 is unimplemented, naming it", async () => {
    const d = await daemon();
    const vmm = d.vmm();
    const { arena } = await gmemArena(vmm, 2);
    await d.manager.allocate(vmm.caller(), { requestId: "", arenaId: arena.arenaId, unitCount: 2, label: "" });
    await rejects(d.manager.convert(vmm.caller(), { requestId: "", arenaId: arena.arenaId, offsetBytes: 0n, lengthBytes: 4096n, toVisibility: "private", mode: "in-place", contentIntent: undefined }), "unimplemented", /KVM_SET_MEMORY_ATTRIBUTES2/);
  });

  test("policy: admin only; a pool-wide change is journaled and published", async () => {
    const d = await daemon();
    const vmm = d.vmm();
    await rejects(d.manager.setPolicy(vmm.caller(), { requestId: "", arenaId: "", discardPolicy: "zero", clearArenaOverride: false }), "permission-denied");
    const admin = d.manager.identify({ uid: 0, gid: 0, pid: vmm.pid });
    const events: PoolEvent[] = [];
    const stream = d.manager.watch(admin, { arenaId: "", kinds: ["policy-changed"], allOwners: true });
    const reading = (async () => {
      for await (const e of stream) {
        events.push(e);
        if (e.body.kind === "policy-changed") break;
      }
    })();
    const r = await d.manager.setPolicy(admin, { requestId: "", arenaId: "", discardPolicy: "zero", deferredCapBytes: 4096n * 10n, clearArenaOverride: false });
    assert.equal(r.poolPolicy.discardPolicy, "zero");
    await reading;
    assert.equal(events[0]!.body.kind, "pool-status");
    assert.equal(events[1]!.body.kind, "policy-changed");
    await rejects(d.manager.setPolicy(admin, { requestId: "", arenaId: "", punchGranularityBytes: 3000n, clearArenaOverride: false }), "invalid-argument", /punch granularity/);
  });

  test("deleting an arena releases its leases and closes its fd", async () => {
    const d = await daemon({ capacityUnits: 8 });
    const vmm = d.vmm();
    const { arena } = await gmemArena(vmm, 8);
    await d.manager.allocate(vmm.caller(), { requestId: "", arenaId: arena.arenaId, unitCount: 3, label: "" });
    await rejects(d.manager.deleteArena(vmm.caller(), { requestId: "", arenaId: arena.arenaId, releaseLeases: false }), "failed-precondition", /1 lease/);
    const fds = d.kernel.openFds().length;
    const r = await d.manager.deleteArena(vmm.caller(), { requestId: "", arenaId: arena.arenaId, releaseLeases: true });
    assert.deepEqual({ l: r.releasedLeaseCount, u: r.releasedUnitCount }, { l: 1, u: 3 });
    assert.equal(d.kernel.openFds().length, fds - 1);
    assert.equal(d.manager.getPoolStatus(vmm.caller()).freeUnitCount, 8);
    d.assertConservation();
  });

  test("background reserve punches: a lease is usable before the reserve gives its copy back; a release right after claims it", async () => {
    const d = await daemon({ capacityUnits: 32, configure: (c) => ({ ...c, pool: { ...c.pool, reservePunch: "background" } }) });
    const vmm = d.vmm();
    const { arena } = await gmemArena(vmm, 32);
    const caller = vmm.caller();
    const leases = await Promise.all([6, 6, 6].map((n) => d.manager.allocate(caller, { requestId: "", arenaId: arena.arenaId, unitCount: n, label: "" })));
    // Released at once, maybe before their background punches ran.
    await Promise.all(leases.slice(0, 2).map((l) => d.manager.release(caller, { requestId: "", leaseId: l.lease.leaseId })));
    await d.settle();
    assert.equal(d.manager.reserveHeldTwiceUnits, 0);
    d.assertConservation();
    // A failed background punch is retried; accounting never changes, memory converges.
    let armed = true;
    const stop = d.manager.observeKernelCalls((sample) => {
      // Right after the arena populate: the next fallocate is the background reserve punch.
      if (armed && sample.call === "fallocate(KEEP_SIZE)") {
        armed = false;
        d.kernel.failNext("fallocate", "EIO", 2);
      }
    });
    const more = await d.manager.allocate(caller, { requestId: "", arenaId: arena.arenaId, unitCount: 4, label: "" });
    assert.equal(more.lease.unitCount, 4);
    assert.equal(armed, false);
    await d.settle();
    stop();
    d.assertConservation();
    assert.equal(d.manager.pool.reserve.freeUnits, 32 - 10);
  });

  test("a pool that cannot be backed refuses to start, saying why", async () => {
    const noVm = await FakeDaemon.start({ noStart: true, wrapKernel: (k) => {
      k.failNext("createVm", "EINVAL");
      return k;
    } });
    await rejects(noVm.manager.start(), "failed-precondition", /cannot back the pool of 64 units with reserve "gmem".*KVM_CREATE_VM.*EINVAL/);
    // The fake machine can put 4096 pages in its hugetlb pool.
    const tooBig = await FakeDaemon.start({ noStart: true, reserveMode: "hugetlb", capacityUnits: 5000 });
    await rejects(tooBig.manager.start(), "failed-precondition", /needs 5000 free 2 MiB pages.*settled at 4096/);
    assert.equal(tooBig.host.hugetlb.nr, 0, "nr_hugepages restored after the refusal");
  });

  test("reloadPolicy (SIGHUP) re-applies the configuration's pool policy and publishes it", async () => {
    const d = await daemon();
    const admin = d.manager.identify({ uid: 0, gid: 0, pid: d.vmm().pid });
    await d.manager.setPolicy(admin, { requestId: "", arenaId: "", discardPolicy: "reject", clearArenaOverride: false });
    const applied = await d.manager.reloadPolicy({ discardPolicy: "defer", deferredCapBytes: 1n << 20n });
    assert.deepEqual({ d: applied.discardPolicy, c: applied.deferredCapBytes }, { d: "defer", c: 1n << 20n });
    assert.equal(d.manager.getPolicy(admin).poolPolicy.discardPolicy, "defer");
    const m = d.manager.metrics();
    assert.equal(m.capacityUnits, m.freeUnits + m.claimedUnits + m.leasedUnits);
  });

  test("ForceRelease (admin) takes back a lease, an arena or every arena of a process; the map shows the runs", async () => {
    const d = await daemon({ capacityUnits: 32 });
    const a = d.vmm();
    const b = d.vmm({ uid: 1001 });
    const admin = d.manager.identify({ uid: 0, gid: 0, pid: b.pid });
    const one = await gmemArena(a, 8);
    const two = await gmemArena(a, 8);
    const three = await gmemArena(b, 8);
    const l1 = await d.manager.allocate(a.caller(), { requestId: "", arenaId: one.arena.arenaId, unitCount: 2, label: "x" });
    await d.manager.allocate(a.caller(), { requestId: "", arenaId: one.arena.arenaId, unitCount: 3, offsetBytes: 4n * UNIT, label: "y" });
    await d.manager.allocate(a.caller(), { requestId: "", arenaId: two.arena.arenaId, unitCount: 4, label: "" });
    await d.manager.allocate(b.caller(), { requestId: "", arenaId: three.arena.arenaId, unitCount: 1, label: "" });
    const map = d.manager.getFragmentationMap(admin, { arenaId: one.arena.arenaId, allOwners: false });
    assert.deepEqual(map.arenas[0]!.runs.map((r) => [r.firstUnit, r.unitCount, r.state]), [[0, 2, "leased"], [2, 2, "free"], [4, 3, "leased"], [7, 1, "free"]]);
    assert.equal(map.reserve.freeUnitCount, 22);
    await rejects(d.manager.forceRelease(a.caller(), { requestId: "", target: { kind: "lease", leaseId: l1.lease.leaseId } }), "permission-denied");
    await rejects(d.manager.forceRelease(admin, { requestId: "", target: undefined }), "invalid-argument");
    const r1 = await d.manager.forceRelease(admin, { requestId: "", target: { kind: "lease", leaseId: l1.lease.leaseId } });
    assert.deepEqual([r1.releasedLeaseCount, r1.deletedArenaCount, r1.releasedUnitCount], [1, 0, 2]);
    await rejects(d.manager.release(a.caller(), { requestId: "", leaseId: l1.lease.leaseId }), "not-found");
    const r2 = await d.manager.forceRelease(admin, { requestId: "f2", target: { kind: "owner-pid", pid: a.pid } });
    assert.deepEqual([r2.releasedLeaseCount, r2.deletedArenaCount, r2.releasedUnitCount], [2, 2, 7]);
    await rejects(d.manager.forceRelease(admin, { requestId: "", target: { kind: "owner-pid", pid: a.pid } }), "not-found");
    const r3 = await d.manager.forceRelease(admin, { requestId: "", target: { kind: "arena", arenaId: three.arena.arenaId } });
    assert.deepEqual([r3.releasedLeaseCount, r3.deletedArenaCount, r3.releasedUnitCount], [1, 1, 1]);
    assert.equal(d.manager.getPoolStatus(admin).freeUnitCount, 32);
    d.assertConservation();
  });
});

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
    const fdsBefore = d.kernel.openFds().length;
    await rejects(register(vmm, gmem), "failed-precondition", already);
    await rejects(register(vmm, vmm.kernel.dupCloexec(gmem)), "failed-precondition", already);
    const theirs = other.kernel.adoptFile(vmm.kernel.fileForFd(gmem, "sendmsg").get());
    await rejects(register(other, theirs), "failed-precondition", already);
    const received: Fd[] = [];
    await rejects(vmm.withSentFd(gmem, (sent) => d.manager.createArenaPair(vmm.caller(), { requestId: "", gmemFd: sent, sizeBytes: SIZE, sharedBacking: "shmem", initialVisibility: "private", name: "", deliver: deliverTo(vmm, received) })), "failed-precondition", already);
    // Nothing changed: no arena, no fd kept, no memfd delivered, and the arena's pages not punched.
    assert.equal(received.length, 0);
    assert.equal(d.kernel.openFds().length, fdsBefore);
    assert.equal(d.manager.listArenas(vmm.caller(), { allOwners: false }).length, 1);
    assert.equal(d.manager.listArenas(other.caller(), { allOwners: false }).length, 0);
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
    daemons.push(d2);
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
    daemons.push(d2);
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
    daemons.push(d2);
    // The old journal cannot tell the files apart, but another arena's file is still refused.
    const { gmem: otherGmem } = await gmemArena(vmm, 4, {}, d2);
    await rejects(reattach(vmm, d2, arena.arenaId, { gmem: otherGmem }), "failed-precondition", alreadyArena(vmm, otherGmem));
    await reattach(vmm, d2, arena.arenaId, { gmem });
    const d3 = await d2.crashAndRestart();
    daemons.push(d3);
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
