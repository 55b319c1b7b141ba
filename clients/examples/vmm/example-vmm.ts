/**
 * The example VMM: a small but real VMM on gmempool. Start the daemon (`npm start`), then
 *
 *   node --import tsx clients/examples/vmm/example-vmm.ts [--runtime-dir DIR] [--memory 64MiB] [--no-kvm] [--hold] [--json]
 *
 * With a usable /dev/kvm it runs a guest on memory the daemon manages (kvm-vmm.ts); without one,
 * or with --no-kvm, it does everything but run a guest (memfd-vmm.ts). It prints each step and
 * what it checked; with --json the steps go to stderr and stdout gets one JSON summary
 * (vmm-summary.ts). Exit status: 0 if every check passed, 1 if one failed or a step threw (the
 * teardown still ran), 2 for a bad command line.
 *
 * If the VMM is killed instead, nothing leaks: the daemon watches the process and takes its
 * arenas and leases back when it exits.
 */
import { PoolClient } from "../../node/src/pool-client.ts";
import { isPoolError } from "../../node/src/pool-errors.ts";
import { formatBytes } from "../../node/src/units.ts";
import { CleanupStack } from "./cleanup-stack.ts";
import { HOLD_MARKER, parseVmmArgs, USAGE, UsageError, type VmmOptions } from "./cli-args.ts";
import { KVM_DEVICE, kvmUnavailableReason } from "@gmempool/sys";
import { runKvmVmm } from "./kvm-vmm.ts";
import { runMemfdVmm } from "./memfd-vmm.ts";
import { planMemory, type MemoryPlan } from "./memory-plan.ts";
import { StepLog } from "./step-log.ts";
import { newSummary, summaryJson, type VmmSummary } from "./vmm-summary.ts";

function describeError(error: unknown): string {
  if (isPoolError(error)) return `${error.name} (${error.kind}): ${error.message}`;
  return error instanceof Error ? error.message : String(error);
}

/** The daemon's view after the teardown: nothing of this VMM's left. */
async function checkNothingLeft(pool: PoolClient, log: StepLog): Promise<void> {
  log.step("ask the daemon what this VMM still holds");
  const [arenas, leases, status] = await Promise.all([pool.listArenas(), pool.listLeases(), pool.getPoolStatus()]);
  log.check("nothing-left", arenas.length === 0 && leases.length === 0, `${arenas.length} arenas, ${leases.length} leases`);
  log.note(`the pool: ${status.freeUnitCount} of ${status.capacityUnitCount} units free`);
}

/** --hold: everything stays as it is until stdin ends or SIGUSR1 arrives. */
async function holdUntilReleased(log: StepLog): Promise<void> {
  log.step(`${HOLD_MARKER}: close stdin (Ctrl-D) or send SIGUSR1 (pid ${process.pid}) to go on`);
  await new Promise<void>((resolve) => {
    const done = (): void => {
      process.stdin.off("end", done);
      process.off("SIGUSR1", done);
      process.stdin.pause();
      resolve();
    };
    process.once("SIGUSR1", done);
    process.stdin.once("end", done);
    process.stdin.resume();
  });
}

async function run(options: VmmOptions, plan: MemoryPlan, log: StepLog): Promise<VmmSummary> {
  const unavailable = options.noKvm ? "--no-kvm" : kvmUnavailableReason();
  const summary = newSummary(unavailable === undefined ? "kvm" : "memfd", unavailable ?? `${KVM_DEVICE} is usable`, options.runtimeDir, options.memoryBytes);
  log.step(`example VMM "${options.name}": ${formatBytes(plan.arenaBytes)} of guest memory, ${summary.mode === "kvm" ? "KVM mode" : `memfd-only mode (${summary.modeReason})`}`);
  const cleanup = new CleanupStack();
  let pool: PoolClient | undefined;
  try {
    pool = await PoolClient.connect(options.runtimeDir === undefined ? {} : { runtimeDir: options.runtimeDir });
    log.note(`connected to the daemon${options.runtimeDir === undefined ? "" : ` in ${options.runtimeDir}`}`);
    const context = { pool, log, summary, cleanup, plan, name: options.name };
    await (summary.mode === "kvm" ? runKvmVmm(context) : runMemfdVmm(context));
    if (options.hold) await holdUntilReleased(log);
  } catch (error) {
    summary.error = describeError(error);
    log.note(`ERROR: ${summary.error}`);
  }
  if (cleanup.size > 0) {
    log.step("tear down, in reverse order of set-up");
    await cleanup.unwind((name, error) => log.check(`teardown: ${name}`, false, describeError(error)));
  }
  if (pool !== undefined) {
    try {
      await checkNothingLeft(pool, log);
    } catch (error) {
      summary.error ??= describeError(error);
      log.note(`ERROR: ${describeError(error)}`);
    } finally {
      pool.close();
    }
  }
  summary.checks = log.checks;
  summary.ok = summary.error === undefined && log.allChecksPassed;
  const failed = log.checks.filter((c) => !c.ok).map((c) => c.name);
  log.step(summary.ok ? `done: all ${log.checks.length} checks passed` : `done: FAILED${failed.length > 0 ? ` (${failed.join(", ")})` : ""}${summary.error === undefined ? "" : `: ${summary.error}`}`);
  return summary;
}

async function main(argv: readonly string[]): Promise<number> {
  let options: VmmOptions;
  let plan: MemoryPlan;
  try {
    options = parseVmmArgs(argv);
    if (options.help) {
      process.stdout.write(`${USAGE}\n`);
      return 0;
    }
    plan = planMemory(options.memoryBytes);
  } catch (error) {
    if (!(error instanceof UsageError) && !(error instanceof RangeError)) throw error;
    process.stderr.write(`example-vmm: ${error.message}\n\n${USAGE}\n`);
    return 2;
  }
  const json = options.json;
  const log = new StepLog((line) => (json ? process.stderr : process.stdout).write(`${line}\n`));
  const summary = await run(options, plan, log);
  if (json) process.stdout.write(`${summaryJson(summary)}\n`);
  return summary.ok ? 0 : 1;
}

process.exitCode = await main(process.argv.slice(2));
