/**
 * `npm run bench -- allocate-breakdown [--iterations N] [--cpu-prof DIR]`: where the time of a
 * 1-unit Allocate goes, measured inside the real daemon in one run.
 *
 * The daemon is spawned as `rpc` spawns it (bench/rpc.ts: startBenchDaemon) with
 * GMEMPOOL_PHASE_TIMES set, so that it records the phases of every call (src/daemon/phase-timer.ts)
 * and writes them out when it exits. One client runs `--iterations` rounds (after a warm-up of
 * 50, whose samples are dropped) of: one bare grpc-js unary call to an echo server in another
 * process (bench/rpc.ts: crossProcessFloor), Allocate(1), Release, and a raw populate + punch
 * of one unit from this process on the same kind of file. Interleaved, so that the other users
 * of this noisy machine weigh on all four alike; the p50 of each phase of Allocate is printed
 * next to the end-to-end p50 seen by the client, the floor's and the raw populate's.
 *
 * Phases (daemon side): decode = request deserialize; claim = the core's Pool.allocate and the
 * lease's label; kernel = the plan's kernel steps (arena populate; the reserve punch is in the
 * background by default); commit = Pool.commit and the result; journal append = building and
 * queueing the record; journal durable = its write and fdatasync (group commit); publish = the
 * Watch event; encode = response serialize; server = handler entry to the answer handed to
 * grpc-js (contains every phase but decode and encode). The proto codec of Allocate (one
 * optional field in, `leaseToProto` out) runs inside `server`.
 *
 * `--cpu-prof DIR` also writes a V8 CPU profile of the daemon to DIR (node --cpu-prof).
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { UNIT_BYTES } from "@gmempool/contract";
import { FALLOCATE_POPULATE, FALLOCATE_PUNCH, GUEST_MEMFD_FLAG_INIT_SHARED, GUEST_MEMFD_FLAG_MMAP } from "@gmempool/sys";
import { formatTable, percentile, type Bench, type BenchResult } from "./bench.ts";
import { crossProcessFloor, startBenchDaemon } from "./rpc.ts";

const WARM_UP = 50;
/** Allocate's phases in the order they happen, as phase-timer.ts names them. */
const PHASES = ["decode", "claim", "kernel", "commit", "journal-append", "journal-durable", "publish", "encode"] as const;

function option(args: readonly string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

const fmt = (n: number): string => n.toFixed(3);
const ms = (start: bigint): number => Number(process.hrtime.bigint() - start) / 1e6;

export const bench: Bench = {
  name: "allocate-breakdown",
  summary: "The phases of a 1-unit Allocate inside the daemon vs its end-to-end latency and the bare gRPC floor",
  async run(args): Promise<BenchResult> {
    const iterations = Number(option(args, "--iterations") ?? 1000);
    const profileDir = option(args, "--cpu-prof");
    const scratch = mkdtempSync(join(tmpdir(), "gmempool-breakdown-"));
    const timesFile = join(scratch, "phases.json");
    try {
      const floor = await crossProcessFloor();
      const b = await startBenchDaemon({
        capacityUnits: 64,
        clients: 1,
        arenaUnits: 4,
        env: { GMEMPOOL_PHASE_TIMES: timesFile },
        // NODE_OPTIONS may not carry --cpu-prof on Node 20.
        ...(profileDir === undefined ? {} : { nodeArgs: ["--cpu-prof", `--cpu-prof-dir=${resolve(profileDir)}`] }),
      });
      const e2e: number[] = [];
      const floorSamples: number[] = [];
      const rawUnit: number[] = [];
      try {
        const { client, arenaId } = b.peers[0]!;
        // The kernel's share alone, from this process, on the same kind of file.
        const rawFile = b.kind === "gmem" ? b.kernel.createGuestMemfd(b.held[0]!, UNIT_BYTES, GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_INIT_SHARED) : b.kernel.memfdCreate("bench-raw", "shmem");
        b.held.push(rawFile);
        if (b.kind !== "gmem") b.kernel.ftruncate(rawFile, UNIT_BYTES);
        process.stderr.write(`allocate-breakdown: ${WARM_UP} + ${iterations} rounds\n`);
        for (let i = 0; i < WARM_UP + iterations; i++) {
          const f = await floor.call();
          let t = process.hrtime.bigint();
          const lease = (await client.call("Allocate", { arenaId, unitCount: 1 })).lease!;
          const a = ms(t);
          await client.call("Release", { leaseId: lease.leaseId });
          t = process.hrtime.bigint();
          await b.kernel.fallocate(rawFile, FALLOCATE_POPULATE, 0n, UNIT_BYTES);
          const r = ms(t);
          await b.kernel.fallocate(rawFile, FALLOCATE_PUNCH, 0n, UNIT_BYTES);
          if (i < WARM_UP) continue;
          floorSamples.push(f);
          e2e.push(a);
          rawUnit.push(r);
        }
      } finally {
        await floor.close();
        await b.close();
      }
      const samples = JSON.parse(readFileSync(timesFile, "utf8")) as Record<string, number[]>;
      // The warm-up's calls, and the arena registrations before it, come first: dropped.
      const p50 = (phase: string): number => {
        const all = samples[`Allocate/${phase}`] ?? [];
        if (all.length < iterations) throw new Error(`the daemon recorded ${all.length} samples of Allocate/${phase}, expected at least ${iterations}`);
        return percentile(all.slice(-iterations), 50);
      };
      const phases = Object.fromEntries(PHASES.map((p) => [p, p50(p)])) as Record<(typeof PHASES)[number], number>;
      const server = p50("server");
      const e2eP50 = percentile(e2e, 50);
      const floorP50 = percentile(floorSamples, 50);
      const sum = PHASES.reduce((n, p) => n + phases[p], 0);
      const json = {
        ...Object.fromEntries(PHASES.map((p) => [`${p.replace("-", "_")}_p50_ms`, Number(fmt(phases[p]))])),
        plan_p50_ms: Number(fmt(phases.claim + phases.commit)),
        server_p50_ms: Number(fmt(server)),
        allocate_1unit_p50_ms: Number(fmt(e2eP50)),
        grpc_unary_floor_p50_ms: Number(fmt(floorP50)),
        ratio_allocate_over_floor: Number((e2eP50 / floorP50).toFixed(2)),
        raw_populate_1unit_p50_ms: Number(fmt(percentile(rawUnit, 50))),
      };
      const table = [
        `allocate-breakdown: ${b.kind} arenas, reserve ${b.reserve}, journal fsync on ${b.journalOn}; ${iterations} rounds of floor call, Allocate(1), Release, raw populate; p50 of each phase inside the daemon`,
        ...formatTable([
          ["phase (Allocate, 1 unit)", "p50 ms"],
          ["decode (request deserialize)", fmt(phases.decode)],
          ["plan: claim (Pool.allocate)", fmt(phases.claim)],
          ["kernel (plan's steps)", fmt(phases.kernel)],
          ["plan: commit (Pool.commit + result)", fmt(phases.commit)],
          ["journal append (record)", fmt(phases["journal-append"])],
          ["journal durable (write + fdatasync)", fmt(phases["journal-durable"])],
          ["publish (Watch event)", fmt(phases.publish)],
          ["encode (response serialize)", fmt(phases.encode)],
          ["sum of the phases' p50s", fmt(sum)],
          ["server (handler entry -> answer)", fmt(server)],
          ["end-to-end Allocate, client", fmt(e2eP50)],
          ["bare grpc-js unary, other process", fmt(floorP50)],
          ["raw populate 1 unit, this process", fmt(json.raw_populate_1unit_p50_ms)],
        ]),
        `end-to-end / floor: ${json.ratio_allocate_over_floor} (target <= 1.5); end-to-end - floor: ${fmt(e2eP50 - floorP50)} ms`,
      ];
      return { json, table };
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  },
};
