/**
 * Idempotency records per identity (issue 12, items 10 and 12): one tenant's flood of request
 * ids cannot evict another's (a retry would then act twice); a request id reused on another
 * RPC is invalid-argument; and the records of a process that is gone are not kept (the journal
 * stays proportional to live state).
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { ManualClock } from "../kvm/manual-clock.ts";
import { callerIdentity } from "./caller-identity.ts";
import { IdempotencyStore, type IdempotencyEntry } from "./idempotency.ts";
import { daemon, gmemArena, rejects, until } from "./testing/manager-test-kit.ts";
import type { Caller } from "./pool-service.ts";

function caller(uid: number, pid: number): Caller {
  return { uid, gid: uid, pid, startTimeTicks: 7n, identity: callerIdentity(uid, pid, 7n), isAdmin: false };
}

function record(store: IdempotencyStore, who: Caller, requestId: string): IdempotencyEntry {
  const key = IdempotencyStore.key(who, requestId);
  const entry = store.makeEntry(key, IdempotencyStore.fingerprint({ rpc: "Allocate", requestId }), { ok: requestId });
  store.record(entry);
  return entry;
}

describe("IdempotencyStore", () => {
  test("one identity's flood evicts only its own oldest entries, never another identity's", () => {
    const store = new IdempotencyStore({ maxEntries: 8, maxEntriesPerIdentity: 4, retentionMs: 60_000, clock: new ManualClock() });
    const victim = caller(1000, 10);
    const flooder = caller(1001, 11);
    record(store, victim, "keep-me");
    for (let i = 0; i < 100; i++) record(store, flooder, `flood-${i}`);
    const fingerprint = IdempotencyStore.fingerprint({ rpc: "Allocate", requestId: "keep-me" });
    assert.ok(store.lookup(IdempotencyStore.key(victim, "keep-me"), fingerprint, "Allocate", "keep-me") !== undefined, "the victim's entry survived");
    assert.equal(store.sizeOf(flooder.identity), 4);
    assert.ok(store.lookup(IdempotencyStore.key(flooder, "flood-99"), IdempotencyStore.fingerprint({ rpc: "Allocate", requestId: "flood-99" }), "Allocate", "flood-99") !== undefined);
    assert.equal(store.lookup(IdempotencyStore.key(flooder, "flood-0"), IdempotencyStore.fingerprint({ rpc: "Allocate", requestId: "flood-0" }), "Allocate", "flood-0"), undefined);
  });

  test("the global bound evicts from the identity holding the most", () => {
    const store = new IdempotencyStore({ maxEntries: 6, maxEntriesPerIdentity: 5, retentionMs: 60_000, clock: new ManualClock() });
    const a = caller(1000, 10);
    const b = caller(1001, 11);
    for (let i = 0; i < 2; i++) record(store, a, `a-${i}`);
    for (let i = 0; i < 5; i++) record(store, b, `b-${i}`);
    assert.equal(store.size, 6);
    assert.equal(store.sizeOf(a.identity), 2);
    assert.equal(store.sizeOf(b.identity), 4);
  });

  test("the entries of identities whose process is gone are dropped; the live ones are kept", () => {
    const alive = caller(1000, 10);
    const gone = caller(1001, 11);
    const store = new IdempotencyStore({ maxEntries: 100, maxEntriesPerIdentity: 10, retentionMs: 60_000, clock: new ManualClock(), isLive: (identity) => identity === alive.identity });
    record(store, alive, "x");
    record(store, gone, "y");
    assert.deepEqual(
      store.entries().map((e) => e.key),
      [IdempotencyStore.key(alive, "x")],
    );
    assert.equal(store.size, 1);
  });

  test("entries journaled under the old (identity, RPC, id) key load under (identity, id)", () => {
    const clock = new ManualClock();
    const store = new IdempotencyStore({ maxEntries: 100, maxEntriesPerIdentity: 10, retentionMs: 60_000, clock });
    const who = caller(1000, 10);
    const fingerprint = IdempotencyStore.fingerprint({ rpc: "Release", leaseId: "l" });
    store.load([{ key: `${who.identity}|Release|r-1`, fingerprint, result: "{}", at: clock.now() }]);
    assert.ok(store.lookup(IdempotencyStore.key(who, "r-1"), fingerprint, "Release", "r-1") !== undefined);
  });
});

describe("request ids through the daemon", () => {
  test("a request id reused on another RPC is invalid-argument naming both RPCs, and changes nothing", async () => {
    const d = await daemon({ capacityUnits: 16 });
    const vmm = d.vmm();
    const { arena } = await gmemArena(vmm, 4);
    const { lease } = await d.manager.allocate(vmm.caller(), { requestId: "r-1", arenaId: arena.arenaId, unitCount: 2, label: "" });
    await rejects(d.manager.release(vmm.caller(), { requestId: "r-1", leaseId: lease.leaseId }), "invalid-argument", /request_id "r-1" was already used for Allocate; this is Release/);
    assert.equal(d.manager.getLease(vmm.caller(), lease.leaseId).unitCount, 2);
    const again = await d.manager.allocate(vmm.caller(), { requestId: "r-1", arenaId: arena.arenaId, unitCount: 2, label: "" });
    assert.equal(again.replayed, true);
    await d.close();
  });

  test("after its process exits, a VMM's request ids are not in the journal's snapshot", async () => {
    const d = await daemon({ capacityUnits: 16 });
    const stays = d.vmm();
    const leaves = d.vmm();
    const kept = await gmemArena(stays, 2);
    await d.manager.allocate(stays.caller(), { requestId: "s-1", arenaId: kept.arena.arenaId, unitCount: 1, label: "" });
    const { arena } = await gmemArena(leaves, 2);
    await d.manager.allocate(leaves.caller(), { requestId: "l-1", arenaId: arena.arenaId, unitCount: 1, label: "" });
    const leaver = leaves.caller().identity;
    leaves.exit();
    await until(() => d.manager.listArenas(d.vmm().caller(), { allOwners: false }).length === 0 && [...d.manager.pool.arenas()].length === 1, 2000);
    const keys = d.manager.durableState().results.map((r) => r.key);
    assert.ok(keys.some((k) => k.startsWith(`${stays.caller().identity}|`)), "the live VMM's ids are kept");
    assert.ok(!keys.some((k) => k.startsWith(`${leaver}|`)), `the exited VMM's ids are gone: ${keys.join(", ")}`);
    await d.close();
  });
});
