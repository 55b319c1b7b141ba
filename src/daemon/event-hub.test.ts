import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { EventHub } from "./event-hub.ts";
import { type Caller, type PoolEvent, type PoolStatus } from "./pool-service.ts";
import { isGmempoolError } from "../pool/errors.ts";

const status: PoolStatus = {
  servingState: "serving", reserveMode: "none", capacityUnitCount: 8, freeUnitCount: 8, claimedUnitCount: 0, leasedUnitCount: 0,
  reservePopulatedUnitCount: 0, splitUnitCount: 0, deferredBytes: 0n, deferredCapBytes: 0n, arenaCount: 0, leaseCount: 0,
  largestFreeRunUnitCount: 8, startTime: new Date(0), lastEventSequence: 0n, reservedUnitCount: 0, reservationCount: 0,
};
const alice: Caller = { uid: 1, gid: 1, pid: 10, startTimeTicks: 1n, identity: "1:10:1", isAdmin: false };
const root: Caller = { uid: 0, gid: 0, pid: 11, startTimeTicks: 1n, identity: "0:11:1", isAdmin: true };

function hub(bufferEvents = 16): EventHub {
  return new EventHub({ bufferEvents, maxStreams: 2, maxStreamsPerUid: 2, statusIntervalMs: 60_000, status: () => status });
}

async function take(stream: AsyncIterable<PoolEvent>, n: number): Promise<PoolEvent[]> {
  const out: PoolEvent[] = [];
  for await (const e of stream) {
    out.push(e);
    if (out.length === n) break;
  }
  return out;
}

const deleted = (arenaId: string, owner: Caller) => ({ kind: "arena-deleted" as const, arenaId, owner, releasedLeaseCount: 0, releasedUnitCount: 0, reason: "client" as const });

describe("EventHub", () => {
  test("a stream starts with pool-status, then sees its owner's and pool-wide events in order", async () => {
    const h = hub();
    const stream = h.open(alice, { arenaId: "", kinds: [], allOwners: false });
    h.publish(deleted("a1", root), { owner: root.identity, arenaId: "a1" });
    h.publish(deleted("a2", alice), { owner: alice.identity, arenaId: "a2" });
    h.publish({ kind: "deferred-cap-reached", deferredBytes: 1n, deferredCapBytes: 1n, overflowPolicy: "reject" }, { owner: undefined, arenaId: undefined });
    const events = await take(stream, 3);
    assert.deepEqual(events.map((e) => [e.kind, e.sequence]), [["pool-status", 0n], ["arena-deleted", 2n], ["deferred-cap-reached", 3n]]);
    h.close();
  });

  test("a stream filtered on an arena ends after that arena's deletion", async () => {
    const h = hub();
    const stream = h.open(alice, { arenaId: "a2", kinds: [], allOwners: false });
    h.publish(deleted("a2", alice), { owner: alice.identity, arenaId: "a2" });
    const events: PoolEvent[] = [];
    for await (const e of stream) events.push(e);
    assert.deepEqual(events.map((e) => e.kind), ["pool-status", "arena-deleted"]);
    h.close();
  });

  test("a consumer that falls behind is ended with exhausted, naming the last sequence sent", async () => {
    const h = hub(16);
    const stream = h.open(root, { arenaId: "", kinds: [], allOwners: true });
    const it = stream[Symbol.asyncIterator]();
    await it.next();
    for (let i = 0; i < 20; i++) h.publish(deleted(`a${i}`, alice), { owner: alice.identity, arenaId: `a${i}` });
    await assert.rejects(it.next(), (e: unknown) => isGmempoolError(e, "exhausted") && /sequence 0/.test(e.message));
    assert.equal(h.streamCount, 0);
  });

  test("drain sends a draining pool-status and ends streams with unavailable; too many streams is exhausted", async () => {
    const h = hub();
    const a = h.open(alice, { arenaId: "", kinds: ["arena-deleted"], allOwners: false });
    h.open(alice, { arenaId: "", kinds: [], allOwners: false }).close();
    h.open(alice, { arenaId: "", kinds: [], allOwners: false });
    assert.throws(() => h.open(alice, { arenaId: "", kinds: [], allOwners: false }), (e: unknown) => isGmempoolError(e, "exhausted"));
    h.drain();
    const it = a[Symbol.asyncIterator]();
    const kindOf = (r: IteratorResult<PoolEvent>): string | undefined => (r.done === true ? undefined : r.value.kind);
    assert.equal(kindOf(await it.next()), "pool-status");
    assert.equal(kindOf(await it.next()), "pool-status");
    await assert.rejects(it.next(), (e: unknown) => isGmempoolError(e, "unavailable"));
    assert.throws(() => h.open(alice, { arenaId: "", kinds: [], allOwners: false }), (e: unknown) => isGmempoolError(e, "unavailable"));
  });
});
