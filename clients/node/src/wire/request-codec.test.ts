import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { ForceReleaseTarget } from "../pool.ts";
import { InvalidArgumentError } from "../pool-errors.ts";
import { encodeAllocate, encodeConvert, encodeCreateMemfdArena, encodeForceRelease, encodeSetPolicy, encodeWatch } from "./request-codec.ts";

describe("request encoding: the daemon's rules stay the daemon's; only what the wire cannot carry is refused", () => {
  test("optional fields with presence are absent when not given, present when given (even 0)", () => {
    assert.equal("offsetBytes" in encodeAllocate("r", "a", { unitCount: 1 }), false);
    assert.equal(encodeAllocate("r", "a", { unitCount: 1, offsetBytes: 0n }).offsetBytes, "0");
    const pool = encodeSetPolicy("r", { discardPolicy: "zero" });
    assert.deepEqual(pool, { requestId: "r", arenaId: "", discardPolicy: "DISCARD_POLICY_ZERO", clearArenaOverride: false });
    assert.deepEqual(encodeSetPolicy("r", { arenaId: "a", punchGranularityBytes: 4096n, clearArenaOverride: true }), { requestId: "r", arenaId: "a", punchGranularityBytes: "4096", clearArenaOverride: true });
  });

  test("values the daemon judges are passed through unjudged (an unaligned offset, a zero count)", () => {
    assert.deepEqual(encodeAllocate("r", "a", { unitCount: 0, offsetBytes: 4097n, label: "x" }), { requestId: "r", arenaId: "a", unitCount: 0, offsetBytes: "4097", label: "x" });
    assert.equal(encodeCreateMemfdArena("r", Buffer.alloc(16), { sizeBytes: 3n }).sizeBytes, "3");
  });

  test("defaults: shmem backing, no content intent, every kind of event", () => {
    assert.equal(encodeCreateMemfdArena("r", Buffer.alloc(16), { sizeBytes: 2n }).backing, "MEMFD_BACKING_SHMEM");
    assert.equal(encodeConvert("r", "a", { offsetBytes: 0n, lengthBytes: 4096n, toVisibility: "shared", mode: "notify" }).contentIntent, "CONTENT_INTENT_UNSPECIFIED");
    assert.deepEqual(encodeWatch({}), { arenaId: "", kinds: [], allOwners: false });
    assert.deepEqual(encodeWatch({ kinds: ["owner-exited"] }).kinds, ["POOL_EVENT_KIND_OWNER_EXITED"]);
  });

  test("what the wire cannot carry is InvalidArgumentError naming the field", () => {
    assert.throws(() => encodeAllocate("r", "a", { unitCount: 2 ** 32 }), (e) => e instanceof InvalidArgumentError && e.message === "unitCount = 4294967296 is not a uint32");
    assert.throws(() => encodeAllocate("r", "a", { unitCount: 1.5 }), InvalidArgumentError);
    assert.throws(() => encodeAllocate("r", "a", { unitCount: 1, offsetBytes: 1n << 64n }), /offsetBytes = 18446744073709551616 does not fit in uint64/);
    assert.throws(() => encodeSetPolicy("r", { discardPolicy: "sometimes" as "zero" }), /sometimes is not a DiscardPolicy/);
  });

  test("a ForceRelease target is exactly one of lease, arena, process", () => {
    assert.deepEqual(encodeForceRelease("r", { leaseId: "l" }), { requestId: "r", leaseId: "l" });
    assert.deepEqual(encodeForceRelease("r", { arenaId: "a" }), { requestId: "r", arenaId: "a" });
    assert.deepEqual(encodeForceRelease("r", { ownerPid: 42 }), { requestId: "r", ownerPid: 42 });
    assert.throws(() => encodeForceRelease("r", {} as ForceReleaseTarget), /exactly one of leaseId, arenaId, ownerPid; got none/);
    assert.throws(() => encodeForceRelease("r", { leaseId: "l", arenaId: "a" }), /got leaseId and arenaId/);
  });
});
