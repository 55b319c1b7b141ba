/**
 * `npm run bench -- pool-core [--runs N]`: the pool core's speed and memory at scale (issue 2).
 *
 * A 1 TiB pool (524,288 units of 2 MiB) with 1024 arenas of 512 units (1 GiB): three in four are
 * single guest_memfd arenas, one in four a gmem + memfd pair (an out-of-place confidential VM).
 * Every operation is planned AND committed (all steps succeed): that is one bookkeeping
 * operation, the work the daemon does around one kernel round trip.
 *
 * Speed, per phase on a fresh pool, median of `--runs` runs (default 5):
 * - allocate: every arena filled with 16-unit (32 MiB) leases, 28 per arena (7/8 of the pool),
 *   gmem leases shared, pair leases private;
 * - convert notify: one whole unit (2 MiB) of every pair lease shared, then back private;
 * - convert in-place: one whole unit of every gmem lease private, then back shared;
 * - discard whole unit: one whole unit of every gmem lease discarded (punched), then populated;
 * - discard sub-unit: 64 KiB of every gmem lease discarded under policy defer (held, split);
 * - release: every lease released.
 * `ops_per_sec` is the aggregate over the range operations (convert, discard, populate: the
 * operations on byte ranges of a lease that the target names): their total count over their
 * total time (each phase's median time). Allocate and release are lease operations, reported in
 * the table with an all-operations aggregate. A full GC runs before each phase, outside timing.
 *
 * Memory: heap used (after a forced GC) by a pool filled completely with 16-unit leases, per
 * unit (`bytes_per_unit_unsplit`); then one 4 KiB page of every unit converted in place so that
 * every unit is split (`bytes_per_unit_split`). The table adds other lease sizes.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import v8 from "node:v8";
import vm from "node:vm";
import ts from "typescript";
import { formatTable, median, type Bench, type BenchResult } from "./bench.ts";
import type * as PoolCore from "../src/pool/index.ts";
import type { Plan, Pool } from "../src/pool/index.ts";

type Core = typeof PoolCore;

/** The pool core under measurement: tsc's output by default (see `loadCore`). */
let core: Core;
const PAGE_BYTES = 4096;
const UNIT_BYTES = 2 * 1024 * 1024;

const POOL_UNITS = 524_288;
const ARENA_UNITS = 512;
const ARENAS = POOL_UNITS / ARENA_UNITS;
const LEASE_UNITS = 16;
/** Leases per arena in the speed phases: 7/8 of the pool, so that conversions find free units. */
const LEASES_PER_ARENA = 28;
const OWNER = "bench";
/** Large enough that the sub-unit discards of the bench are never refused. */
const DEFERRED_CAP_BYTES = 64 * 1024 * 1024 * 1024;

interface PhaseTiming {
  readonly name: string;
  /** A range operation (convert, discard, populate), as opposed to allocate / release. */
  readonly range: boolean;
  readonly ops: number;
  readonly seconds: number;
}

interface Fixture {
  readonly pool: Pool;
  /** Lease ids of gmem arenas and of pairs, with their first arena byte. */
  readonly gmem: { id: string; offset: number }[];
  readonly pairs: { id: string; offset: number }[];
}

function settle(pool: Pool, plan: Plan): void {
  pool.commit(plan.id);
}

function newPool(): Pool {
  return new core.Pool({ capacityUnits: POOL_UNITS, policy: { discard: "defer", deferredCapBytes: DEFERRED_CAP_BYTES } });
}

function registerArenas(pool: Pool, pairEvery: number): string[] {
  const ids: string[] = [];
  for (let a = 0; a < ARENAS; a++) {
    const isPair = pairEvery > 0 && a % pairEvery === pairEvery - 1;
    ids.push(pool.registerArena(OWNER, { sizeBytes: ARENA_UNITS * UNIT_BYTES, files: isPair ? ["guest_memfd", "memfd"] : ["guest_memfd"] }).id);
  }
  return ids;
}

/** Forced full GC before each phase (not timed), so that no phase pays for its predecessor's garbage. */
let collect: () => void = () => undefined;

function time(name: string, range: boolean, body: () => number): PhaseTiming {
  collect();
  const start = process.hrtime.bigint();
  const ops = body();
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  return { name, range, ops, seconds };
}

/** One run of every speed phase on a fresh pool. */
function speedRun(): PhaseTiming[] {
  const pool = newPool();
  const arenaIds = registerArenas(pool, 4);
  const fixture: Fixture = { pool, gmem: [], pairs: [] };
  const phases: PhaseTiming[] = [];

  phases.push(time("allocate", false, () => {
    let ops = 0;
    arenaIds.forEach((arenaId, a) => {
      const isPair = a % 4 === 3;
      for (let i = 0; i < LEASES_PER_ARENA; i++) {
        const plan = pool.allocate(OWNER, { arenaId, unitCount: LEASE_UNITS, initiallyPrivate: isPair });
        settle(pool, plan);
        (isPair ? fixture.pairs : fixture.gmem).push({ id: plan.leaseId, offset: i * LEASE_UNITS * UNIT_BYTES });
        ops++;
      }
    });
    return ops;
  }));

  // The unit converted / discarded in each lease: spread over the lease, not always the first.
  const unitOf = (i: number): number => (i * 7) % LEASE_UNITS;

  phases.push(time("convert notify (pair, 2 MiB)", true, () => {
    let ops = 0;
    for (const toPrivate of [false, true]) {
      fixture.pairs.forEach(({ id, offset }, i) => {
        settle(pool, pool.convert(OWNER, { leaseId: id, offsetBytes: offset + unitOf(i) * UNIT_BYTES, lengthBytes: UNIT_BYTES, toPrivate, mode: "notify" }));
        ops++;
      });
    }
    return ops;
  }));

  phases.push(time("convert in-place (gmem, 2 MiB)", true, () => {
    let ops = 0;
    for (const toPrivate of [true, false]) {
      fixture.gmem.forEach(({ id, offset }, i) => {
        settle(pool, pool.convert(OWNER, { leaseId: id, offsetBytes: offset + unitOf(i) * UNIT_BYTES, lengthBytes: UNIT_BYTES, toPrivate, mode: "in-place" }));
        ops++;
      });
    }
    return ops;
  }));

  phases.push(time("discard whole unit (punch)", true, () => {
    let ops = 0;
    fixture.gmem.forEach(({ id, offset }, i) => {
      settle(pool, pool.discard(OWNER, { leaseId: id, offsetBytes: offset + unitOf(i) * UNIT_BYTES, lengthBytes: UNIT_BYTES }));
      ops++;
    });
    return ops;
  }));

  phases.push(time("populate whole unit", true, () => {
    let ops = 0;
    fixture.gmem.forEach(({ id, offset }, i) => {
      settle(pool, pool.populate(OWNER, { leaseId: id, offsetBytes: offset + unitOf(i) * UNIT_BYTES, lengthBytes: UNIT_BYTES }));
      ops++;
    });
    return ops;
  }));

  phases.push(time("discard sub-unit (defer, 64 KiB)", true, () => {
    let ops = 0;
    fixture.gmem.forEach(({ id, offset }, i) => {
      const page = (i * 37) % (512 - 16);
      settle(pool, pool.discard(OWNER, { leaseId: id, offsetBytes: offset + unitOf(i) * UNIT_BYTES + page * PAGE_BYTES, lengthBytes: 16 * PAGE_BYTES }));
      ops++;
    });
    return ops;
  }));

  phases.push(time("release", false, () => {
    let ops = 0;
    for (const { id } of [...fixture.gmem, ...fixture.pairs]) {
      settle(pool, pool.release(OWNER, id));
      ops++;
    }
    return ops;
  }));

  if (pool.reserve.freeUnits !== POOL_UNITS) throw new Error(`pool-core: ${pool.reserve.freeUnits} units free after releasing everything`);
  pool.assertInvariants();
  return phases;
}

/** A forced, complete GC: `global.gc` when Node runs with --expose-gc, else expose it now. */
function gcFunction(): () => void {
  const exposed = (globalThis as { gc?: () => void }).gc;
  if (exposed !== undefined) return exposed;
  v8.setFlagsFromString("--expose_gc");
  return vm.runInNewContext("gc") as () => void;
}

/** JS heap plus typed-array backing stores (a split record's 256 bytes live off the JS heap). */
function heapUsed(gc: () => void): number {
  gc();
  gc();
  const usage = process.memoryUsage();
  return usage.heapUsed + usage.arrayBuffers;
}

interface MemoryFigures {
  readonly leaseUnits: number;
  readonly unsplit: number;
  readonly split: number | undefined;
}

/** Heap per unit of a pool filled with `leaseUnits`-unit leases (and, optionally, all split). */
function memoryRun(gc: () => void, leaseUnits: number, split: boolean): MemoryFigures {
  const before = heapUsed(gc);
  const pool = newPool();
  const arenaIds = registerArenas(pool, 0);
  const leases: { id: string; offset: number }[] = [];
  for (const arenaId of arenaIds) {
    for (let u = 0; u < ARENA_UNITS; u += leaseUnits) {
      const plan = pool.allocate(OWNER, { arenaId, unitCount: leaseUnits });
      settle(pool, plan);
      leases.push({ id: plan.leaseId, offset: u * UNIT_BYTES });
    }
  }
  const unsplit = (heapUsed(gc) - before) / POOL_UNITS;
  let splitBytes: number | undefined;
  if (split) {
    for (const { id, offset } of leases) {
      for (let u = 0; u < leaseUnits; u++) {
        settle(pool, pool.convert(OWNER, { leaseId: id, offsetBytes: offset + u * UNIT_BYTES + ((u * 97) % 512) * PAGE_BYTES, lengthBytes: PAGE_BYTES, toPrivate: true, mode: "in-place" }));
      }
    }
    if (pool.splitUnits !== POOL_UNITS) throw new Error(`pool-core: ${pool.splitUnits} split units, expected ${POOL_UNITS}`);
    splitBytes = (heapUsed(gc) - before) / POOL_UNITS;
  }
  pool.assertInvariants();
  return { leaseUnits, unsplit, split: splitBytes };
}

/**
 * Loads the pool core to measure. By default its sources are transpiled by TypeScript (as `npm
 * run build` does for the daemon) into a temporary directory and that JavaScript is measured:
 * tsx, which runs the benchmarks, compiles with esbuild's keepNames, which wraps every closure
 * the core creates per operation in a `__name()` call and makes it about twice as slow as the
 * code the daemon will run. `--source` measures the tsx-loaded sources instead. (Not under
 * bench/out/: the lint would check the generated JavaScript.)
 */
async function loadCore(fromSource: boolean): Promise<{ core: Core; label: string }> {
  if (fromSource) return { core: await import("../src/pool/index.ts"), label: "src/pool as loaded by tsx (--source)" };
  const srcDir = new URL("../src/pool/", import.meta.url);
  const outDir = mkdtempSync(join(tmpdir(), "gmempool-pool-core-"));
  try {
    writeFileSync(join(outDir, "package.json"), '{ "type": "module" }\n');
    for (const name of readdirSync(srcDir)) {
      if (!name.endsWith(".ts") || name.endsWith(".test.ts")) continue;
      const { outputText } = ts.transpileModule(readFileSync(new URL(name, srcDir), "utf8"), {
        fileName: name,
        compilerOptions: { target: ts.ScriptTarget.ES2023, module: ts.ModuleKind.ESNext, rewriteRelativeImportExtensions: true, verbatimModuleSyntax: true },
      });
      writeFileSync(join(outDir, name.replace(/\.ts$/, ".js")), outputText);
    }
    return { core: (await import(pathToFileURL(join(outDir, "index.js")).href)) as Core, label: "src/pool transpiled by tsc (TypeScript's output, as the daemon runs)" };
  } finally {
    rmSync(outDir, { recursive: true, force: true });
  }
}

function parseRuns(args: readonly string[]): number {
  const i = args.indexOf("--runs");
  if (i < 0) return 5;
  const n = Number(args[i + 1]);
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`--runs needs a positive integer, got ${args[i + 1] ?? "nothing"}`);
  return n;
}

const fmtInt = (n: number): string => Math.round(n).toLocaleString("en-US");

export const bench: Bench = {
  name: "pool-core",
  summary: "pool core operations per second and heap bytes per unit on a 1 TiB pool",
  async run(args: readonly string[]): Promise<BenchResult> {
    const runs = parseRuns(args);
    const loaded = await loadCore(args.includes("--source"));
    core = loaded.core;
    const gc = gcFunction();
    collect = gc;

    const perRun: PhaseTiming[][] = [];
    for (let r = 0; r < runs; r++) {
      process.stderr.write(`pool-core: speed run ${r + 1}/${runs}\n`);
      perRun.push(speedRun());
      gc();
    }
    const phaseNames = perRun[0]!.map((p) => p.name);
    const phases = phaseNames.map((name, i) => ({
      name,
      range: perRun[0]![i]!.range,
      ops: perRun[0]![i]!.ops,
      seconds: median(perRun.map((run) => run[i]!.seconds)),
    }));
    const aggregate = (label: string, list: readonly PhaseTiming[]): PhaseTiming => ({
      name: label,
      range: true,
      ops: list.reduce((n, p) => n + p.ops, 0),
      seconds: list.reduce((n, p) => n + p.seconds, 0),
    });
    const ranges = aggregate("range operations (ops_per_sec)", phases.filter((p) => p.range));
    const all = aggregate("all operations", phases);
    const opsPerSec = ranges.ops / ranges.seconds;

    process.stderr.write("pool-core: memory\n");
    const main = memoryRun(gc, LEASE_UNITS, true);
    const others = [1, 64, 512].map((leaseUnits) => memoryRun(gc, leaseUnits, false));

    const table = [
      `pool-core: ${fmtInt(POOL_UNITS)} units (1 TiB), ${ARENAS} arenas of ${ARENA_UNITS} units (1 in 4 a gmem+memfd pair), ${LEASE_UNITS}-unit leases; median of ${runs} runs`,
      `code measured: ${loaded.label}; load average ${loadavg()[0]!.toFixed(2)} on ${availableParallelism()} CPUs at the end`,
      "",
      ...formatTable([
        ["operation (plan + commit)", "ops", "median s", "ops/s", "µs/op"],
        ...[...phases, ranges, all].map((p) => [p.name, fmtInt(p.ops), p.seconds.toFixed(3), fmtInt(p.ops / p.seconds), ((p.seconds / p.ops) * 1e6).toFixed(2)]),
      ]),
      "",
      ...formatTable([
        ["heap per unit (pool full)", "lease units", "bytes/unit unsplit", "bytes/unit split"],
        ...[main, ...others].map((m) => [m === main ? "reported" : "", String(m.leaseUnits), m.unsplit.toFixed(1), m.split === undefined ? "-" : m.split.toFixed(1)]),
      ]),
      "",
      `targets: >= 1,000,000 range ops/s: ${opsPerSec >= 1e6 ? "met" : "MISSED"}; <= 128 bytes/unit unsplit: ${main.unsplit <= 128 ? "met" : "MISSED"}`,
    ];
    return {
      json: {
        ops_per_sec: Math.round(opsPerSec),
        bytes_per_unit_unsplit: Number(main.unsplit.toFixed(1)),
        bytes_per_unit_split: Number(main.split!.toFixed(1)),
        pool_units: POOL_UNITS,
      },
      table,
    };
  },
};
