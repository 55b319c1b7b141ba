import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { IN_PLACE_CONVERSION_V8, MAINLINE_PRIVATE_MEMORY } from "../kvm/fake/fake-capabilities.ts";
import {
  FALLOCATE_POPULATE,
  FALLOCATE_PUNCH,
  type Fd,
  GUEST_MEMFD_FLAG_INIT_SHARED,
  GUEST_MEMFD_FLAG_MMAP,
  KVM_X86_SW_PROTECTED_VM,
} from "@gmempool/sys";
import { PUNCH_DELAY_MS } from "./deferred-reserve-punch.ts";
import { FakeDaemon } from "./testing/fake-daemon.ts";
import { type AllocateResult, type PoolEvent } from "./pool-service.ts";
import { isGmempoolError } from "../pool/errors.ts";
import { daemon, gmemArena, deliverTo, refuses, rejects, withTimeout, UNIT } from "./testing/manager-test-kit.ts";

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
    await refuses(d, () => d.manager.allocate(caller, { requestId: "", arenaId: id, unitCount: 0, label: "" }), "invalid-argument", /unit_count/);
    await refuses(d, () => d.manager.allocate(caller, { requestId: "", arenaId: id, unitCount: 1, offsetBytes: 4096n, label: "" }), "invalid-argument", /multiple of 2 MiB/);
    await refuses(d, () => d.manager.allocate(caller, { requestId: "", arenaId: id, unitCount: 2, offsetBytes: 7n * UNIT, label: "" }), "invalid-argument", /passes the end/);
    await refuses(d, () => d.manager.allocate(caller, { requestId: "", arenaId: id, unitCount: 9, label: "" }), "invalid-argument", /larger than arena/);
    await refuses(d, () => d.manager.allocate(caller, { requestId: "bad id!", arenaId: id, unitCount: 1, label: "" }), "invalid-argument", /request_id/);
    await d.manager.allocate(caller, { requestId: "", arenaId: id, unitCount: 6, label: "" });
    await refuses(d, () => d.manager.allocate(caller, { requestId: "", arenaId: id, unitCount: 1, offsetBytes: 0n, label: "" }), "failed-precondition", /overlaps lease/);
    const other = await gmemArena(d.vmm(), 4);
    await refuses(d, () => d.manager.allocate(other.arena.owner.pid === caller.pid ? caller : d.manager.identify({ uid: 1000, gid: 1000, pid: other.arena.owner.pid }), { requestId: "", arenaId: other.arena.arenaId, unitCount: 3, label: "" }), "exhausted", /Requested 3 units, 2 free|requested 3 units, 2 free/);
    await refuses(d, () => d.manager.discard(caller, { requestId: "", arenaId: id, offsetBytes: 100n, lengthBytes: 4096n }), "invalid-argument", /multiples of 4096/);
    await refuses(d, () => d.manager.discard(caller, { requestId: "", arenaId: id, offsetBytes: 6n * UNIT, lengthBytes: 4096n }), "failed-precondition", /not leased by the caller/);
    const gmem = vmm.createGuestMemfd(4);
    await refuses(d, () => vmm.withSentFd(gmem, (fd) => d.manager.registerGuestMemfdArena(caller, { requestId: "", gmemFd: fd, sizeBytes: 8n * UNIT, initialVisibility: "shared", name: "" })), "invalid-argument", /differs from the fd's size/);
    const received: Fd[] = [];
    await d.manager.createMemfdArena(caller, { requestId: "", sizeBytes: 2n * UNIT, backing: "shmem", name: "", deliver: deliverTo(vmm, received) });
    await refuses(d, () => vmm.withSentFd(received[0]!, (fd) => d.manager.registerGuestMemfdArena(caller, { requestId: "", gmemFd: fd, sizeBytes: 2n * UNIT, initialVisibility: "shared", name: "" })), "invalid-argument", /not a guest_memfd/);
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
    await refuses(d, () => d.manager.discard(vmm.caller(), { requestId: "", arenaId: arena.arenaId, offsetBytes: 4096n, lengthBytes: 8192n }), "failed-precondition", /0x200000/);
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
    // The first lease's whole units are planned (punched, pages marked discarded) before the
    // second lease's 4 KiB edge is refused by policy reject.
    await refuses(d, () => d.manager.discard(caller, { requestId: "", arenaId: arena.arenaId, offsetBytes: 0n, lengthBytes: 2n * UNIT + 4096n }), "failed-precondition", /\[0x0, 0x600000\)/);
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
    await refuses(d, () => d.manager.discard(vmm.caller(), { requestId: "", arenaId: arena.arenaId, offsetBytes: 0x10000n, lengthBytes: 3n * 4096n }), "failed-precondition", boundaries("0x10000, 0x13000", "0x0, 0x200000"));
    await refuses(d, () => d.manager.discard(vmm.caller(), { requestId: "", arenaId: arena.arenaId, offsetBytes: UNIT - 3n * 4096n, lengthBytes: UNIT + 3n * 4096n }), "failed-precondition", boundaries("0x1fd000, 0x400000", "0x0, 0x400000"));
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
        if (e.kind === "policy-changed") break;
      }
    })();
    const r = await d.manager.setPolicy(admin, { requestId: "", arenaId: "", discardPolicy: "zero", deferredCapBytes: 4096n * 10n, clearArenaOverride: false });
    assert.equal(r.poolPolicy.discardPolicy, "zero");
    await reading;
    assert.equal(events[0]!.kind, "pool-status");
    assert.equal(events[1]!.kind, "policy-changed");
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
    // One punch worker: the first lease's punch runs (held below), the others wait in the queue.
    const d = await daemon({ capacityUnits: 32, configure: (c) => ({ ...c, pool: { ...c.pool, reservePunch: "background" }, limits: { ...c.limits, kernelParallelism: 1 } }) });
    const vmm = d.vmm();
    const { arena } = await gmemArena(vmm, 32);
    const caller = vmm.caller();
    const reserveFd = d.manager.reserveFd!;
    const punchedUnits: number[] = []; // every reserve punch that started, in units
    const hold = d.kernel.holdSlowCalls((c) => {
      const punch = c.op === "fallocate" && c.fd === reserveFd && c.mode === FALLOCATE_PUNCH;
      if (punch) punchedUnits.push(Number(c.length / UNIT));
      return punch;
    });
    const release = (l: AllocateResult): Promise<unknown> => d.manager.release(caller, { requestId: "", leaseId: l.lease.leaseId });
    // Sizes of one step each (maxStepUnits 4). The reserve hands slots out from the top and
    // takes them back at the bottom (reserve.ts): the first lease has the highest slots.
    // The first lease's punch starts PUNCH_DELAY_MS after its Allocate and is held; the two
    // later leases' punches then wait in the queue behind it (one worker).
    const leases: AllocateResult[] = [await d.manager.allocate(caller, { requestId: "", arenaId: arena.arenaId, unitCount: 4, label: "" })];
    await hold.held;
    for (const n of [3, 2]) leases.push(await d.manager.allocate(caller, { requestId: "", arenaId: arena.arenaId, unitCount: n, label: "" }));
    const [first, second, third] = leases as [AllocateResult, AllocateResult, AllocateResult];
    // Every lease is usable while the first punch is held and the other two are queued.
    assert.deepEqual(leases.map((l) => l.lease.sharedBytes), [4n * UNIT, 3n * UNIT, 2n * UNIT]);
    assert.equal(d.manager.reserveHeldTwiceUnits, 9);
    assert.deepEqual(punchedUnits, [4]);
    // Released at once, the two later leases take back the bottom slots, whose punches are still
    // queued: claimed back, never punched, and no wait for the punch in flight.
    await withTimeout(Promise.all([release(third), release(second)]), "releases of slots with queued punches");
    assert.equal(hold.waiting, 1, "the first lease's punch is still held");
    assert.equal(d.manager.reserveHeldTwiceUnits, 4);
    // The first lease's slots are being punched: its release waits for that punch before the
    // reserve populates them again (else the punch would take the memory back from the reserve).
    const arenaPunched = new Promise<void>((resolve) => {
      const stop = d.manager.observeKernelCalls((sample) => {
        if (sample.call !== "fallocate(PUNCH_HOLE)") return;
        stop();
        resolve();
      });
    });
    const populates = d.kernel.holdSlowCalls((c) => c.op === "fallocate" && c.fd === reserveFd && c.mode === FALLOCATE_POPULATE);
    let firstReleased = false;
    const releasing = release(first).then(() => (firstReleased = true));
    await arenaPunched;
    // A reserve populate started now would reach the hold within two turns of the event loop.
    for (let turn = 0; turn < 3; turn++) await new Promise((resolve) => setImmediate(resolve));
    assert.equal(populates.waiting, 0, "the reserve populate waits for the punch of its slots in flight");
    assert.equal(firstReleased, false);
    assert.equal(hold.waiting, 1);
    populates.release();
    hold.release();
    await releasing;
    await d.settle();
    assert.deepEqual(punchedUnits, [4], "the queued punches of the slots taken back never ran");
    assert.equal(d.manager.reserveHeldTwiceUnits, 0);
    assert.equal(d.manager.pool.reserve.freeUnits, 32);
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
    assert.equal(d.manager.pool.reserve.freeUnits, 32 - 4);
  });

  test("background reserve punches wait PUNCH_DELAY_MS: a release within it finds the reserve's copy still there, never punched", async () => {
    const d = await daemon({ capacityUnits: 16, configure: (c) => ({ ...c, pool: { ...c.pool, reservePunch: "background" } }) });
    const vmm = d.vmm();
    const { arena } = await gmemArena(vmm, 8);
    const caller = vmm.caller();
    const reserveFd = d.manager.reserveFd!;
    const reserveCalls: string[] = [];
    // Counts the reserve's fallocates and holds none of them.
    d.kernel.holdSlowCalls((c) => {
      if (c.op === "fallocate" && c.fd === reserveFd) reserveCalls.push(c.mode === FALLOCATE_PUNCH ? "punch" : "populate");
      return false;
    });
    const started = performance.now();
    const { lease } = await d.manager.allocate(caller, { requestId: "", arenaId: arena.arenaId, unitCount: 2, label: "" });
    assert.equal(d.manager.reserveHeldTwiceUnits, 2, "the reserve still holds the units' copies");
    await d.manager.release(caller, { requestId: "", leaseId: lease.leaseId });
    const elapsed = performance.now() - started;
    await d.settle();
    // Released within the delay: the copy was never punched (its re-populate finds the pages there).
    if (elapsed < PUNCH_DELAY_MS) assert.ok(!reserveCalls.includes("punch"), `no reserve punch: ${reserveCalls.join(", ")}`);
    assert.equal(d.kernel.populatedBytes(reserveFd), 16n * UNIT, "the reserve holds every free unit");
    assert.equal(d.manager.reserveHeldTwiceUnits, 0);
    assert.equal(d.manager.pool.reserve.freeUnits, 16);
    d.assertConservation();
    // Held longer than the delay, the copy is punched (and populated again on release).
    const kept = await d.manager.allocate(caller, { requestId: "", arenaId: arena.arenaId, unitCount: 2, label: "" });
    await new Promise((resolve) => setTimeout(resolve, PUNCH_DELAY_MS * 3));
    await d.settle();
    assert.equal(d.manager.reserveHeldTwiceUnits, 0);
    assert.ok(reserveCalls.includes("punch"), `the punch ran after the delay: ${reserveCalls.join(", ")}`);
    await d.manager.release(caller, { requestId: "", leaseId: kept.lease.leaseId });
    d.assertConservation();
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
