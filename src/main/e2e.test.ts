// End-to-end: the real daemon (`gmempool serve`, real kernel port, reserve none, shmem memfd
// arenas — the embedded default's backend, no root or /dev/kvm needed) in a temporary runtime
// directory, driven from separate client processes over its real sockets. Conservation is
// checked after each scenario. Every process a test starts is stopped by the test.
import assert from "node:assert/strict";
import { existsSync, writeFileSync } from "node:fs";
import { after, describe, test } from "node:test";
import { LinuxKernel } from "../kvm/linux-kernel.ts";
import { DaemonProcess } from "./testing/daemon-process.ts";
import { createArena } from "./testing/e2e-arena.ts";
import { churnThenKill, assertNothingAcknowledgedLost } from "./testing/e2e-churn.ts";
import { assertConservation, startClientProcess, waitFor } from "./testing/e2e-support.ts";
import { FdChannelClient, TestClient } from "./testing/test-client.ts";

const uid = process.getuid?.() ?? 0;
const config = (extra = ""): string => `[pool]\ncapacity = "256MiB"\nreserve = "none"\n[admin]\nuids = [${uid}]\n[journal]\nfsync = false\n${extra}`;

describe("e2e: gmempool serve with reserve none and memfd arenas", () => {
  const started: DaemonProcess[] = [];
  after(async () => {
    for (const d of started) {
      await d.kill();
      d.removeDir();
    }
  });

  test("a client process creates a memfd arena, allocates, releases; SIGTERM removes the sockets", async () => {
    const daemon = await DaemonProcess.start({ config: config() });
    started.push(daemon);
    const admin = new TestClient({ apiSocket: daemon.paths.apiSocket });
    try {
      const client = await startClientProcess(daemon.paths.runtimeDir, "memfd", 8, false);
      assert.equal(await client.exited, 0);
      assert.deepEqual(await assertConservation(admin), { free: 128, leased: 0, capacity: 128 });
    } finally {
      admin.close();
    }
    assert.equal(await daemon.stop(), 0);
    for (const path of [daemon.paths.apiSocket, daemon.paths.fdSocket, daemon.paths.metricsSocket]) assert.equal(existsSync(path), false, path);
  });

  test("killing a client process returns its units within 1 s", async () => {
    const daemon = await DaemonProcess.start({ config: config() });
    started.push(daemon);
    const admin = new TestClient({ apiSocket: daemon.paths.apiSocket });
    try {
      const client = await startClientProcess(daemon.paths.runtimeDir, "memfd", 16, true);
      assert.equal((await assertConservation(admin)).leased, 16);
      client.child.kill("SIGKILL");
      await client.exited;
      const took = await waitFor(async () => (await admin.call("GetPoolStatus", {})).status!.freeUnitCount === 128, 2000);
      assert.ok(took < 1000, `units came back after ${took.toFixed(0)} ms`);
      await waitFor(async () => (await admin.call("ListArenas", { allOwners: true })).arenas.length === 0, 2000);
      assert.deepEqual(await assertConservation(admin), { free: 128, leased: 0, capacity: 128 });
    } finally {
      admin.close();
      await daemon.stop();
    }
  });

  test("SIGHUP re-applies the config file's policy", async () => {
    const daemon = await DaemonProcess.start({ config: config() });
    started.push(daemon);
    const admin = new TestClient({ apiSocket: daemon.paths.apiSocket });
    try {
      assert.equal((await admin.call("GetPolicy", {})).poolPolicy!.discardPolicy, "DISCARD_POLICY_DEFER");
      writeFileSync(`${daemon.paths.runtimeDir}/gmempool.toml`, config('[policy]\ndiscard = "reject"\n'));
      daemon.child.kill("SIGHUP");
      await waitFor(async () => (await admin.call("GetPolicy", {})).poolPolicy!.discardPolicy === "DISCARD_POLICY_REJECT", 5000);
    } finally {
      admin.close();
      await daemon.stop();
    }
  });

  test("kill -9 during a churn, restart: no acknowledged lease lost, no acknowledged release undone, no unit lost", async () => {
    let daemon = await DaemonProcess.start({ config: config() });
    started.push(daemon);
    const kernel = new LinuxKernel();
    let admin = new TestClient({ apiSocket: daemon.paths.apiSocket, deadlineMs: 5000 });
    const channel = await FdChannelClient.connect(kernel, daemon.paths.fdSocket);
    const { arenaId, fds } = await createArena(kernel, admin, channel, "memfd", 64, "churn");
    const outcome = await churnThenKill(admin, { arenaId, keep: 8, workers: 4, killAfterAllocations: 40 }, () => daemon.kill());
    admin.close();
    channel.close();

    daemon = await DaemonProcess.start({ config: config(), dir: daemon.paths.runtimeDir });
    started.push(daemon);
    admin = new TestClient({ apiSocket: daemon.paths.apiSocket });
    try {
      assertNothingAcknowledgedLost(outcome, new Set((await admin.call("ListLeases", { allOwners: true })).leases.map((l) => l.leaseId)));
      await assertConservation(admin);
      // Without the systemd fd store the arena comes back DETACHED; the owner re-sends its memfd.
      const arena = (await admin.call("GetArena", { arenaId })).arena!;
      assert.equal(arena.state, "ARENA_STATE_DETACHED");
      const again = await FdChannelClient.connect(kernel, daemon.paths.fdSocket);
      const token = await again.sendFdToken(fds[0]!, "MEMFD_SHMEM");
      assert.equal((await admin.call("ReattachArena", { arenaId, memfdFdToken: token })).arena!.state, "ARENA_STATE_ACTIVE");
      await admin.call("DeleteArena", { arenaId, releaseLeases: true });
      assert.deepEqual(await assertConservation(admin), { free: 128, leased: 0, capacity: 128 });
      again.close();
    } finally {
      admin.close();
      for (const fd of fds) kernel.close(fd);
      kernel.release();
      await daemon.stop();
    }
  });
});
