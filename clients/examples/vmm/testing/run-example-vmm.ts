/**
 * For the example VMM's tests: runs example-vmm.ts as a child process (as a user would, through
 * tsx from the repository root) and collects its output; and asks the daemon, through a client
 * of the test's own, whether every unit is back.
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import { PoolClient } from "../../../node/src/pool-client.ts";
import assert from "node:assert/strict";
import { REPO_ROOT } from "../../../node/src/testing/spawned-daemon.ts";
import type { VmmSummary } from "../vmm-summary.ts";

export const EXAMPLE_VMM = fileURLToPath(new URL("../example-vmm.ts", import.meta.url));

export interface VmmRun {
  readonly status: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the example VMM with `args` to its exit; SIGKILLs it after `timeoutMs` (and says so). */
export async function runExampleVmm(args: readonly string[], timeoutMs = 120_000): Promise<VmmRun> {
  const child = spawn(process.execPath, ["--import", "tsx", EXAMPLE_VMM, ...args], { cwd: REPO_ROOT, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  const exited = once(child, "close") as Promise<[number | null, NodeJS.Signals | null]>;
  const timer = setTimeout(() => {
    stderr += `\n[test] the example VMM did not exit within ${timeoutMs} ms: SIGKILL\n`;
    child.kill("SIGKILL");
  }, timeoutMs);
  try {
    const [status, signal] = await exited;
    return { status, signal, stdout, stderr };
  } finally {
    clearTimeout(timer);
  }
}

/** A value as JSON.parse gives it back from summaryJson: bigints are decimal strings. */
export type Json<T> = T extends bigint
  ? string
  : T extends readonly (infer E)[]
    ? Json<E>[]
    : T extends object
      ? { [K in keyof T]: Json<T[K]> }
      : T;

/** The --json summary of `run`: exactly one line on stdout. */
export function summaryOf(run: VmmRun): Json<VmmSummary> {
  const context = `status ${run.status}\nstdout:\n${run.stdout}\nstderr:\n${run.stderr}`;
  const lines = run.stdout.trim().split("\n");
  assert.equal(lines.length, 1, `--json prints exactly one line on stdout\n${context}`);
  return JSON.parse(lines[0]!) as Json<VmmSummary>;
}

export interface PoolAccount {
  readonly capacityUnitCount: number;
  readonly freeUnitCount: number;
  readonly leasedUnitCount: number;
  readonly claimedUnitCount: number;
  /** Every owner's (the test's uid is the spawned daemon's admin). */
  readonly arenaCount: number;
  readonly leaseCount: number;
}

/** The pool as a second client sees it: after a clean VMM run, free = capacity and nothing is held. */
export async function poolAccount(runtimeDir: string): Promise<PoolAccount> {
  const client = await PoolClient.connect({ runtimeDir });
  try {
    const [status, arenas, leases] = await Promise.all([client.getPoolStatus(), client.listArenas({ allOwners: true }), client.listLeases({ allOwners: true })]);
    return {
      capacityUnitCount: status.capacityUnitCount,
      freeUnitCount: status.freeUnitCount,
      leasedUnitCount: status.leasedUnitCount,
      claimedUnitCount: status.claimedUnitCount,
      arenaCount: arenas.length,
      leaseCount: leases.length,
    };
  } finally {
    client.close();
  }
}

/** What poolAccount must say when every unit is back in a pool of `capacityUnitCount`. */
export const wholePool = (capacityUnitCount: number): PoolAccount => ({
  capacityUnitCount,
  freeUnitCount: capacityUnitCount,
  leasedUnitCount: 0,
  claimedUnitCount: 0,
  arenaCount: 0,
  leaseCount: 0,
});
