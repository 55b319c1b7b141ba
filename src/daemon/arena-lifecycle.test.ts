/**
 * Arena creation is one transaction: whatever the pool would refuse is refused in its claim,
 * before the daemon creates, punches or delivers anything (a delivered memfd of an arena that
 * then fails to register would leave the VMM holding a file the daemon disowns).
 */
import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { isGmempoolError } from "../pool/errors.ts";
import { FakeDaemon } from "./testing/fake-daemon.ts";

const UNIT = 2n * 1024n * 1024n;
const daemons: FakeDaemon[] = [];
after(async () => {
  for (const d of daemons) await d.manager.close().catch(() => undefined);
});

describe("arena lifecycle", () => {
  test("a size the pool's punch granularity does not divide is refused before any memfd is made or delivered", async () => {
    const d = await FakeDaemon.start({ capacityUnits: 16, reserveMode: "none", configure: (c) => ({ ...c, policy: { ...c.policy, punchGranularityBytes: 4 * 1024 * 1024 } }) });
    daemons.push(d);
    const vmm = d.vmm();
    const fdsBefore = d.kernel.openFds().length;
    let deliveries = 0;
    const deliver = (): Promise<void> => {
      deliveries++;
      return Promise.resolve();
    };
    await assert.rejects(d.manager.createMemfdArena(vmm.caller(), { requestId: "", sizeBytes: 3n * UNIT, backing: "shmem", name: "m", deliver }), (e: unknown) => {
      assert.ok(isGmempoolError(e, "invalid-argument"), String(e));
      assert.equal(e.message, "size_bytes 6291456 is not a multiple of the punch granularity 4 MiB");
      assert.deepEqual({ ...e.fields }, { field: "size_bytes", value: "6291456" });
      return true;
    });
    assert.equal(deliveries, 0);
    assert.equal(d.kernel.openFds().length, fdsBefore);
    assert.deepEqual(d.manager.listArenas(vmm.caller(), { allOwners: false }), []);
    const { arena } = await d.manager.createMemfdArena(vmm.caller(), { requestId: "", sizeBytes: 4n * UNIT, backing: "shmem", name: "m", deliver });
    assert.equal(deliveries, 1);
    assert.equal(arena.unitCount, 4);
    d.assertConservation();
  });
});
