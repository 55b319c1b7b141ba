/** The printed side of the simulator: its parameters and the per-discipline results table. */
import { formatTable } from "../bench.ts";
import type { Discipline, DisciplineParams } from "./disciplines.ts";
import type { ReplayResult } from "./replay.ts";
import { countEvents, type Trace } from "./trace.ts";

const GIB = 1024 ** 3;
const MIB = 1024 ** 2;

const gib = (bytes: number): string => (bytes / GIB).toFixed(2);
const mib = (bytes: number): string => (bytes / MIB).toFixed(1);
const int = (n: number): string => Math.round(n).toLocaleString("en-US");
const fraction = (f: number): string => f.toFixed(4);
const mean = (values: readonly number[]): number => values.reduce((a, b) => a + b, 0) / Math.max(1, values.length);

/** The trace parameters, one `name = value` line each, as a reader needs them to rerun. */
export function parameterLines(trace: Trace, disciplineParams: DisciplineParams, disciplineList: readonly Discipline[]): string[] {
  const p = trace.params;
  const range = (r: { min: number; max: number }): string => `${r.min}..${r.max} (log-uniform)`;
  const counts = countEvents(trace);
  return [
    `trace (seed ${trace.seed}):`,
    `  poolUnits            = ${p.poolUnits} (${(p.poolUnits * 2) / 1024} GiB)`,
    `  steps                = ${p.steps}`,
    `  vmSizes              = ${p.vmSizes.map((s) => `${s.units} units x${s.weight}`).join(", ")}`,
    `  initialLoad          = ${p.initialLoad} of the pool at step 0`,
    `  arrivalProbability   = ${p.arrivalProbability} per step`,
    `  meanLifetimeSteps    = ${p.meanLifetimeSteps}`,
    `  confidentialFraction = ${p.confidentialFraction} (gmem + memfd pairs, notify conversions)`,
    `  balloon              = inflate ${p.balloon.inflateProbability}/VM/step of ${range(p.balloon.burstPages)} pages in runs of ${range(p.balloon.runPages)},` +
      ` gap after a run ${p.balloon.gapProbability} of ${range(p.balloon.gapPages)} pages;`,
    `                         ${p.balloon.reportingFraction} of bursts are free page reporting of ${range(p.balloon.reportingUnits)} whole 2 MiB blocks;` +
      ` deflate ${p.balloon.deflateProbability}/VM/step`,
    `  conversion           = ${p.conversion.burstProbability}/confidential VM/step, ${range(p.conversion.burstPages)} pages to shared,` +
      ` or back to private with probability ${p.conversion.revertProbability}`,
    `  events               = ${Object.entries(counts).map(([k, n]) => `${k} ${int(n)}`).join(", ")}`,
    `disciplines (deferredCapBytes = ${disciplineParams.deferredCapBytes / GIB} GiB):`,
    ...disciplineList.map((d) => `  ${d.name.padEnd(13)}: ${d.description}`),
  ];
}

export function resultLines(results: readonly ReplayResult[]): string[] {
  const row = (label: string, value: (r: ReplayResult) => string): string[] => [label, ...results.map(value)];
  return formatTable([
    ["at the end of the trace", ...results.map((r) => r.discipline)],
    row("intact_free_fraction (report)", (r) => fraction(r.final.intactFreeFraction)),
    row("intact free fraction, pairs too", (r) => fraction(r.physical.intactFreeFraction)),
    row("  mean over the trace (report)", (r) => fraction(mean(r.samples.map((s) => s.intactFreeFraction)))),
    row("split_units (4 KiB holes)", (r) => int(r.physical.brokenUnits)),
    row("  peak over the trace", (r) => int(Math.max(...r.samples.map((s) => s.brokenUnits)))),
    row("units with mixed page state", (r) => int(r.final.splitUnits)),
    row("stale_bytes (MiB)", (r) => mib(r.final.staleBytes)),
    row("deferred bytes (MiB)", (r) => mib(r.final.deferredBytes)),
    row("free units (intact)", (r) => int(r.final.freeUnits)),
    row("punched inside units (MiB)", (r) => mib(r.physical.punchedInsideBytes)),
    row("free memory (GiB)", (r) => gib(r.final.freeUnits * 2 * MIB + r.physical.punchedInsideBytes)),
    ["over the trace", ...results.map(() => "")],
    row("kernel_calls", (r) => int(r.counters.kernelCalls)),
    row("  populate / punch / zero", (r) => ["populate", "punch", "zero"].map((op) => int(r.counters.kernelCallsByOp[op] ?? 0)).join(" / ")),
    row("VM arrivals rejected", (r) => `${int(r.counters.rejectedArrivals)} of ${int(r.counters.arrivals)}`),
    row("discarded by guests (GiB)", (r) => gib(r.counters.discardedBytes)),
    row("memory returned by discards (GiB)", (r) => gib(r.counters.returnedBytes)),
    row("  populate steps in discard plans", (r) => int(r.counters.discardPopulates)),
    row("discards refused/ignored (GiB)", (r) => gib(r.counters.refusedBytes)),
    row("zeroed in place (GiB)", (r) => gib(r.counters.zeroedBytes)),
    row("stale copies freed (GiB)", (r) => gib(r.counters.staleFreedBytes)),
    row("reuse/convert w/o free unit", (r) => int(r.counters.exhaustedOps)),
  ]);
}
