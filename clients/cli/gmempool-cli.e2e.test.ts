// The CLI end to end: the real daemon (SpawnedDaemon: `gmempool serve`, reserve none, memfd
// arenas, this uid as admin) in a temporary runtime directory, state made through the client
// library (PoolClient), and the CLI run as its own process through the `gmempool` executable,
// exactly as an operator runs it. Every daemon, CLI process and temp dir is cleaned up.
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { PoolClient } from "../node/src/pool-client.ts";
import { NotFoundError } from "../node/src/pool-errors.ts";
import type { Lease } from "../node/src/resources.ts";
import { GMEMPOOL_BIN, REPO_ROOT, SpawnedDaemon } from "../node/src/testing/spawned-daemon.ts";
import { EXIT_OK, EXIT_REFUSED, EXIT_UNAVAILABLE, EXIT_USAGE } from "./exit-codes.ts";
import { toJson } from "./json-output.ts";
import { assertWellFormedXml } from "./testing/assert-well-formed-xml.ts";

const CLI_TIMEOUT_MS = 60_000;

interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

const running = new Set<ChildProcess>();

function startCli(args: readonly string[]): ChildProcess {
  const child = spawn(process.execPath, [GMEMPOOL_BIN, ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, GMEMPOOL_RUNTIME_DIR: "", NO_COLOR: "" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  running.add(child);
  child.on("exit", () => running.delete(child));
  return child;
}

/** Runs `gmempool ARGS` to completion (killed after CLI_TIMEOUT_MS). */
function gmempool(...args: string[]): Promise<CliResult> {
  const child = startCli(args);
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (chunk: Buffer) => (stdout += chunk.toString("utf8")));
  child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")));
  const timer = setTimeout(() => child.kill("SIGKILL"), CLI_TIMEOUT_MS);
  return new Promise((resolve) => {
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

function parseJson(result: CliResult): unknown {
  assert.equal(result.code, EXIT_OK, `exit ${result.code}: ${result.stderr}`);
  return JSON.parse(result.stdout);
}

/** The client library's object as the CLI prints it in --json (bigints as strings). */
function asCliJson(value: unknown): unknown {
  return JSON.parse(toJson(value));
}

describe("gmempool CLI against the real daemon", () => {
  let daemon: SpawnedDaemon;
  let client: PoolClient;
  const tempDirs: string[] = [];
  const memfds: number[] = [];

  before(async () => {
    daemon = await SpawnedDaemon.start();
    client = await PoolClient.connect({ runtimeDir: daemon.dir, deadlineMs: 10_000 });
  });

  after(async () => {
    for (const child of running) child.kill("SIGKILL");
    client.close();
    for (const fd of memfds) closeSync(fd);
    await daemon.stop();
    daemon.removeDir();
    for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
  });

  /** A memfd arena of `unitCount` units with one lease of `leaseUnits` units, made by this
   * process (so the CLI, another process, sees it only with --all or by id). */
  async function arenaWithLease(name: string, unitCount: number, leaseUnits: number): Promise<{ arenaId: string; lease: Lease }> {
    const { arena, memfd } = await client.createMemfdArena({ sizeBytes: BigInt(unitCount) * (2n << 20n), name });
    memfds.push(memfd);
    const lease = await client.allocate(arena.arenaId, { unitCount: leaseUnits, label: `${name}-boot`, offsetBytes: 2n << 20n });
    return { arenaId: arena.arenaId, lease };
  }

  test("status --json reports the daemon's capacity, counts and capabilities", async () => {
    const status = await client.getPoolStatus();
    const json = parseJson(await gmempool("status", "--runtime-dir", daemon.dir, "--json")) as { status: Record<string, unknown>; capabilities: Record<string, unknown>; policy: { poolPolicy: Record<string, unknown> } };
    assert.equal(json.status["capacityUnitCount"], 128);
    assert.equal(json.status["capacityUnitCount"], status.capacityUnitCount);
    assert.equal(json.status["servingState"], "serving");
    assert.equal(json.status["reserveMode"], "none");
    assert.equal(json.capabilities["callerIsAdmin"], true);
    assert.equal(json.capabilities["unitBytes"], "2097152");
    assert.equal(json.policy.poolPolicy["discardPolicy"], "defer");
  });

  test("status in words: capacity, free and leased units", async () => {
    const result = await gmempool("status", "--runtime-dir", daemon.dir);
    assert.equal(result.code, EXIT_OK, result.stderr);
    assert.match(result.stdout, /^ {2}capacity +128 units \(256 MiB\)$/m);
    assert.match(result.stdout, /^ {2}free +\d+ units/m);
  });

  test("arenas, leases and frag --json show what a client made, as the client library reports it", async () => {
    const { arenaId, lease } = await arenaWithLease("vm-json", 16, 4);
    await client.discard(arenaId, { offsetBytes: lease.offsetBytes, lengthBytes: 4096n });
    try {
      const arenas = parseJson(await gmempool("arenas", "--all", "--json", "--runtime-dir", daemon.dir)) as Record<string, unknown>[];
      const arena = arenas.find((a) => a["arenaId"] === arenaId);
      assert.ok(arena !== undefined, `arena ${arenaId} in ${JSON.stringify(arenas)}`);
      assert.deepEqual(arena, asCliJson(await client.getArena(arenaId)));
      assert.equal(arena["leasedUnitCount"], 4);
      assert.equal(arena["deferredBytes"], "4096");

      const leases = parseJson(await gmempool("leases", "--arena", arenaId, "--json", "--runtime-dir", daemon.dir)) as Record<string, unknown>[];
      assert.deepEqual(leases, [asCliJson(await client.getLease(lease.leaseId))]);
      assert.equal(leases[0]!["offsetBytes"], "2097152");
      assert.equal(leases[0]!["label"], "vm-json-boot");

      const map = parseJson(await gmempool("frag", "--arena", arenaId, "--json", "--runtime-dir", daemon.dir)) as { arenas: unknown[]; reserve: unknown };
      const expected = await client.getFragmentationMap({ arenaId });
      assert.deepEqual(map.arenas, asCliJson(expected.arenas));
      assert.deepEqual(map.reserve, asCliJson(expected.reserve));
    } finally {
      await client.deleteArena(arenaId, { releaseLeases: true });
    }
  });

  test("without --all the CLI (a process owning no arena) lists none and says how to see them", async () => {
    const { arenaId } = await arenaWithLease("vm-own", 4, 1);
    try {
      const result = await gmempool("arenas", "--runtime-dir", daemon.dir);
      assert.equal(result.code, EXIT_OK, result.stderr);
      assert.equal(result.stdout, "no arenas\n");
      assert.match(result.stderr, /--all/);
    } finally {
      await client.deleteArena(arenaId, { releaseLeases: true });
    }
  });

  test("frag prints a plain heatmap when piped, and --svg writes a well-formed picture with a rect per run", async () => {
    const { arenaId, lease } = await arenaWithLease("vm-frag", 8, 4);
    const dir = mkdtempSync(join(tmpdir(), "gmempool-cli-svg-"));
    tempDirs.push(dir);
    const svgPath = join(dir, "frag.svg");
    try {
      await client.discard(arenaId, { offsetBytes: lease.offsetBytes + (2n << 20n), lengthBytes: 2n << 20n });
      const result = await gmempool("frag", "--arena", arenaId, "--svg", svgPath, "--runtime-dir", daemon.dir);
      assert.equal(result.code, EXIT_OK, result.stderr);
      // Unit 0 free, lease on units 1-4 with unit 2 discarded whole, units 5-7 free.
      // The heading names the arena, its kind and owner (this client); the leases line its label.
      assert.match(result.stdout, new RegExp(`^(arena )?${arenaId} "vm-frag" memfd shmem, pid ${process.pid} uid ${process.getuid!()}: `, "m"));
      assert.match(result.stdout, new RegExp(`^ {2}leases: ${lease.leaseId} "vm-frag-boot" 1–4$`, "m"));
      assert.match(result.stdout, /^ {2}0 \.#_##\.\.\.$/m);
      assert.match(result.stdout, /^legend: \. free {2}# leased/m);
      assert.ok(!result.stdout.includes("\x1b"), "no colour when stdout is not a terminal");
      assert.match(result.stderr, /SVG written to/);

      assert.ok(existsSync(svgPath));
      const svg = readFileSync(svgPath, "utf8");
      assertWellFormedXml(svg);
      const { arenas } = await client.getFragmentationMap({ arenaId });
      const runs = arenas[0]!.runs;
      assert.equal(svg.match(/<rect class="run"/g)?.length, runs.length);
      assert.match(svg, /<title>gmempool fragmentation map at /);
      assert.ok(svg.includes(`lease ${lease.leaseId} &quot;vm-frag-boot&quot;</title>`), "run tooltips carry the label");
    } finally {
      await client.deleteArena(arenaId, { releaseLeases: true });
    }
  });

  test("release --lease takes the lease back (exit 0); the client then finds it gone", async () => {
    const { arenaId, lease } = await arenaWithLease("vm-release", 8, 2);
    try {
      const json = parseJson(await gmempool("release", "--lease", lease.leaseId, "--json", "--runtime-dir", daemon.dir)) as Record<string, unknown>;
      assert.deepEqual(json, { releasedLeaseCount: 1, deletedArenaCount: 0, releasedUnitCount: 2 });
      await assert.rejects(client.getLease(lease.leaseId), NotFoundError);
    } finally {
      await client.deleteArena(arenaId, { releaseLeases: true });
    }
  });

  test("a refused request exits 1 with the kind and the daemon's message", async () => {
    const result = await gmempool("release", "--lease", "lease-does-not-exist", "--runtime-dir", daemon.dir);
    assert.equal(result.code, EXIT_REFUSED);
    assert.match(result.stderr, /refused .*not-found: .*lease-does-not-exist/);
    assert.equal(result.stdout, "");
  });

  test("a bad flag exits 2 and names it", async () => {
    const result = await gmempool("leases", "--arean", "x", "--runtime-dir", daemon.dir);
    assert.equal(result.code, EXIT_USAGE);
    assert.match(result.stderr, /unknown option '--arean'/);
  });

  test("policy set, then policy get shows it", async () => {
    try {
      const set = parseJson(await gmempool("policy", "set", "--discard", "zero", "--deferred-cap", "512MiB", "--overflow", "zero", "--json", "--runtime-dir", daemon.dir)) as { poolPolicy: Record<string, unknown> };
      assert.deepEqual(set.poolPolicy, { discardPolicy: "zero", punchGranularityBytes: "2097152", deferredCapBytes: String(512n << 20n), deferredOverflowPolicy: "zero" });
      const get = await gmempool("policy", "get", "--runtime-dir", daemon.dir);
      assert.equal(get.code, EXIT_OK, get.stderr);
      assert.match(get.stdout, /^ {2}discard +zero$/m);
      assert.match(get.stdout, /^ {2}deferred cap +512 MiB$/m);
      assert.match(get.stdout, /^ {2}deferred overflow +zero$/m);
      assert.equal((await client.getPolicy()).poolPolicy.discardPolicy, "zero");
    } finally {
      await client.setPolicy({ discardPolicy: "defer", deferredCapBytes: 1n << 30n, deferredOverflowPolicy: "reject" });
    }
  });

  test("an invalid granularity is the daemon's refusal: exit 1 with its message", async () => {
    const result = await gmempool("policy", "set", "--granularity", "3MiB", "--runtime-dir", daemon.dir);
    assert.equal(result.code, EXIT_REFUSED);
    assert.match(result.stderr, /invalid-argument: .*granularity/);
  });

  test("watch --json prints one event per line until Ctrl-C (exit 0)", async () => {
    const { arenaId } = await arenaWithLease("vm-watch", 8, 1);
    const child = startCli(["watch", "--all", "--json", "--kind", "lease-allocated", "--runtime-dir", daemon.dir]);
    let stdout = "";
    let stderr = "";
    const lines = (): Record<string, unknown>[] =>
      stdout
        .split("\n")
        .filter((line) => line !== "")
        .map((line) => JSON.parse(line) as Record<string, unknown>);
    const waitFor = async (done: () => boolean, what: string): Promise<void> => {
      const deadline = Date.now() + CLI_TIMEOUT_MS;
      while (!done()) {
        if (Date.now() > deadline || child.exitCode !== null) assert.fail(`${what}; stdout ${stdout}; stderr ${stderr}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    };
    const exited = new Promise<number | null>((resolve) => child.on("close", resolve));
    child.stdout!.on("data", (chunk: Buffer) => (stdout += chunk.toString("utf8")));
    child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")));
    try {
      await waitFor(() => lines().length >= 1, "the first event (pool-status)");
      assert.equal(lines()[0]!["kind"], "pool-status");
      const lease = await client.allocate(arenaId, { unitCount: 2, label: "watched" });
      await waitFor(() => lines().some((e) => e["kind"] === "lease-allocated"), "the lease-allocated event");
      const event = lines().find((e) => e["kind"] === "lease-allocated")!;
      assert.deepEqual(event["lease"], asCliJson(lease));
      assert.equal(typeof event["sequence"], "string");
      child.kill("SIGINT");
      assert.equal(await exited, EXIT_OK, stderr);
    } finally {
      child.kill("SIGKILL");
      await client.deleteArena(arenaId, { releaseLeases: true });
    }
  });

  test("gmempool --help lists the daemon's serve and the operator commands", async () => {
    const result = await gmempool("--help");
    assert.equal(result.code, EXIT_OK);
    for (const name of ["serve", "status", "arenas", "leases", "frag", "policy", "watch", "release"]) assert.match(result.stdout, new RegExp(`^  ${name} `, "m"), name);
  });
});

describe("gmempool CLI with no daemon", () => {
  test("exits 3, naming the socket it looked for and how to start the daemon", async () => {
    const dir = mkdtempSync(join(tmpdir(), "gmempool-cli-nodaemon-"));
    try {
      const result = await gmempool("status", "--runtime-dir", dir);
      assert.equal(result.code, EXIT_UNAVAILABLE);
      assert.ok(result.stderr.includes(join(dir, "api.sock")), result.stderr);
      assert.match(result.stderr, /npm start/);
      assert.match(result.stderr, /gmempool serve/);
      assert.equal(result.stdout, "");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
