// The systemd fd store end to end: the real daemon with NOTIFY_SOCKET pointing at a test socket
// that plays systemd (collects READY=1, FDSTORE=1 with the arena's memfd, FDSTOREREMOVE=1), then
// kill -9 and a restart that gets the stored fd back as LISTEN_FDS: the arena is ACTIVE at once,
// without its VMM re-registering (DESIGN.md §7), with its lease.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import type { Fd } from "@gmempool/sys";
import { LinuxKernel } from "../kvm/linux-kernel.ts";
import { takeListenFds } from "./systemd-fd-store.ts";
import { DaemonProcess } from "./testing/daemon-process.ts";
import { createArena } from "./testing/e2e-arena.ts";
import { assertConservation } from "./testing/e2e-support.ts";
import { NotifySocket } from "./testing/notify-socket.ts";
import { FdChannelClient, TestClient } from "./testing/test-client.ts";

const uid = process.getuid?.() ?? 0;
const config = `[pool]\ncapacity = "64MiB"\nreserve = "none"\n[admin]\nuids = [${uid}]\n[journal]\nfsync = false\n`;

describe("takeListenFds (sd_listen_fds semantics)", () => {
  test("fds 3.. by LISTEN_FDNAMES when LISTEN_PID is this process; the variables are removed", () => {
    const env: Record<string, string | undefined> = { LISTEN_PID: "42", LISTEN_FDS: "3", LISTEN_FDNAMES: "gmempool.a.0:gmempool.a.0:" };
    const fds = takeListenFds(env, 42);
    assert.deepEqual([...fds.entries()], [["gmempool.a.0", 3], ["unknown.1", 4], ["unknown.2", 5]]);
    assert.deepEqual(env, {});
  });

  test("another process's LISTEN_PID or no LISTEN_FDS gives nothing", () => {
    assert.equal(takeListenFds({ LISTEN_PID: "41", LISTEN_FDS: "2" }, 42).size, 0);
    assert.equal(takeListenFds({ LISTEN_PID: "42" }, 42).size, 0);
    assert.equal(takeListenFds({ LISTEN_PID: "42", LISTEN_FDS: "x" }, 42).size, 0);
  });
});

describe("e2e: the systemd fd store keeps arena files across kill -9", () => {
  const dir = mkdtempSync(join(tmpdir(), "gmempool-sd-"));
  const started: DaemonProcess[] = [];
  const kernel = new LinuxKernel();
  const notify = new NotifySocket(join(dir, "notify.sock"));
  after(async () => {
    for (const d of started) {
      await d.kill();
      d.removeDir();
    }
    notify.close();
    kernel.release();
    rmSync(dir, { recursive: true, force: true });
  });

  test("FDSTORE on create, ACTIVE again after a restart with LISTEN_FDS, FDSTOREREMOVE on delete", async () => {
    const env = { NOTIFY_SOCKET: notify.path };
    let daemon = await DaemonProcess.start({ config, env });
    started.push(daemon);
    await notify.waitFor((m) => m.fields.get("READY") === "1");

    let client = new TestClient({ apiSocket: daemon.paths.apiSocket });
    const channel = await FdChannelClient.connect(kernel, daemon.paths.fdSocket);
    const { arenaId, fds } = await createArena(kernel, client, channel, "memfd", 8, "sd-store");
    const lease = (await client.call("Allocate", { arenaId, unitCount: 4 })).lease!;
    const name = `gmempool.${arenaId}.0`;
    const stored = await notify.waitFor((m) => m.fields.get("FDSTORE") === "1" && m.fields.get("FDNAME") === name);
    assert.equal(stored.fds.length, 1, "FDSTORE carries the arena's file");
    const storedFd: Fd = notify.takeFd(stored.fds[0]!);
    channel.close();
    client.close();

    await daemon.kill();
    daemon = await DaemonProcess.start({ config, env, dir: daemon.paths.runtimeDir, listenFds: [{ name, fd: storedFd }] });
    started.push(daemon);
    kernel.close(storedFd);
    client = new TestClient({ apiSocket: daemon.paths.apiSocket });
    try {
      const arena = (await client.call("GetArena", { arenaId })).arena!;
      assert.equal(arena.state, "ARENA_STATE_ACTIVE", "back from the fd store, no reattach needed");
      assert.equal((await client.call("GetLease", { leaseId: lease.leaseId })).lease!.unitCount, 4);
      assert.ok(daemon.log.some((l) => l.includes("arena reattached from the systemd fd store")));
      await assertConservation(client);

      await client.call("DeleteArena", { arenaId, releaseLeases: true });
      await notify.waitFor((m) => m.fields.get("FDSTOREREMOVE") === "1" && m.fields.get("FDNAME") === name);
      assert.deepEqual(await assertConservation(client), { free: 32, leased: 0, capacity: 32 });
    } finally {
      client.close();
      for (const fd of fds) kernel.close(fd);
      await daemon.stop();
    }
  });
});
