/**
 * Transactions are tracked whole (transaction-runner.ts): a call that races another on the same
 * arena sees it either not started or finished, never half done. The interleavings are forced
 * with the fake kernel's pause gate (`pauseSlowCalls`), and each test checks that the race it
 * names really happened.
 */
import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { isGmempoolError } from "../pool/errors.ts";
import { FakeDaemon, type FakeVmm } from "./testing/fake-daemon.ts";
import type { ArenaInfo, Caller } from "./pool-service.ts";

const UNIT = 2n * 1024n * 1024n;
const daemons: FakeDaemon[] = [];
after(async () => {
  for (const d of daemons) await d.manager.close().catch(() => undefined);
});

/** A daemon of 16 units, a VMM, and its guest_memfd arena of 8 units. */
async function daemonWithArena(): Promise<{ d: FakeDaemon; vmm: FakeVmm; arena: ArenaInfo; caller: Caller }> {
  const d = await FakeDaemon.start({ capacityUnits: 16 });
  daemons.push(d);
  const vmm = d.vmm();
  const gmem = vmm.createGuestMemfd(8);
  const { arena } = await vmm.withSentFd(gmem, (fd) =>
    d.manager.registerGuestMemfdArena(vmm.caller(), { requestId: "", gmemFd: fd, sizeBytes: 8n * UNIT, initialVisibility: "shared", name: "vm" }),
  );
  return { d, vmm, arena, caller: vmm.caller() };
}

/** Resolves once the event loop has run the work queued so far (the fake's slow calls yield one turn). */
function turn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

describe("transactions racing on one arena", () => {
  test("a failing Allocate racing a DeleteArena answers its own error, and the delete counts no lease it never granted", async () => {
    // Two populate steps of 4 units: the first fails at once (ENOMEM), the second is held.
    const { d, arena, caller } = await daemonWithArena();
    const resume = d.kernel.pauseSlowCalls();
    d.kernel.failNext("fallocate", "ENOMEM");
    const allocation = d.manager.allocate(caller, { requestId: "", arenaId: arena.arenaId, unitCount: 8, label: "" });
    const allocated = allocation.then(() => "resolved", (e: unknown) => e);
    await turn();
    // The race this test is about: the allocation's kernel work is in flight when the delete comes.
    assert.equal(d.manager.transactionsInFlight, 1, "the allocation is in flight");
    assert.equal(d.manager.pool.reserve.claimedUnits > 0, true, "the allocation holds claimed units");
    const deletion = d.manager.deleteArena(caller, { requestId: "", arenaId: arena.arenaId, releaseLeases: true });
    await turn();
    assert.equal(d.manager.getArena(caller, arena.arenaId).state, "deleting", "the delete started before the allocation settled");
    resume();
    const error = await allocated;
    assert.ok(isGmempoolError(error), `the allocation failed with a GmempoolError, got ${String(error)}`);
    assert.equal(error.kind, "exhausted", error.message);
    assert.match(error.message, /ENOMEM/);
    const deleted = await deletion;
    assert.deepEqual({ leases: deleted.releasedLeaseCount, units: deleted.releasedUnitCount }, { leases: 0, units: 0 });
    assert.equal(d.manager.pool.reserve.freeUnits, 16);
    d.assertConservation();
  });

  test("a DeleteArena waits for an Allocate in flight to finish whole, then releases the lease it granted", async () => {
    const { d, arena, caller } = await daemonWithArena();
    const resume = d.kernel.pauseSlowCalls();
    const allocation = d.manager.allocate(caller, { requestId: "", arenaId: arena.arenaId, unitCount: 8, label: "" });
    await turn();
    assert.equal(d.manager.transactionsInFlight, 1, "the allocation is in flight");
    const deletion = d.manager.deleteArena(caller, { requestId: "", arenaId: arena.arenaId, releaseLeases: true });
    resume();
    const { lease } = await allocation;
    assert.equal(lease.unitCount, 8);
    const deleted = await deletion;
    assert.deepEqual({ leases: deleted.releasedLeaseCount, units: deleted.releasedUnitCount }, { leases: 1, units: 8 });
    d.assertConservation();
  });

  test("two deletions of one arena are one: the second joins the first and reports the same", async () => {
    const { d, arena, caller } = await daemonWithArena();
    await d.manager.allocate(caller, { requestId: "", arenaId: arena.arenaId, unitCount: 4, label: "" });
    const resume = d.kernel.pauseSlowCalls();
    const first = d.manager.deleteArena(caller, { requestId: "", arenaId: arena.arenaId, releaseLeases: true });
    await turn();
    const second = d.manager.forceRelease(d.manager.identify({ uid: 0, gid: 0, pid: d.kernel.pid }), { requestId: "", target: { kind: "arena", arenaId: arena.arenaId } });
    resume();
    const [a, b] = await Promise.all([first, second]);
    assert.deepEqual({ leases: a.releasedLeaseCount, units: a.releasedUnitCount }, { leases: 1, units: 4 });
    assert.deepEqual({ leases: b.releasedLeaseCount, units: b.releasedUnitCount }, { leases: 1, units: 4 });
    d.assertConservation();
  });

  test("shutdown waits for a transaction's journal write, not only its kernel calls", async () => {
    const { d, arena, caller } = await daemonWithArena();
    const resume = d.kernel.pauseSlowCalls();
    let settled = false;
    const allocation = d.manager.allocate(caller, { requestId: "", arenaId: arena.arenaId, unitCount: 2, label: "" }).then(() => (settled = true));
    await turn();
    const drained = d.manager.drain().then(() => settled);
    resume();
    assert.equal(await drained, true, "drain resolved only after the allocation returned (its record durable)");
    await allocation;
  });
});
