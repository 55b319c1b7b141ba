/**
 * `gmempool run` end to end with a VMM stand-in (sh): the real daemon (SpawnedDaemon), the
 * launcher as its own process (the `gmempool` executable), the VMM its child. The memfd and
 * stdio survive exec, the arena belongs to the VMM's process, a kill -9 of the launcher leaves
 * the units leased, the VMM's exit frees them, signals are forwarded and the VMM's status is
 * the launcher's. The QEMU boot is qemu-boot.e2e.test.ts.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { PoolClient } from "../../node/src/pool-client.ts";
import type { Arena } from "../../node/src/resources.ts";
import { SpawnedDaemon } from "../../node/src/testing/spawned-daemon.ts";
import { EXIT_USAGE } from "../exit-codes.ts";
import { LauncherProcess } from "../testing/launcher-process.ts";

const STEP_MS = 20_000;

describe("gmempool run", () => {
  let daemon: SpawnedDaemon;
  let client: PoolClient;
  const launchers: LauncherProcess[] = [];

  before(async () => {
    daemon = await SpawnedDaemon.start();
    client = await PoolClient.connect({ runtimeDir: daemon.dir, deadlineMs: 10_000 });
  });

  after(async () => {
    for (const l of launchers) await l.stop();
    client.close();
    await daemon.stop();
    daemon.removeDir();
  });

  function run(...args: string[]): LauncherProcess {
    const launcher = LauncherProcess.start(daemon.dir, args);
    launchers.push(launcher);
    return launcher;
  }

  async function arenasOf(pid: number): Promise<Arena[]> {
    return (await client.listArenas({ allOwners: true })).filter((a) => a.owner.pid === pid);
  }

  async function untilNoArenas(): Promise<void> {
    const deadline = Date.now() + STEP_MS;
    while ((await client.getPoolStatus()).arenaCount !== 0) {
      if (Date.now() > deadline) throw new Error(`arenas left: ${JSON.stringify(await client.listArenas({ allOwners: true }), (_k, v: unknown) => (typeof v === "bigint" ? String(v) : v))}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  test("the VMM inherits the memfd at fd 3 and stdout; it owns the arena; kill -9 of the launcher leaves the units leased; the VMM's exit frees them", async () => {
    const launcher = run("--memory", "8MiB", "--label", "vm-sh", "--", "sh", "-c", "readlink {memfd-path}; echo size={memfd-size}; echo ready; exec sleep 60");
    const vmmPid = await launcher.vmmPid(STEP_MS);
    await launcher.waitFor(/ready/, STEP_MS);
    assert.match(launcher.output, /^\/memfd:gmempool:\S+ \(deleted\)$/m, "fd 3 of the VMM is not the arena's memfd");
    assert.match(launcher.output, /^size=8388608$/m);
    const [arena] = await arenasOf(vmmPid);
    assert.ok(arena !== undefined, `no arena owned by the VMM (pid ${vmmPid})`);
    assert.equal(arena.name, "vm-sh");
    assert.equal(arena.leasedUnitCount, 4);
    assert.equal(arena.owner.pid, vmmPid);
    assert.equal(arena.owner.uid, process.getuid!());
    assert.ok(arena.owner.startTimeTicks > 0n);
    assert.deepEqual((await client.listLeases({ arenaId: arena.arenaId, allOwners: true })).map((l) => [l.label, l.unitCount]), [["vm-sh", 4]]);

    launcher.child.kill("SIGKILL");
    await launcher.exited;
    // Give the daemon the time an owner's exit would take (within one event-loop turn).
    await new Promise((resolve) => setTimeout(resolve, 300));
    const still = await arenasOf(vmmPid);
    assert.equal(still.length, 1, "the launcher's kill -9 deleted the VMM's arena");
    assert.equal(still[0]!.leasedUnitCount, 4);
    assert.equal((await client.getPoolStatus()).leasedUnitCount, 4);

    process.kill(vmmPid, "SIGKILL");
    await untilNoArenas();
    assert.equal((await client.getPoolStatus()).leasedUnitCount, 0);
  });

  test("SIGTERM is forwarded to the VMM and the launcher exits with the VMM's status; the arena goes with the VMM", async () => {
    const launcher = run("--memory", "4MiB", "--", "sh", "-c", "trap 'exit 7' TERM; echo {memfd} ready; while :; do sleep 0.05; done");
    await launcher.vmmPid(STEP_MS);
    await launcher.waitFor(/3 ready/, STEP_MS);
    launcher.child.kill("SIGTERM");
    assert.deepEqual(await launcher.exited, { code: 7, signal: null });
    await untilNoArenas();
  });

  test("refusals before anything runs: a VMM that is not QEMU without a placeholder, a size not of whole units; a program that does not exist leaves no arena", async () => {
    const noPlaceholder = run("--memory", "4MiB", "--", "sh", "-c", "true");
    assert.equal((await noPlaceholder.exited).code, EXIT_USAGE);
    assert.match(noPlaceholder.output, /sh is not QEMU .*\{memfd-path\}/);
    const odd = run("--memory", "3MiB", "--", "sh", "-c", "echo {memfd}");
    assert.equal((await odd.exited).code, EXIT_USAGE);
    assert.match(odd.output, /--memory 3 MiB is not a positive multiple of 2 MiB/);
    const missing = run("--memory", "4MiB", "--", "/nonexistent/vmm", "{memfd-path}");
    assert.equal((await missing.exited).code, 127);
    assert.match(missing.output, /cannot run \/nonexistent\/vmm: .*ENOENT/);
    assert.equal((await client.getPoolStatus()).arenaCount, 0);
  });
});
