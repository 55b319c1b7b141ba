/**
 * `gmempool run`'s process work, on the client library's `Pool` only. The launcher contract
 * (docs/api.md "Launching a VMM"), in this order:
 *
 *   1. create a memfd arena of `--memory` and one lease of all of it (populated by the daemon);
 *   2. spawn the VMM with the memfd as its fd 3 — Node's fds are close-on-exec, but a `stdio`
 *      entry is dup2'ed into the child (libuv uv__process_child_init), and dup2 clears
 *      FD_CLOEXEC on the new fd; stdin, stdout and stderr are inherited the same way;
 *   3. open the VMM's pidfd in the same tick as the spawn (Node reaps children on the event
 *      loop, so the pid cannot have been reaped and reused yet) and hand the arena over to it:
 *      from then on the arena lives while the VMM does, and its exit frees the units;
 *   4. only then may the launcher go: killing it (even kill -9) leaves the guest's memory alone.
 *
 * SIGINT and SIGTERM are forwarded to the VMM; the launcher exits with the VMM's status. If the
 * handover fails the VMM is killed and the arena deleted: a guest must never run on memory its
 * launcher's death would punch.
 *
 * Ownership: the memfd the daemon delivered and the pidfd are the launcher's and are closed
 * here once the VMM has its copy and the daemon its own.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { closeFd, openPidfd } from "../../node/src/pidfd.ts";
import type { Pool } from "../../node/src/pool.ts";
import type { Arena, Lease, MemfdBacking } from "../../node/src/resources.ts";
import { formatBytes, UNIT_BYTES } from "../../node/src/units.ts";
import type { CliIo } from "../cli-io.ts";
import { vmmExitStatus, type VmmExitStatus } from "../exit-codes.ts";
import { VMM_MEMFD_FD, vmmMemoryArgs } from "./vmm-memory-args.ts";

export interface LaunchRequest {
  readonly sizeBytes: bigint;
  readonly backing: MemfdBacking;
  /** The lease's label and the arena's name (default: the VMM program's name). */
  readonly label: string;
  readonly program: string;
  /** The VMM's arguments as given; the memfd is placed by `vmmMemoryArgs`. */
  readonly args: readonly string[];
}

/** What the launch did, before the VMM's exit. */
export interface Launched {
  readonly arena: Arena;
  readonly lease: Lease;
  readonly vmmPid: number;
  /** The VMM's exit status. */
  readonly exited: Promise<VmmExitStatus>;
}

/** The status a shell gives a command it could not execute. */
const EXIT_NOT_EXECUTED = 127 as VmmExitStatus;

/** Spawns the VMM with `memfd` (borrowed) as its fd VMM_MEMFD_FD; resolves once it runs (or rejects: ENOENT, EACCES). */
async function spawnVmm(program: string, args: readonly string[], memfd: number): Promise<ChildProcess> {
  const stdio: (number | "inherit")[] = ["inherit", "inherit", "inherit"];
  stdio[VMM_MEMFD_FD] = memfd;
  const child = spawn(program, args, { stdio });
  if (child.pid === undefined) {
    const [error] = (await once(child, "error")) as [Error];
    throw error;
  }
  return child;
}

/** Runs steps 1–3; the caller waits for `exited`. Rejects (with nothing left behind) when a step fails. */
export async function launchVmm(pool: Pool, request: LaunchRequest, io: CliIo): Promise<Launched> {
  const args = vmmMemoryArgs(request.program, request.args, request.sizeBytes);
  const { arena, memfd } = await pool.createMemfdArena({ sizeBytes: request.sizeBytes, backing: request.backing, name: request.label });
  let child: ChildProcess | undefined;
  try {
    const lease = await pool.allocate(arena.arenaId, { unitCount: Number(request.sizeBytes / UNIT_BYTES), label: request.label });
    child = await spawnVmm(request.program, args, memfd);
    const exit = once(child, "exit") as Promise<[number | null, NodeJS.Signals | null]>;
    const vmmPid = child.pid!;
    const pidfd = openPidfd(vmmPid);
    let handed: Arena;
    try {
      handed = await pool.handOverArena(arena.arenaId, pidfd);
    } finally {
      closeFd(pidfd);
    }
    const vmm = child;
    const stopForwarding = io.onSignals((signal) => vmm.kill(signal));
    io.stderr.write(`gmempool run: arena ${arena.arenaId} (${formatBytes(request.sizeBytes)}, lease ${lease.leaseId}) is owned by ${request.program} (pid ${vmmPid}) from now on\n`);
    const exited = exit.then(([code, signal]) => {
      stopForwarding();
      return vmmExitStatus(code, signal);
    });
    return { arena: handed, lease, vmmPid, exited };
  } catch (error) {
    // The launcher still owns the arena: nothing may run on it once the launcher is gone.
    if (child?.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      const gone = once(child, "exit");
      child.kill("SIGKILL");
      await gone;
    }
    await pool.deleteArena(arena.arenaId, { releaseLeases: true }).catch(() => undefined);
    throw error;
  } finally {
    closeFd(memfd);
  }
}

export { EXIT_NOT_EXECUTED };
