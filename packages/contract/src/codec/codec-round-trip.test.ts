// The codec's two directions against each other, through the bytes: a resource encoded as the
// daemon's server encodes it, serialized and deserialized by proto-loader with the contract's
// options (as grpc-js does on each end), and decoded as the client library decodes it, comes
// back equal. A field one direction forgets, or an enum the two spell differently, fails here.
import * as protoLoader from "@grpc/proto-loader";
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { PoolEvent } from "../pool-event.ts";
import { PROTO_FILES, protoLoaderOptions } from "../proto-options.ts";
import type { Arena, Identity, Lease, Policy, PoolStatus } from "../resources.ts";
import { decodePoolEvent, encodePoolEvent } from "./event-codec.ts";
import { decodeArena, decodeLease, decodePolicyView, decodePoolStatus, encodeArena, encodeArenaPolicyOverride, encodeLease, encodePolicy, encodePoolStatus } from "./resource-codec.ts";
import { WireValueError } from "./wire-value-error.ts";

const pool = protoLoader.loadSync([...PROTO_FILES], protoLoaderOptions())["gmempool.v1.Pool"] as unknown as Record<string, protoLoader.MethodDefinition<object, object>>;

/**
 * A response message through the bytes of `method`'s response type. Typed `never` so that it
 * passes as whichever generated `__Output` type the decoder under test takes.
 */
function throughWire(method: string, message: object): never {
  const m = pool[method];
  assert.ok(m !== undefined, method);
  return m.responseDeserialize(m.responseSerialize(message)) as never;
}

const owner: Identity = { uid: 1000, gid: 1000, pid: 4242, startTimeTicks: 123_456_789_012n };
const created = new Date(Date.UTC(2025, 0, 2, 3, 4, 5, 678));

const arena: Arena = {
  arenaId: "a-1",
  name: "vm-1",
  kind: "pair",
  state: "detached",
  owner,
  sizeBytes: (1n << 40n) + (2n << 20n),
  unitCount: 524_289,
  leasedUnitCount: 7,
  discardedUnitCount: 1,
  splitUnitCount: 2,
  deferredBytes: 8192n,
  leaseCount: 3,
  initialVisibility: "private",
  files: [
    { fdType: "guest_memfd", serves: "private", sizeBytes: 1n << 40n, populatedUnitCount: 5, memfdName: "" },
    { fdType: "memfd_hugetlb", serves: "shared", sizeBytes: 1n << 40n, populatedUnitCount: 2, memfdName: "gmempool:a-1" },
  ],
  policy: { discardPolicy: "defer", discardPolicyOverridden: true, punchGranularityBytes: 2n << 20n, punchGranularityOverridden: false },
  createTime: created,
};

const singleFile: Arena = { ...arena, kind: "memfd", state: "active", files: [{ fdType: "memfd_shmem", serves: undefined, sizeBytes: 4n << 20n, populatedUnitCount: 0, memfdName: "gmempool:a-2" }] };

const lease: Lease = {
  leaseId: "l-1",
  arenaId: "a-1",
  owner,
  offsetBytes: 6n << 20n,
  lengthBytes: 4n << 20n,
  unitCount: 2,
  label: "ram",
  sharedBytes: 1n << 20n,
  privateBytes: (3n << 20n) - 4096n,
  discardedBytes: 4096n,
  discardedUnitCount: 0,
  splitUnitCount: 1,
  createTime: created,
};

const status: PoolStatus = {
  servingState: "draining",
  reserveMode: "hugetlb",
  capacityUnitCount: 512,
  freeUnitCount: 500,
  claimedUnitCount: 5,
  leasedUnitCount: 7,
  reservePopulatedUnitCount: 490,
  splitUnitCount: 1,
  deferredBytes: 4096n,
  deferredCapBytes: 1n << 30n,
  arenaCount: 2,
  leaseCount: 3,
  largestFreeRunUnitCount: 256,
  startTime: created,
  lastEventSequence: (1n << 63n) + 1n,
  reservedUnitCount: 3,
  reservationCount: 2,
};

const policy: Policy = { discardPolicy: "zero", punchGranularityBytes: 2n << 20n, deferredCapBytes: 512n << 20n, deferredOverflowPolicy: "reject" };

const head = { sequence: 42n, time: created };
const EVENTS: readonly PoolEvent[] = [
  { ...head, kind: "pool-status", status },
  { ...head, kind: "arena-created", arena },
  { ...head, kind: "arena-state-changed", arena: singleFile },
  { ...head, kind: "arena-deleted", arenaId: "a-1", owner, releasedLeaseCount: 3, releasedUnitCount: 7, reason: "owner-exited" },
  { ...head, kind: "lease-allocated", lease },
  { ...head, kind: "lease-released", leaseId: "l-1", arenaId: "a-1", releasedUnitCount: 2, reason: "force-release" },
  { ...head, kind: "range-discarded", arenaId: "a-1", offsetBytes: 4096n, lengthBytes: 8192n, punchedBytes: 2n << 20n, releasedUnitCount: 1, zeroedBytes: 4096n, deferredBytes: 4096n },
  { ...head, kind: "range-populated", arenaId: "a-1", offsetBytes: 0n, lengthBytes: 2n << 20n, populatedUnitCount: 1 },
  { ...head, kind: "range-converted", arenaId: "a-1", offsetBytes: 0n, lengthBytes: 4096n, toVisibility: "shared", mode: "in-place" },
  { ...head, kind: "policy-changed", poolPolicy: policy, arenaOverride: { arenaId: "a-1", discardPolicy: "reject" }, source: "config" },
  { ...head, kind: "policy-changed", poolPolicy: policy, arenaOverride: undefined, source: "admin" },
  { ...head, kind: "owner-exited", owner, deletedArenaCount: 1, releasedLeaseCount: 3, releasedUnitCount: 7 },
  { ...head, kind: "deferred-cap-reached", deferredBytes: 512n << 20n, deferredCapBytes: 512n << 20n, overflowPolicy: "zero" },
];

describe("codec round trip: daemon encode -> bytes -> client decode", () => {
  test("arenas (a pair, a single file with no `serves`) and leases come back equal", () => {
    for (const a of [arena, singleFile]) assert.deepEqual(decodeArena((throughWire("GetArena", { arena: encodeArena(a) }) as { arena: never }).arena), a);
    assert.deepEqual(decodeLease((throughWire("GetLease", { lease: encodeLease(lease) }) as { lease: never }).lease), lease);
  });

  test("pool status, with the full 64-bit range of the event sequence", () => {
    assert.deepEqual(decodePoolStatus((throughWire("GetPoolStatus", { status: encodePoolStatus(status) }) as { status: never }).status), status);
  });

  test("policy views: an override's absent fields stay absent (proto3 presence), present ones come back", () => {
    const overrides = [{ arenaId: "a-1" }, { arenaId: "a-2", discardPolicy: "zero" as const }, { arenaId: "a-3", punchGranularityBytes: 0n }];
    const view = decodePolicyView(throughWire("GetPolicy", { poolPolicy: encodePolicy(policy), arenaOverrides: overrides.map(encodeArenaPolicyOverride) }));
    assert.deepEqual(view, { poolPolicy: policy, arenaOverrides: overrides });
  });

  test("every kind of Watch event comes back equal", () => {
    const kinds = new Set(EVENTS.map((e) => e.kind));
    assert.equal(kinds.size, 12, "every PoolEventKind is covered");
    for (const event of EVENTS) assert.deepEqual(decodePoolEvent(throughWire("Watch", encodePoolEvent(event))), event, event.kind);
  });

  test("what the decoder cannot represent is refused: a required message left out, an event case it does not know", () => {
    assert.throws(() => decodeArena((throughWire("GetArena", {}) as { arena: never }).arena), (e) => e instanceof WireValueError && e.direction === "decode" && e.field === "arena");
    assert.throws(() => decodePoolEvent(throughWire("Watch", { sequence: "7" })), /Watch event 7 has no event set/);
  });
});
