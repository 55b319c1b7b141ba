import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { POOL_EVENT_KINDS, type Arena, type Identity, type Lease, type PoolEvent, type PoolEventKind } from "../../node/src/resources.ts";
import { SAMPLE_STATUS } from "../testing/sample-maps.ts";
import { eventLine } from "./event-line.ts";

const owner: Identity = { uid: 1000, gid: 1000, pid: 77, startTimeTicks: 5n };
const arena: Arena = {
  arenaId: "a-1",
  name: "vm-1",
  kind: "memfd",
  state: "detached",
  owner,
  sizeBytes: 64n << 20n,
  unitCount: 32,
  leasedUnitCount: 4,
  discardedUnitCount: 0,
  splitUnitCount: 0,
  deferredBytes: 0n,
  leaseCount: 1,
  initialVisibility: "shared",
  files: [],
  policy: { discardPolicy: "defer", discardPolicyOverridden: false, punchGranularityBytes: 2n << 20n, punchGranularityOverridden: false },
  createTime: undefined,
};
const lease: Lease = {
  leaseId: "l-1",
  arenaId: "a-1",
  owner,
  offsetBytes: 2n << 20n,
  lengthBytes: 8n << 20n,
  unitCount: 4,
  label: "boot",
  sharedBytes: 8n << 20n,
  privateBytes: 0n,
  discardedBytes: 0n,
  discardedUnitCount: 0,
  splitUnitCount: 0,
  createTime: undefined,
};
const poolPolicy = { discardPolicy: "defer" as const, punchGranularityBytes: 2n << 20n, deferredCapBytes: 1n << 30n, deferredOverflowPolicy: "zero" as const };
const header = { sequence: 41n, time: new Date("2025-01-02T03:04:05.678Z") };
const range = { arenaId: "a-1", offsetBytes: 0x200000n, lengthBytes: 4096n };

/** One event of every kind, with the words its line must contain. */
const EXAMPLES: Record<PoolEventKind, [PoolEvent, RegExp]> = {
  "pool-status": [{ ...header, kind: "pool-status", status: SAMPLE_STATUS }, /free 100, claimed 0, leased 28 of 128 units/],
  "arena-created": [{ ...header, kind: "arena-created", arena }, /arena a-1 "vm-1" memfd 64 MiB by pid 77 uid 1000/],
  "arena-state-changed": [{ ...header, kind: "arena-state-changed", arena }, /arena a-1 is detached/],
  "arena-deleted": [{ ...header, kind: "arena-deleted", arenaId: "a-1", owner, releasedLeaseCount: 2, releasedUnitCount: 6, reason: "owner-exited" }, /arena a-1 \(owner-exited\): 2 leases, 6 units \(12 MiB\) released/],
  "lease-allocated": [{ ...header, kind: "lease-allocated", lease }, /lease l-1 "boot" arena a-1 \[0x200000, \+8 MiB\) 4 units/],
  "lease-released": [{ ...header, kind: "lease-released", leaseId: "l-1", arenaId: "a-1", releasedUnitCount: 4, reason: "client" }, /lease l-1 of arena a-1 \(client\)/],
  "range-discarded": [{ ...header, kind: "range-discarded", ...range, punchedBytes: 0n, releasedUnitCount: 0, zeroedBytes: 0n, deferredBytes: 4096n }, /arena a-1 \[0x200000, \+4 KiB\): punched 0 B .* deferred 4 KiB/],
  "range-populated": [{ ...header, kind: "range-populated", ...range, populatedUnitCount: 1 }, /1 units populated/],
  "range-converted": [{ ...header, kind: "range-converted", ...range, toVisibility: "private", mode: "in-place" }, /-> private \(in-place\)/],
  "policy-changed": [{ ...header, kind: "policy-changed", poolPolicy, arenaOverride: { arenaId: "a-1", punchGranularityBytes: 4096n }, source: "admin" }, /by admin: pool: discard defer.*; arena a-1: discard pool's, granularity 4 KiB/],
  "owner-exited": [{ ...header, kind: "owner-exited", owner, deletedArenaCount: 1, releasedLeaseCount: 2, releasedUnitCount: 6 }, /pid 77 uid 1000: 1 arenas deleted/],
  "deferred-cap-reached": [{ ...header, kind: "deferred-cap-reached", deferredBytes: 1n << 30n, deferredCapBytes: 1n << 30n, overflowPolicy: "zero" }, /reached the cap of 1 GiB; sub-granule discards now zero/],
};

describe("eventLine", () => {
  for (const kind of POOL_EVENT_KINDS) {
    test(`${kind}: one line with time, sequence, kind and what changed`, () => {
      const [event, words] = EXAMPLES[kind];
      const line = eventLine(event);
      assert.ok(line.startsWith(`2025-01-02T03:04:05.678Z #41 ${kind} `), line);
      assert.equal(line.indexOf("\n"), line.length - 1);
      assert.match(line, words);
      assert.doesNotMatch(line, /undefined|NaN|\[object/);
    });
  }
});
