// End-to-end on the real kernel (needs root and /dev/kvm; with GMEMPOOL_REQUIRE_KVM=1 a skip is
// a failure): the daemon with a gmem reserve serving guest_memfd arenas registered by client
// processes; with a hugetlb reserve serving hugetlb memfd arenas, nr_hugepages restored after;
// kill -9 during a guest_memfd churn and restart. Conservation checked after each scenario.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, describe, test } from "node:test";
import { LinuxKernel } from "../kvm/linux-kernel.ts";
import { kvmSkipReason } from "@gmempool/sys/testing";
import { DaemonProcess } from "./testing/daemon-process.ts";
import { createArena } from "./testing/e2e-arena.ts";
import { churnThenKill, assertNothingAcknowledgedLost } from "./testing/e2e-churn.ts";
import { assertConservation, startClientProcess, waitFor } from "./testing/e2e-support.ts";
import { FdChannelClient, TestClient } from "./testing/test-client.ts";

const skip = kvmSkipReason({ root: true });
const config = (reserve: string, capacity: string): string => `[pool]\ncapacity = "${capacity}"\nreserve = "${reserve}"\n[admin]\nuids = [0]\n[journal]\nfsync = false\n`;
const nrHugepages = (): number => Number(readFileSync("/proc/sys/vm/nr_hugepages", "utf8").trim());

describe("e2e on the real kernel", { skip }, () => {
  const started: DaemonProcess[] = [];
  after(async () => {
    for (const d of started) {
      await d.kill();
      d.removeDir();
    }
  });

  test("gmem reserve: client processes register guest_memfd arenas, allocate and release; a killed client's units return within 1 s", async () => {
    const daemon = await DaemonProcess.start({ config: config("gmem", "256MiB") });
    started.push(daemon);
    const admin = new TestClient({ apiSocket: daemon.paths.apiSocket });
    try {
      assert.equal((await admin.call("GetPoolStatus", {})).status!.reserveMode, "RESERVE_MODE_GMEM");
      const done = await startClientProcess(daemon.paths.runtimeDir, "gmem", 32, false);
      assert.equal(await done.exited, 0);
      assert.deepEqual(await assertConservation(admin), { free: 128, leased: 0, capacity: 128 });
      const held = await startClientProcess(daemon.paths.runtimeDir, "gmem", 16, true);
      assert.equal((await assertConservation(admin)).leased, 16);
      held.child.kill("SIGKILL");
      await held.exited;
      const took = await waitFor(async () => (await admin.call("GetPoolStatus", {})).status!.freeUnitCount === 128, 2000);
      assert.ok(took < 1000, `units came back after ${took.toFixed(0)} ms`);
      assert.deepEqual(await assertConservation(admin), { free: 128, leased: 0, capacity: 128 });
    } finally {
      admin.close();
    }
    assert.equal(await daemon.stop(), 0);
  });

  test("hugetlb reserve: hugetlb memfd arenas; nr_hugepages is restored when the daemon stops", async () => {
    const before = nrHugepages();
    const daemon = await DaemonProcess.start({ config: config("hugetlb", "64MiB") });
    started.push(daemon);
    const admin = new TestClient({ apiSocket: daemon.paths.apiSocket });
    try {
      assert.equal((await admin.call("GetPoolStatus", {})).status!.reserveMode, "RESERVE_MODE_HUGETLB");
      assert.ok(nrHugepages() >= before + 32, `nr_hugepages ${nrHugepages()} after reserving 32 pages on ${before}`);
      const client = await startClientProcess(daemon.paths.runtimeDir, "hugetlb", 8, false);
      assert.equal(await client.exited, 0);
      assert.deepEqual(await assertConservation(admin), { free: 32, leased: 0, capacity: 32 });
    } finally {
      admin.close();
    }
    assert.equal(await daemon.stop(), 0);
    assert.equal(nrHugepages(), before, "nr_hugepages restored");
  });

  test("gmem reserve: kill -9 during a guest_memfd churn, restart: no acknowledged lease lost, no acknowledged release undone, no unit lost", async () => {
    let daemon = await DaemonProcess.start({ config: config("gmem", "128MiB") });
    started.push(daemon);
    const kernel = new LinuxKernel();
    let admin = new TestClient({ apiSocket: daemon.paths.apiSocket, deadlineMs: 5000 });
    const channel = await FdChannelClient.connect(kernel, daemon.paths.fdSocket);
    const { arenaId, fds } = await createArena(kernel, admin, channel, "gmem", 32, "churn");
    const outcome = await churnThenKill(admin, { arenaId, keep: 6, workers: 4, killAfterAllocations: 40 }, () => daemon.kill());
    admin.close();
    channel.close();
    daemon = await DaemonProcess.start({ config: config("gmem", "128MiB"), dir: daemon.paths.runtimeDir });
    started.push(daemon);
    admin = new TestClient({ apiSocket: daemon.paths.apiSocket });
    try {
      assertNothingAcknowledgedLost(outcome, new Set((await admin.call("ListLeases", { allOwners: true })).leases.map((l) => l.leaseId)));
      await assertConservation(admin);
      const again = await FdChannelClient.connect(kernel, daemon.paths.fdSocket);
      const token = await again.sendFdToken(fds[1]!, "GUEST_MEMFD");
      assert.equal((await admin.call("ReattachArena", { arenaId, gmemFdToken: token })).arena!.state, "ARENA_STATE_ACTIVE");
      await admin.call("DeleteArena", { arenaId, releaseLeases: true });
      assert.deepEqual(await assertConservation(admin), { free: 64, leased: 0, capacity: 64 });
      again.close();
    } finally {
      admin.close();
      for (const fd of fds) kernel.close(fd);
      kernel.release();
      await daemon.stop();
    }
  });
});
