/**
 * `npm run bench -- fragmentation [--seed N] [--steps N] [--svg FILE | --no-svg] [--deferred-cap-gib N]`
 * (also `npm run simulate`):
 * the trace-driven fragmentation simulator of issue 2 (docs/fragmentation.md).
 *
 * One synthetic host trace (trace.ts, seeded) is replayed under three disciplines side by side
 * (disciplines.ts, replay.ts); the table compares them and an SVG chart shows them over time.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { Bench, BenchResult } from "../bench.ts";
import { DEFAULT_DISCIPLINE_PARAMS, disciplines, type DisciplineName, type DisciplineParams } from "./disciplines.ts";
import { replay, type ReplayResult } from "./replay.ts";
import { renderChart, type Series } from "./svg.ts";
import { parameterLines, resultLines } from "./table.ts";
import { DEFAULT_TRACE_PARAMS, generateTrace } from "./trace.ts";

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const DEFAULT_SVG = resolve(REPO, "bench/out/fragmentation.svg");
const DEFAULT_SEED = 1;
const SAMPLES = 100;

const STYLE: Record<DisciplineName, { color: string; dash?: string; width?: number }> = {
  gmempool: { color: "#1b9e77", width: 3.5 },
  "punch-4k": { color: "#d95f02", dash: "6 3" },
  "hugetlb-zero": { color: "#7570b3", dash: "2 3" },
};

interface Options {
  readonly seed: number;
  readonly steps: number;
  /** Where to write the chart (absolute; a relative --svg is taken from the working directory). */
  readonly svg: string | undefined;
  readonly disciplineParams: DisciplineParams;
}

export function parseArgs(args: readonly string[]): Options {
  let seed = DEFAULT_SEED;
  let steps = DEFAULT_TRACE_PARAMS.steps;
  let svg: string | undefined = DEFAULT_SVG;
  let deferredCapBytes = DEFAULT_DISCIPLINE_PARAMS.deferredCapBytes;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const value = (): string => {
      const v = args[++i];
      if (v === undefined) throw new RangeError(`${arg} needs a value`);
      return v;
    };
    const integer = (min: number): number => {
      const v = value();
      const n = Number(v);
      if (!Number.isSafeInteger(n) || n < min) throw new RangeError(`${arg} needs an integer >= ${min}, got "${v}"`);
      return n;
    };
    if (arg === "--seed") seed = integer(0);
    else if (arg === "--steps") steps = integer(1);
    else if (arg === "--svg") svg = resolve(value());
    else if (arg === "--no-svg") svg = undefined;
    else if (arg === "--deferred-cap-gib") deferredCapBytes = integer(0) * 1024 ** 3;
    else throw new RangeError(`unknown argument "${arg}"; expected --seed N, --steps N, --svg FILE, --no-svg, --deferred-cap-gib N`);
  }
  return { seed, steps, svg, disciplineParams: { deferredCapBytes } };
}

function chart(results: readonly ReplayResult[], seed: number, steps: number): string {
  const series = (pick: (s: ReplayResult["samples"][number]) => number): Series[] =>
    results.map((r) => ({ name: r.discipline, ...STYLE[r.discipline], points: r.samples.map((s) => [s.step, pick(s)] as const) }));
  const lowestFraction = Math.min(...results.flatMap((r) => r.samples.map((s) => s.intactFreeFraction)));
  return renderChart({
    title: "gmempool fragmentation simulator",
    subtitle: `seed ${seed}, ${steps} steps, pool ${DEFAULT_TRACE_PARAMS.poolUnits} units of 2 MiB; same trace under each discipline`,
    xLabel: "step",
    columns: 3,
    panels: [
      { title: "free memory in intact 2 MiB units (fraction)", series: series((s) => s.intactFreeFraction), yMin: Math.min(0.9, Math.floor(lowestFraction * 20) / 20), yMax: 1 },
      { title: "split units (2 MiB units with 4 KiB holes)", series: series((s) => s.brokenUnits) },
      { title: "kernel calls issued (cumulative)", series: series((s) => s.kernelCalls) },
      { title: "stale + deferred memory held (MiB)", series: series((s) => (s.staleBytes + s.deferredBytes) / 2 ** 20) },
      { title: "free memory in intact units (GiB)", series: series((s) => (s.freeUnits * 2) / 1024) },
      { title: "VM arrivals rejected (cumulative)", series: series((s) => s.rejectedArrivals) },
    ],
  });
}

export const bench: Bench = {
  name: "fragmentation",
  summary: "trace-driven fragmentation simulator: gmempool vs 4 KiB punching vs hugetlb zeroing",
  run(args: readonly string[]): Promise<BenchResult> {
    const options = parseArgs(args);
    const trace = generateTrace({ ...DEFAULT_TRACE_PARAMS, steps: options.steps }, options.seed);
    const list = disciplines(options.disciplineParams);
    const sampleEvery = Math.max(1, Math.ceil(options.steps / SAMPLES));
    const results = list.map((d) => {
      process.stderr.write(`fragmentation: replaying ${trace.events.length} events under ${d.name}\n`);
      const result = replay(trace, d, { sampleEvery });
      result.pool.assertInvariants();
      return result;
    });

    const table = [...parameterLines(trace, options.disciplineParams, list), "", ...resultLines(results)];
    if (options.svg !== undefined) {
      const path = options.svg;
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, chart(results, options.seed, options.steps));
      table.push("", `chart: ${relative(process.cwd(), path) || path}`);
    }
    const figures = (r: ReplayResult): Record<string, number> => ({
      intact_free_fraction: Number(r.final.intactFreeFraction.toFixed(6)),
      split_units: r.physical.brokenUnits,
      stale_bytes: r.final.staleBytes,
      kernel_calls: r.counters.kernelCalls,
    });
    return Promise.resolve({
      json: { seed: options.seed, disciplines: Object.fromEntries(results.map((r) => [r.discipline, figures(r)])) },
      table,
    });
  },
};
