/**
 * Pool.handOverArena through the real client, the real daemon (SpawnedDaemon) and real child
 * processes: the child owns the arena, its exit frees the units; a non-pidfd, an exited
 * process, another uid and another owner's arena are refused with their PoolError class and a
 * message naming the value.
 */
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { after, before, describe, test } from "node:test";
import { closeFd, openPidfd } from "./pidfd.ts";
import { PoolClient } from "./pool-client.ts";
import { FailedPreconditionError, InvalidArgumentError, NotFoundError, PermissionDeniedError } from "./pool-errors.ts";
import { UNIT_BYTES } from "./units.ts";
import { SpawnedDaemon } from "./testing/spawned-daemon.ts";

describe("handOverArena", () => {
  let daemon: SpawnedDaemon;
  let client: PoolClient;
  const children: ChildProcess[] = [];
  const fds: number[] = [];

  before(async () => {
    daemon = await SpawnedDaemon.start();
    client = await PoolClient.connect({ runtimeDir: daemon.dir, deadlineMs: 10_000 });
  });

  after(async () => {
    for (const child of children) child.kill("SIGKILL");
    for (const fd of fds) closeFd(fd);
    client.close();
    await daemon.stop();
    daemon.removeDir();
  });

  function child(options: { uid?: number; gid?: number } = {}): ChildProcess {
    const c = spawn("sleep", ["60"], { stdio: "ignore", ...options });
    children.push(c);
    return c;
  }

  async function arenaWithLease(units: number): Promise<string> {
    const { arena, memfd } = await client.createMemfdArena({ sizeBytes: BigInt(units) * UNIT_BYTES, name: "handed" });
    fds.push(memfd);
    await client.allocate(arena.arenaId, { unitCount: units, label: "guest" });
    return arena.arenaId;
  }

  test("a child's pidfd: the child owns the arena and its lease; its exit frees the units", async () => {
    const arenaId = await arenaWithLease(2);
    const vmm = child();
    const pidfd = openPidfd(vmm.pid!);
    const handed = await client.handOverArena(arenaId, pidfd).finally(() => closeFd(pidfd));
    assert.equal(handed.owner.pid, vmm.pid);
    assert.ok(!(await client.listArenas()).some((a) => a.arenaId === arenaId), "the arena is still among the launcher's own");
    const [lease] = (await client.listLeases({ allOwners: true, arenaId }));
    assert.equal(lease?.owner.pid, vmm.pid);
    client.assertInvariants();

    const exited = once(vmm, "exit");
    vmm.kill("SIGKILL");
    await exited;
    const deadline = Date.now() + 5000;
    while ((await client.listArenas({ allOwners: true })).some((a) => a.arenaId === arenaId)) {
      assert.ok(Date.now() < deadline, "the VMM's exit left its arena");
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  });

  test("refused: a memfd as the pidfd, an exited process, another owner's arena", async () => {
    const arenaId = await arenaWithLease(1);
    const memfd = fds[fds.length - 1]!;
    await assert.rejects(client.handOverArena(arenaId, memfd), (e: unknown) => e instanceof InvalidArgumentError && /the fd is a shmem memfd of 2097152 bytes, not the claimed pidfd/.test(e.message));

    const gone = child();
    const pidfd = openPidfd(gone.pid!);
    fds.push(pidfd);
    const exited = once(gone, "exit");
    gone.kill("SIGKILL");
    await exited;
    await assert.rejects(client.handOverArena(arenaId, pidfd), (e: unknown) => e instanceof FailedPreconditionError && new RegExp(`has exited`).test(e.message));

    const other = await PoolClient.connect({ runtimeDir: daemon.dir, deadlineMs: 10_000 });
    try {
      // Another client of this process is the same owner; another process's arena id is what a
      // stranger sees as unknown: a made-up id answers the same way.
      const alive = child();
      const alivePidfd = openPidfd(alive.pid!);
      fds.push(alivePidfd);
      await assert.rejects(other.handOverArena("arena-000000000000", alivePidfd), (e: unknown) => e instanceof NotFoundError && /arena "arena-000000000000" does not exist/.test(e.message));
    } finally {
      other.close();
    }
    assert.equal((await client.getArena(arenaId)).owner.pid, process.pid, "a refused handover changed the owner");
  });

  test("refused: a process of another uid (as root: a child running as nobody)", { skip: process.getuid?.() === 0 ? undefined : "needs root to start a child of another uid" }, async () => {
    const arenaId = await arenaWithLease(1);
    const nobody = child({ uid: 65534, gid: 65534 });
    const pidfd = openPidfd(nobody.pid!);
    fds.push(pidfd);
    await assert.rejects(client.handOverArena(arenaId, pidfd), (e: unknown) => e instanceof PermissionDeniedError && new RegExp(`process ${nobody.pid} belongs to uid 65534; arena "${arenaId}" belongs to uid 0`).test(e.message));
  });
});
