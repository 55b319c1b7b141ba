/**
 * `npm run demo`: gmempool at work, for a newcomer who just ran `npm start`. It shows the pool as
 * the operator CLI sees it (status and fragmentation map), runs the example VMM — a real guest on
 * guest_memfd where /dev/kvm is usable, else the memfd-only VMM — and shows the pool again while
 * the VMM holds its memory (leases, a deferred sub-unit discard, a unit given back) and after it
 * has gone (every unit back).
 *
 *   npm run demo [-- --runtime-dir DIR] [-- --no-kvm]
 *
 * It finds the daemon as the CLI does (--runtime-dir, $GMEMPOOL_RUNTIME_DIR, the daemon's
 * default). Without a daemon there it starts a private one in a temporary directory (embedded
 * default) and stops it at the end. It only runs the CLI and the example VMM as processes, as a
 * user would type them.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { PoolClient } from "../node/src/pool-client.ts";
import { UnavailableError } from "../node/src/pool-errors.ts";
import { defaultRuntimeDir } from "../node/src/runtime-dir.ts";
import { HOLD_MARKER } from "./vmm/cli-args.ts";

const REPO = fileURLToPath(new URL("../../", import.meta.url));
const GMEMPOOL = join(REPO, "src/main/gmempool-bin.mjs");
const VMM = join(REPO, "clients/examples/vmm/example-vmm.ts");
const DAEMON_START_TIMEOUT_MS = 60_000;

function section(title: string): void {
  process.stdout.write(`\n━━━ ${title} ${"━".repeat(Math.max(3, 74 - title.length))}\n\n`);
}

/** Runs `gmempool ARGS --runtime-dir DIR` with the terminal (colours when it is one); its exit code. */
async function gmempool(runtimeDir: string, ...args: string[]): Promise<number> {
  process.stdout.write(`$ gmempool ${args.join(" ")}\n`);
  const child = spawn(process.execPath, [GMEMPOOL, ...args, "--runtime-dir", runtimeDir], { cwd: REPO, stdio: "inherit" });
  const [code] = (await once(child, "exit")) as [number | null];
  return code ?? 1;
}

/** The pool as an operator sees it: status, then the map of every owner's arenas (admin) or the reserve. */
async function showPool(runtimeDir: string): Promise<void> {
  await gmempool(runtimeDir, "status");
  process.stdout.write("\n");
  // --all needs the admin identity; without it the map still shows the reserve.
  if ((await gmempool(runtimeDir, "frag", "--all")) === 1) await gmempool(runtimeDir, "frag");
}

async function daemonAnswers(runtimeDir: string): Promise<boolean> {
  try {
    const client = await PoolClient.connect({ runtimeDir, autoReattach: false, deadlineMs: 3000 });
    client.close();
    return true;
  } catch (error) {
    if (error instanceof UnavailableError) return false;
    throw error;
  }
}

/** A daemon of our own on the embedded default, for when none runs; stopped by the caller. */
async function startPrivateDaemon(runtimeDir: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, [GMEMPOOL, "serve", "--runtime-dir", runtimeDir, "--log-level", "warn"], { cwd: REPO, stdio: ["ignore", "ignore", "inherit"] });
  const start = performance.now();
  while (!(await daemonAnswers(runtimeDir))) {
    if (child.exitCode !== null) throw new Error(`the private daemon exited with ${child.exitCode}`);
    if (performance.now() - start > DAEMON_START_TIMEOUT_MS) throw new Error(`the private daemon did not answer within ${DAEMON_START_TIMEOUT_MS} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return child;
}

/** Runs the example VMM with --hold; `whileHeld` runs when it holds its memory. Its exit code. */
async function runVmm(runtimeDir: string, noKvm: boolean, whileHeld: () => Promise<void>): Promise<number> {
  const args = ["--import", "tsx", VMM, "--runtime-dir", runtimeDir, "--hold", ...(noKvm ? ["--no-kvm"] : [])];
  const vmm = spawn(process.execPath, args, { cwd: REPO, stdio: ["pipe", "pipe", "inherit"] });
  const exited = once(vmm, "exit") as Promise<[number | null]>;
  let held: Promise<void> | undefined;
  for await (const line of createInterface({ input: vmm.stdout })) {
    process.stdout.write(`  vmm │ ${line}\n`);
    if (held === undefined && line.includes(HOLD_MARKER)) {
      held = whileHeld().finally(() => {
        section("the example VMM tears down");
        vmm.stdin.end();
      });
    }
  }
  await held;
  const [code] = await exited;
  return code ?? 1;
}

async function main(): Promise<number> {
  const { values } = parseArgs({ options: { "runtime-dir": { type: "string" }, "no-kvm": { type: "boolean", default: false } } });
  let runtimeDir = defaultRuntimeDir(values["runtime-dir"]);
  let privateDaemon: ChildProcess | undefined;
  let privateDir: string | undefined;
  if (!(await daemonAnswers(runtimeDir))) {
    privateDir = mkdtempSync(join(tmpdir(), "gmempool-demo-"));
    process.stdout.write(`No gmempool daemon answers in ${runtimeDir} (start one with \`npm start\`).\nStarting a private one in ${privateDir} for this demo.\n`);
    runtimeDir = privateDir;
    privateDaemon = await startPrivateDaemon(runtimeDir);
  }
  try {
    section("before: the pool as the operator sees it");
    await showPool(runtimeDir);
    section("the example VMM: create, register, allocate, run, hot-plug, discard, convert");
    const code = await runVmm(runtimeDir, values["no-kvm"], async () => {
      section("while the example VMM holds its memory");
      await gmempool(runtimeDir, "leases", "--all");
      process.stdout.write("\n");
      await showPool(runtimeDir);
    });
    section("after: the VMM is gone, every unit is back");
    await showPool(runtimeDir);
    process.stdout.write(`\nThe example VMM exited with ${code}${code === 0 ? " (every check passed)" : ""}.\n`);
    return code;
  } finally {
    if (privateDaemon !== undefined) {
      privateDaemon.kill("SIGTERM");
      if (privateDaemon.exitCode === null) await once(privateDaemon, "exit");
    }
    if (privateDir !== undefined) rmSync(privateDir, { recursive: true, force: true });
  }
}

process.exitCode = await main();
