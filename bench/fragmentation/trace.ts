/**
 * The synthetic host workload: one trace, generated from explicit parameters and a seed, that
 * every discipline replays (DESIGN.md §2: what fragments a host's 2 MiB units).
 *
 * Time advances in abstract steps. In each step, in this order: every running VM departs with
 * probability 1 / meanLifetimeSteps; a new VM arrives with probability arrivalProbability; then
 * every running VM may start a balloon inflate burst, deflate an earlier burst, and (if
 * confidential) convert a range between shared and private. The trace records requests as a VMM
 * would send them: one event per contiguous page range. It knows nothing about any pool: whether
 * an arrival fits is for each discipline to find out on replay.
 */
import { Prng } from "../../src/pool/testing/prng.ts";

export const PAGES_PER_UNIT = 512;

/** An inclusive range from which a size is drawn log-uniformly. */
export interface SizeRange {
  readonly min: number;
  readonly max: number;
}

export interface TraceParams {
  /** Host pool size in 2 MiB units. */
  readonly poolUnits: number;
  /** Length of the trace in steps. */
  readonly steps: number;
  /** VM memory sizes (units) and their relative weights. */
  readonly vmSizes: readonly { readonly units: number; readonly weight: number }[];
  /** VMs started at step 0 until their memory reaches this fraction of the pool. */
  readonly initialLoad: number;
  /** Probability that a VM arrives in a step. */
  readonly arrivalProbability: number;
  /** Mean VM lifetime in steps (a running VM departs in each step with probability 1 / this). */
  readonly meanLifetimeSteps: number;
  /** Fraction of VMs that are confidential: a gmem + memfd pair, booted private, converting. */
  readonly confidentialFraction: number;
  readonly balloon: {
    /** Probability per running VM and step that the balloon inflates (the guest gives pages). */
    readonly inflateProbability: number;
    /** Pages given up by one 4 KiB inflate burst. */
    readonly burstPages: SizeRange;
    /**
     * A 4 KiB burst sweeps the guest's memory from a random page, as a guest allocator hands
     * out free pages: contiguous runs of `runPages` pages (one discard request each), each run
     * followed with probability `gapProbability` by `gapPages` pages the guest keeps.
     */
    readonly runPages: SizeRange;
    readonly gapProbability: number;
    readonly gapPages: SizeRange;
    /** Fraction of bursts that are free page reporting instead: whole 2 MiB-aligned blocks. */
    readonly reportingFraction: number;
    /** Number of 2 MiB blocks one reporting burst gives up (each at a random place). */
    readonly reportingUnits: SizeRange;
    /** Probability per running VM and step that one earlier burst is deflated (pages reused). */
    readonly deflateProbability: number;
  };
  readonly conversion: {
    /** Probability per running confidential VM and step of a conversion burst. */
    readonly burstProbability: number;
    /** Pages converted to shared by one burst (one contiguous range at a random place). */
    readonly burstPages: SizeRange;
    /** Probability that a burst converts an earlier shared range back to private instead. */
    readonly revertProbability: number;
  };
}

export const DEFAULT_TRACE_PARAMS: TraceParams = {
  poolUnits: 16_384,
  steps: 10_000,
  vmSizes: [
    { units: 256, weight: 3 },
    { units: 512, weight: 4 },
    { units: 1024, weight: 2 },
    { units: 2048, weight: 1 },
  ],
  initialLoad: 0.75,
  arrivalProbability: 0.025,
  meanLifetimeSteps: 1_000,
  confidentialFraction: 0.4,
  balloon: {
    inflateProbability: 0.02,
    burstPages: { min: 1, max: 32_768 },
    runPages: { min: 1, max: 256 },
    gapProbability: 0.5,
    gapPages: { min: 1, max: 64 },
    reportingFraction: 0.3,
    reportingUnits: { min: 1, max: 16 },
    deflateProbability: 0.004,
  },
  conversion: {
    burstProbability: 0.02,
    burstPages: { min: 1, max: 1024 },
    revertProbability: 0.5,
  },
};

export type TraceEvent =
  | { readonly step: number; readonly kind: "arrive"; readonly vm: number; readonly units: number; readonly confidential: boolean }
  | { readonly step: number; readonly kind: "depart"; readonly vm: number }
  /** The guest gives pages up (balloon inflate / free page reporting). */
  | { readonly step: number; readonly kind: "discard"; readonly vm: number; readonly page: number; readonly pages: number }
  /** The guest takes ballooned pages back (deflate). */
  | { readonly step: number; readonly kind: "reuse"; readonly vm: number; readonly page: number; readonly pages: number }
  /** An out-of-place conversion the VMM did and notifies. */
  | { readonly step: number; readonly kind: "convert"; readonly vm: number; readonly page: number; readonly pages: number; readonly toPrivate: boolean };

export type TraceEventKind = TraceEvent["kind"];

export interface Trace {
  readonly seed: number;
  readonly params: TraceParams;
  readonly events: readonly TraceEvent[];
}

type PageRun = readonly [page: number, pages: number];

interface LiveVm {
  readonly id: number;
  readonly units: number;
  readonly confidential: boolean;
  /** Inflate bursts not yet deflated, each as its page runs. */
  readonly bursts: PageRun[][];
  /** Ranges converted to shared and not yet reverted. */
  readonly shared: PageRun[];
}

export function generateTrace(params: TraceParams, seed: number): Trace {
  validateParams(params);
  const rng = new Prng(seed);
  const events: TraceEvent[] = [];
  let live: LiveVm[] = [];
  let nextVm = 0;

  const arrive = (step: number): void => {
    const vm: LiveVm = { id: nextVm++, units: rng.weighted(params.vmSizes).units, confidential: rng.chance(params.confidentialFraction), bursts: [], shared: [] };
    live.push(vm);
    events.push({ step, kind: "arrive", vm: vm.id, units: vm.units, confidential: vm.confidential });
  };

  let initialUnits = 0;
  while (initialUnits < params.initialLoad * params.poolUnits) {
    arrive(0);
    initialUnits += live[live.length - 1]!.units;
  }

  for (let step = 0; step < params.steps; step++) {
    const departing = new Set<LiveVm>();
    for (const vm of live) {
      if (rng.chance(1 / params.meanLifetimeSteps)) {
        departing.add(vm);
        events.push({ step, kind: "depart", vm: vm.id });
      }
    }
    if (departing.size > 0) live = live.filter((vm) => !departing.has(vm));
    if (rng.chance(params.arrivalProbability)) arrive(step);

    for (const vm of live) {
      const vmPages = vm.units * PAGES_PER_UNIT;
      if (rng.chance(params.balloon.inflateProbability)) {
        const runs: PageRun[] = [];
        if (rng.chance(params.balloon.reportingFraction)) {
          const blocks = rng.logInt(params.balloon.reportingUnits.min, params.balloon.reportingUnits.max);
          for (let b = 0; b < blocks; b++) runs.push([rng.int(0, vm.units - 1) * PAGES_PER_UNIT, PAGES_PER_UNIT]);
        } else {
          let left = Math.min(vmPages, rng.logInt(params.balloon.burstPages.min, params.balloon.burstPages.max));
          let page = rng.int(0, vmPages - 1);
          while (left > 0) {
            if (page >= vmPages) page = 0;
            const pages = Math.min(left, rng.logInt(params.balloon.runPages.min, params.balloon.runPages.max), vmPages - page);
            runs.push([page, pages]);
            left -= pages;
            page += pages;
            if (rng.chance(params.balloon.gapProbability)) page += rng.logInt(params.balloon.gapPages.min, params.balloon.gapPages.max);
          }
        }
        for (const [page, pages] of runs) events.push({ step, kind: "discard", vm: vm.id, page, pages });
        vm.bursts.push(runs);
      }
      if (vm.bursts.length > 0 && rng.chance(params.balloon.deflateProbability)) {
        for (const [page, pages] of takeRandom(rng, vm.bursts)) events.push({ step, kind: "reuse", vm: vm.id, page, pages });
      }
      if (vm.confidential && rng.chance(params.conversion.burstProbability)) {
        if (vm.shared.length > 0 && rng.chance(params.conversion.revertProbability)) {
          const [page, pages] = takeRandom(rng, vm.shared);
          events.push({ step, kind: "convert", vm: vm.id, page, pages, toPrivate: true });
        } else {
          const pages = Math.min(vmPages, rng.logInt(params.conversion.burstPages.min, params.conversion.burstPages.max));
          const page = rng.int(0, vmPages - pages);
          vm.shared.push([page, pages]);
          events.push({ step, kind: "convert", vm: vm.id, page, pages, toPrivate: false });
        }
      }
    }
  }
  return { seed, params, events };
}

/** Removes and returns a random element (order of the rest is not kept). */
function takeRandom<T>(rng: Prng, items: T[]): T {
  const i = rng.int(0, items.length - 1);
  const item = items[i]!;
  items[i] = items[items.length - 1]!;
  items.pop();
  return item;
}

/** Event counts by kind (for the printed summary). */
export function countEvents(trace: Trace): Record<TraceEventKind, number> {
  const counts: Record<TraceEventKind, number> = { arrive: 0, depart: 0, discard: 0, reuse: 0, convert: 0 };
  for (const event of trace.events) counts[event.kind]++;
  return counts;
}

function validateParams(p: TraceParams): void {
  const probabilities: [string, number][] = [
    ["arrivalProbability", p.arrivalProbability],
    ["confidentialFraction", p.confidentialFraction],
    ["balloon.inflateProbability", p.balloon.inflateProbability],
    ["balloon.gapProbability", p.balloon.gapProbability],
    ["balloon.reportingFraction", p.balloon.reportingFraction],
    ["balloon.deflateProbability", p.balloon.deflateProbability],
    ["conversion.burstProbability", p.conversion.burstProbability],
    ["conversion.revertProbability", p.conversion.revertProbability],
  ];
  for (const [name, value] of probabilities) {
    if (!(value >= 0 && value <= 1)) throw new RangeError(`trace parameter ${name} must be in [0, 1], got ${value}`);
  }
  if (!Number.isInteger(p.steps) || p.steps < 0) throw new RangeError(`trace parameter steps must be a non-negative integer, got ${p.steps}`);
  if (!Number.isInteger(p.poolUnits) || p.poolUnits < 1) throw new RangeError(`trace parameter poolUnits must be a positive integer, got ${p.poolUnits}`);
  if (!(p.meanLifetimeSteps >= 1)) throw new RangeError(`trace parameter meanLifetimeSteps must be >= 1, got ${p.meanLifetimeSteps}`);
  if (p.vmSizes.length === 0 || p.vmSizes.some((s) => !Number.isInteger(s.units) || s.units < 1 || !(s.weight > 0))) {
    throw new RangeError("trace parameter vmSizes needs at least one size of >= 1 unit with a positive weight");
  }
  for (const [name, r] of [["balloon.burstPages", p.balloon.burstPages], ["balloon.runPages", p.balloon.runPages], ["balloon.gapPages", p.balloon.gapPages], ["balloon.reportingUnits", p.balloon.reportingUnits], ["conversion.burstPages", p.conversion.burstPages]] as const) {
    if (!Number.isInteger(r.min) || !Number.isInteger(r.max) || r.min < 1 || r.max < r.min) throw new RangeError(`trace parameter ${name} must be integers 1 <= min <= max, got ${r.min}..${r.max}`);
  }
}
