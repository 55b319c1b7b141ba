/**
 * `npm run bench -- restart [--leases N] [--rounds R] [--variant V]...`: how long the daemon
 * takes from spawn to serving after a crash, holding N leases (default 10 000; issue 12 item 7:
 * ≤ 1 s p99), and where that time goes.
 *
 * Set-up: the real daemon (fsync on, reserve none, so it runs anywhere) and this process as the
 * VMM: 8 memfd arenas holding N one-unit leases between them, each unit discarded right after
 * it is leased (the lease stays in the books and the journal; its 2 MiB go back to the kernel,
 * so 10 000 leases do not need 20 GiB). Then R rounds of: kill -9 the daemon; spawn it again
 * on the same runtime directory (t = 0); once its api.sock exists (a stat every 1 ms), watch
 * grpc.health.v1 until SERVING (spawn → serving; `untilServing`); reattach every arena as a VMM would (SEND_FD +
 * ReattachArena) until all are ACTIVE (spawn → active). The first round replays the journal
 * the set-up wrote; later ones the snapshot that start-up compacted it to.
 *
 * Variants, alternated round by round so that they share the machine's noise:
 * - `bundle`: this checkout's `gmempool` executable (src/main/gmempool-bin.mjs), which runs the
 *   bundled entry (src/main/entry-bundle.mjs);
 * - `source`: the same with GMEMPOOL_ENTRY=source (the TypeScript through tsx);
 * - any other value: the path of another checkout's gmempool-bin.mjs (old code, side by side).
 * Default: `--variant bundle --variant source`.
 *
 * Breakdown (medians): the daemon's own start-up log marks (uptimeMs: ms since its process
 * started): module loading ends at "starting gmempool", then the sockets ("listening"), the
 * journal ("journal recovered", with journalMs its read and replay), recovery ("pool serving")
 * and "serving". A variant whose log lacks a mark (old code) shows "-".
 */
import * as grpc from "@grpc/grpc-js";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { healthPackageDefinition, UNIT_BYTES } from "@gmempool/contract";
import type { Fd } from "@gmempool/sys";
import { LinuxKernel } from "../src/kvm/linux-kernel.ts";
import { DaemonProcess } from "../src/main/testing/daemon-process.ts";
import { createArena } from "../src/main/testing/e2e-arena.ts";
import { FdChannelClient, TestClient } from "../src/main/testing/test-client.ts";
import { flagValues, formatTable, median, percentile, type Bench, type BenchResult } from "./bench.ts";
import { nodeWrapper } from "./node-wrapper.ts";

const ARENAS = 8;
const THIS_BIN = fileURLToPath(new URL("../src/main/gmempool-bin.mjs", import.meta.url));
const MARKS = ["starting gmempool", "listening", "journal recovered", "pool serving", "serving"] as const;

interface Arguments {
  readonly leases: number;
  readonly rounds: number;
  readonly variants: readonly string[];
  /** `--cpu-prof DIR`: each restarted daemon writes a V8 CPU profile there (it is then stopped with SIGTERM, which writes it, instead of being killed). */
  readonly cpuProfDir: string | undefined;
}

function parse(args: readonly string[]): Arguments {
  const value = (name: string): string | undefined => flagValues(args, name).at(-1);
  const variants = flagValues(args, "--variant");
  return { leases: Number(value("--leases") ?? 10_000), rounds: Number(value("--rounds") ?? 20), variants: variants.length > 0 ? variants : ["bundle", "source"], cpuProfDir: value("--cpu-prof") };
}

const binOf = (variant: string): string => (variant === "bundle" || variant === "source" ? THIS_BIN : variant);

function config(units: number): string {
  return ["[pool]", `capacity = "${units * 2}MiB"`, 'reserve = "none"', "[admin]", `uids = [${process.getuid?.() ?? 0}]`, "[journal]", "fsync = true"].join("\n");
}

type HealthClient = grpc.Client & { Watch(request: { service: string }): grpc.ClientReadableStream<{ status: string }> };

function healthClient(apiSocket: string): HealthClient {
  const definition = grpc.loadPackageDefinition(healthPackageDefinition()) as unknown as { grpc: { health: { v1: { Health: new (target: string, credentials: grpc.ChannelCredentials, options: grpc.ChannelOptions) => HealthClient } } } };
  // Reconnect at once: grpc-js's default backoff (1 s) would be measured, not the daemon.
  return new definition.grpc.health.v1.Health(`unix://${apiSocket}`, grpc.credentials.createInsecure(), { "grpc.initial_reconnect_backoff_ms": 2, "grpc.max_reconnect_backoff_ms": 10 });
}

/** Which file `path` is: its inode and change time (tmpfs reuses a freed inode number at once). */
const fileIdentityOf = (path: string): string | undefined => {
  const stat = statSync(path, { bigint: true, throwIfNoEntry: false });
  return stat === undefined ? undefined : `${stat.ino}:${stat.ctimeNs}`;
};

/**
 * Resolves with the time (ms since `start`) health first reports SERVING. Until the new
 * daemon's api.sock exists (a file other than `staleSocket`, the killed daemon's socket file)
 * this only stats it every millisecond; then it watches grpc.health.v1 (a Watch stream gets
 * the status and every change). Polling Check every 2 ms from the start instead — a gRPC
 * connect attempt each time — took CPU from the daemon being measured on this 2-core machine.
 */
async function untilServing(apiSocket: string, start: bigint, staleSocket: string | undefined, polling: { readonly stopped: boolean }): Promise<number> {
  while (!polling.stopped) {
    const identity = fileIdentityOf(apiSocket);
    if (identity === undefined || identity === staleSocket) {
      await new Promise((resolve) => setTimeout(resolve, 1));
      continue;
    }
    const client = healthClient(apiSocket);
    try {
      const serving = await new Promise<boolean>((resolve) => {
        const call = client.Watch({ service: "" });
        call.on("data", (m: { status: string }) => {
          if (m.status !== "SERVING") return;
          resolve(true);
          call.cancel();
        });
        call.on("error", () => resolve(false));
        call.on("end", () => resolve(false));
      });
      if (serving) return elapsedMs(start);
    } finally {
      client.close();
    }
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  return Number.NaN;
}

const elapsedMs = (start: bigint): number => Number(process.hrtime.bigint() - start) / 1e6;

/** The uptimeMs of each start-up mark in a daemon's log (JSON lines). */
function marksOf(log: readonly string[]): Map<string, number> {
  const marks = new Map<string, number>();
  for (const line of log) {
    if (!line.startsWith("{")) continue;
    const entry = JSON.parse(line) as { msg?: string; uptimeMs?: number; journalMs?: number };
    if (entry.msg === undefined || entry.uptimeMs === undefined) continue;
    if ((MARKS as readonly string[]).includes(entry.msg) && !marks.has(entry.msg)) marks.set(entry.msg, entry.uptimeMs);
    if (entry.msg === "journal recovered" && entry.journalMs !== undefined) marks.set("journalMs", entry.journalMs);
  }
  return marks;
}

interface Round {
  readonly variant: string;
  readonly servingMs: number;
  /** Spawn → its "serving" log line read here (no health polling in the way). */
  readonly loggedMs: number;
  readonly activeMs: number;
  readonly marks: Map<string, number>;
}

async function run(args: readonly string[]): Promise<BenchResult> {
  const { leases, rounds, variants, cpuProfDir } = parse(args);
  const perArena = Math.ceil(leases / ARENAS);
  const dir = mkdtempSync(join(tmpdir(), "gmempool-bench-restart-"));
  const kernel = new LinuxKernel();
  const spawnVariant = (variant: string, profile = false): Promise<DaemonProcess> =>
    DaemonProcess.start({
      config: config(perArena * ARENAS),
      dir,
      executable: profile && cpuProfDir !== undefined ? nodeWrapper(dir, ["--cpu-prof", `--cpu-prof-dir=${cpuProfDir}`], binOf(variant)) : binOf(variant),
      env: { GMEMPOOL_RUNTIME_DIR: "", GMEMPOOL_ENTRY: variant === "source" ? "source" : "" },
      logLevel: "info",
      startTimeoutMs: 120_000,
    });
  let daemon = await spawnVariant(variants[0]!);
  const arenas: { arenaId: string; memfd: Fd }[] = [];
  const results: Round[] = [];
  try {
    // ---- set-up: the leases
    let client = new TestClient({ apiSocket: daemon.paths.apiSocket });
    let channel = await FdChannelClient.connect(kernel, daemon.paths.fdSocket);
    process.stderr.write(`restart: leasing ${leases} units in ${ARENAS} arenas...\n`);
    for (let a = 0; a < ARENAS; a += 1) {
      const { arenaId, fds } = await createArena(kernel, client, channel, "memfd", perArena, `bench-${a}`);
      arenas.push({ arenaId, memfd: fds[0]! });
    }
    await Promise.all(
      arenas.map(async ({ arenaId }, a) => {
        const count = Math.min(perArena, leases - a * perArena);
        for (let i = 0; i < count; i += 1) {
          const { lease } = await client.call("Allocate", { arenaId, unitCount: 1, label: `l${i}` });
          await client.call("Discard", { arenaId, offsetBytes: lease!.offsetBytes, lengthBytes: String(UNIT_BYTES) });
        }
      }),
    );
    const status = await client.call("GetPoolStatus", {});
    process.stderr.write(`restart: ${status.status!.leaseCount} leases; ${rounds} rounds of kill -9 and restart (${variants.join(", ")})\n`);
    client.close();
    channel.close();

    // ---- rounds
    for (let r = 0; r < rounds; r += 1) {
      const variant = variants[r % variants.length]!;
      await daemon.kill();
      const staleSocket = fileIdentityOf(daemon.paths.apiSocket);
      const start = process.hrtime.bigint();
      let loggedMs = 0;
      const starting = spawnVariant(variant, true).then((d) => {
        loggedMs = elapsedMs(start);
        return d;
      });
      // A daemon that never serves ends the round with its start-up error (not a poll forever).
      const polling = { stopped: false };
      const servingMs = await Promise.race([untilServing(daemon.paths.apiSocket, start, staleSocket, polling), starting.then(() => new Promise<never>(() => undefined))]).finally(() => (polling.stopped = true));
      daemon = await starting;
      client = new TestClient({ apiSocket: daemon.paths.apiSocket });
      channel = await FdChannelClient.connect(kernel, daemon.paths.fdSocket);
      for (const { arenaId, memfd } of arenas) {
        const memfdFdToken = await channel.sendFdToken(memfd, "MEMFD_SHMEM");
        await client.call("ReattachArena", { arenaId, memfdFdToken });
      }
      const activeMs = elapsedMs(start);
      client.close();
      channel.close();
      results.push({ variant, servingMs, loggedMs, activeMs, marks: marksOf(daemon.log) });
      if (cpuProfDir !== undefined) {
        // SIGTERM writes the profile; the next round's daemon is spawned (unprofiled) to be killed.
        await daemon.stop();
        daemon = await spawnVariant(variant);
      }
      process.stderr.write(`  round ${r + 1} ${variant}: serving ${servingMs.toFixed(0)} ms, active ${activeMs.toFixed(0)} ms\n`);
    }
  } finally {
    await daemon.kill();
    for (const { memfd } of arenas) kernel.close(memfd);
    kernel.release();
    rmSync(dir, { recursive: true, force: true });
  }
  return report(leases, results, variants);
}

function report(leases: number, results: readonly Round[], variants: readonly string[]): BenchResult {
  const fmt = (values: readonly number[], p?: number): string => (values.length === 0 ? "-" : (p === undefined ? median(values) : percentile(values, p)).toFixed(0));
  const json: Record<string, unknown> = { leases, rounds: results.length };
  const rows: string[][] = [["variant", "rounds", "serving p50", "serving p99", "logged p50", "logged p99", "active p50", "active p99", ...MARKS.map((m) => `${m} (p50)`), "journal read (p50)"]];
  for (const variant of variants) {
    const mine = results.filter((r) => r.variant === variant);
    const serving = mine.map((r) => r.servingMs);
    const logged = mine.map((r) => r.loggedMs);
    const active = mine.map((r) => r.activeMs);
    const mark = (name: string): number[] => mine.flatMap((r) => (r.marks.has(name) ? [r.marks.get(name)!] : []));
    json[variant] = {
      servingP50Ms: median(serving),
      servingP99Ms: percentile(serving, 99),
      loggedP50Ms: median(logged),
      loggedP99Ms: percentile(logged, 99),
      activeP50Ms: median(active),
      activeP99Ms: percentile(active, 99),
      marksP50Ms: Object.fromEntries([...MARKS, "journalMs"].map((m) => [m, mark(m).length === 0 ? null : median(mark(m))])),
    };
    rows.push([variant, String(mine.length), fmt(serving), fmt(serving, 99), fmt(logged), fmt(logged, 99), fmt(active), fmt(active, 99), ...MARKS.map((m) => fmt(mark(m))), fmt(mark("journalMs"))]);
  }
  return { json, table: [`restart after kill -9 with ${leases} leases (ms; marks are the daemon's own uptime at each start-up log line)`, ...formatTable(rows)] };
}

export const bench: Bench = { name: "restart", summary: "spawn → serving p50/p99 after kill -9 with 10 k leases, and where start-up goes", run };
