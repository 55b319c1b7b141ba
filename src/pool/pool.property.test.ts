/**
 * Model-based test of the pool core: random command sequences run against the real `Pool` and
 * against a deliberately naive model that keeps one object per 4 KiB page and recomputes
 * everything by brute force. After every command the two must agree on every page, on the
 * reserve, on the running totals, and `assertInvariants()` must hold (also while plans are in
 * flight). Every discard's outcome (pool.proto, DiscardResponse) is recomputed from the pages.
 *
 * The model takes population changes only from the plan steps the "kernel" applied (a random
 * subset fails), so it checks that plans say exactly what the bookkeeping assumes.
 *
 * Commands carry choices, not absolute values: a lease pick and page positions that are resolved
 * against the chosen lease when the command runs (a page inside one unit, the live pages of a
 * partly discarded block, a discarded run and its neighbours, ...). Arbitrary offsets would
 * mostly miss the leases and the interesting states; a few commands stay invalid on purpose so
 * that the error paths are exercised too. The test ends by checking that the run exercised
 * every kind of discard outcome often enough to guard it (see MIN_PER_RUN).
 *
 * FC_SEED=<n> replays one seed; GMEMPOOL_PROPERTY_RUNS=<n> changes the number of runs;
 * GMEMPOOL_PROPERTY_STATS=1 prints how often each checked event happened.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { ConflictError, ExhaustedError, FailedPreconditionError, InvalidArgumentError, NotFoundError, GmempoolError } from "./errors.ts";
import type { KernelStep, Plan, PlanKind, PlanResult } from "./plan.ts";
import { fragmentationReport } from "./fragmentation.ts";
import { Pool, type RangeRequest } from "./pool.ts";
import { exportSnapshot, importSnapshot, type PoolSnapshot } from "./snapshot.ts";
import type { DiscardPolicy } from "./policy.ts";
import { PAGE_BYTES, UNIT_BYTES } from "./units.ts";

const PAGES = 512;

interface Page {
  priv: boolean;
  disc: boolean;
  pop: [boolean, boolean];
}

interface ModelArena {
  id: string;
  sizeUnits: number;
  pair: boolean;
  memfd: boolean;
  used: boolean[];
  /** The punch granularity in force (the arena's override, else the pool's), in pages. */
  granularityPages: number;
  policy: DiscardPolicy;
}

interface ModelLease {
  id: string;
  arena: ModelArena;
  start: number;
  count: number;
  pages: Page[];
  failed: boolean;
}

interface Model {
  capacity: number;
  granularityPages: number;
  policy: DiscardPolicy;
  capPages: number;
  overflow: "reject" | "zero";
  arenas: ModelArena[];
  leases: ModelLease[];
}

interface Real {
  pool: Pool;
}

/**
 * How often each kind of checked event happened over the whole run. The test fails when one
 * is rarer than MIN_PER_RUN says: a generator change that stops reaching a state must not leave
 * a test that passes because it checks nothing.
 */
const tally = new Map<string, number>();
const note = (event: string): void => void tally.set(event, (tally.get(event) ?? 0) + 1);

const blockPagesOf = (a: ModelArena) => Math.max(a.granularityPages, PAGES);
const sidesOf = (l: ModelLease) => (l.arena.pair ? 2 : 1);
const neededOn = (l: ModelLease, p: Page, side: number) => !p.disc && (!l.arena.pair || (side === 0 ? p.priv : !p.priv));
const held = (p: Page) => p.pop[0] || p.pop[1];
const copyPage = (p: Page): Page => ({ ...p, pop: [...p.pop] });
/** A page's four fields as one number (the model is brute force, but not needlessly slow). */
const code = (p: Page) => Number(p.priv) | (Number(p.disc) << 1) | (Number(p.pop[0]) << 2) | (Number(p.pop[1]) << 3);

function unitPopulated(pages: readonly Page[], unit: number, side: number): boolean {
  for (let i = unit * PAGES; i < (unit + 1) * PAGES; i++) if (pages[i]!.pop[side]) return true;
  return false;
}

function populatedSideUnits(m: Model): number {
  let n = 0;
  for (const l of m.leases) {
    for (let side = 0; side < sidesOf(l); side++) {
      for (let u = 0; u < l.count; u++) if (unitPopulated(l.pages, u, side)) n++;
    }
  }
  return n;
}

function deferredPages(m: Model): number {
  let n = 0;
  for (const l of m.leases) for (const p of l.pages) n += p.disc ? Number(p.pop[0]) + Number(p.pop[1]) : 0;
  return n;
}

/** Side-units that planning a change on [lo, hi) pages would take from the reserve. */
function unitsNeeded(l: ModelLease, lo: number, hi: number): number {
  const block = blockPagesOf(l.arena);
  let n = 0;
  for (let side = 0; side < sidesOf(l); side++) {
    for (let b = Math.floor(lo / block) * block; b < hi; b += block) {
      const pages = l.pages.slice(b, b + block);
      if (pages.some((p) => neededOn(l, p, side)) && pages.some((p) => !p.pop[side])) {
        for (let u = b; u < b + block; u += PAGES) if (!l.pages.slice(u, u + PAGES).some((p) => p.pop[side])) n++;
      }
    }
  }
  return n;
}

/** The maximal runs of `pages` where `field` holds (the shape `LeasePages.runs` returns). */
function runsOf(pages: readonly Page[], field: (p: Page) => boolean): [number, number][] {
  const runs: [number, number][] = [];
  pages.forEach((p, i) => {
    if (!field(p)) return;
    const last = runs[runs.length - 1];
    if (last?.[1] === i) last[1] = i + 1;
    else runs.push([i, i + 1]);
  });
  return runs;
}

function compare(m: Model, r: Real): void {
  const pool = r.pool;
  pool.assertInvariants();
  assert.equal(pool.reserve.freeUnits, m.capacity - populatedSideUnits(m), "free units");
  assert.equal(pool.deferredBytes, deferredPages(m) * PAGE_BYTES, "deferred bytes");
  let stale = 0;
  let split = 0;
  for (const l of m.leases) {
    const lease = pool.lease(l.id);
    assert.equal(lease.start, l.start);
    assert.equal(lease.state, l.failed ? "failed" : "active");
    const fields: ((p: Page) => boolean)[] = [(p) => p.priv, (p) => p.disc, (p) => p.pop[0], (p) => p.pop[1]];
    fields.forEach((field, f) => {
      assert.deepEqual(lease.pages.runs(0, l.pages.length, (...w) => w[f]!), runsOf(l.pages, field), `lease ${l.id} field ${f}`);
    });
    for (let u = 0; u < l.count; u++) {
      const first = code(l.pages[u * PAGES]!);
      for (let i = u * PAGES + 1; i < (u + 1) * PAGES; i++) {
        if (code(l.pages[i]!) !== first) {
          split++;
          break;
        }
      }
    }
    if (l.arena.pair) for (const p of l.pages) if (!p.disc && ((p.priv && p.pop[1]) || (!p.priv && p.pop[0]))) stale++;
  }
  assert.equal(pool.splitUnits, split, "split units");
  const restored = importSnapshot(JSON.parse(JSON.stringify(exportSnapshot(pool))) as PoolSnapshot);
  assert.deepEqual(fragmentationReport(restored), fragmentationReport(pool), "snapshot round trip");
  assert.equal(pool.staleBytes, stale * PAGE_BYTES, "stale bytes");
}

/** The lease-relative page range of a population step. */
function stepPages(l: ModelLease, step: KernelStep): [number, number] {
  return [step.bytes.start / PAGE_BYTES - l.start * PAGES, step.bytes.end / PAGE_BYTES - l.start * PAGES];
}

/**
 * The units a populate / punch step moves, from the model as it is before the plan settles:
 * a populate takes the side-units of its range that hold nothing, a punch returns those whose
 * every populated page it covers. (The daemon reports these sums as allocated and released
 * units, e.g. DiscardResponse.released_unit_count.)
 */
function expectedUnits(l: ModelLease, step: KernelStep): number {
  if (step.op !== "populate" && step.op !== "punch") return 0;
  const [lo, hi] = stepPages(l, step);
  let n = 0;
  for (let u = Math.floor(lo / PAGES); u * PAGES < hi; u++) {
    const unit = l.pages.slice(u * PAGES, (u + 1) * PAGES);
    if (step.op === "populate" && !unit.some((p) => p.pop[step.side])) n++;
    if (step.op === "punch" && unit.some((p) => p.pop[step.side]) && unit.every((p, i) => !p.pop[step.side] || (u * PAGES + i >= lo && u * PAGES + i < hi))) n++;
  }
  return n;
}

/**
 * What the model knows of a plan when it is made, for the figures of its PlanResult: the range's
 * page counts as they were before the plan (restored, converted), the discard outcome the model
 * computed, and the units a conversion to private may make collapsible.
 */
interface PlanningFigures {
  readonly kind: PlanKind;
  readonly zeroedBytes?: number;
  readonly deferredBytes?: number;
  readonly restoredBytes?: number;
  readonly convertedBytes?: number;
  readonly discardPolicy?: PlanResult["discardPolicy"];
  /** Lease-relative units of the range that were not all private before a conversion to private. */
  readonly collapseCandidates?: readonly number[];
}

/** Lease-relative units meeting [lo, hi) not all private (what a conversion to private may collapse). */
function notAllPrivate(l: ModelLease, lo: number, hi: number): number[] {
  const result: number[] = [];
  for (let u = Math.floor(lo / PAGES); u * PAGES < hi; u++) if (l.pages.slice(u * PAGES, (u + 1) * PAGES).some((p) => !p.priv)) result.push(u);
  return result;
}

const countPages = (l: ModelLease, lo: number, hi: number, field: (p: Page) => boolean) => l.pages.slice(lo, hi).filter(field).length;

/**
 * Checks a plan against the model while it is in flight (invariants with claimed units, units
 * each step moves), applies the steps the kernel "did" to the model, then settles the real plan
 * and checks its result, every figure recomputed by the model: the units and bytes of the steps
 * it applied, the planning figures, the lease's state and the units all private again.
 */
function settle(m: Model, r: Real, l: ModelLease, plan: Plan, failMask: number, figures: PlanningFigures): boolean {
  r.pool.assertInvariants();
  const g = l.arena.granularityPages;
  const moved = plan.steps.map((step) => expectedUnits(l, step));
  plan.steps.forEach((step, i) => {
    const align = step.op === "zero" || step.op === "set-attributes" ? PAGE_BYTES : Math.min(g * PAGE_BYTES, step.op === "punch" && step.unitsReturned === 0 ? PAGE_BYTES : UNIT_BYTES);
    assert.equal(step.bytes.start % align, 0, `step ${step.op} aligned to ${align}`);
    if (step.op === "populate") assert.equal(step.unitsTaken, moved[i], "units a populate step takes");
    if (step.op === "punch") assert.equal(step.unitsReturned, moved[i], "units a punch step returns");
  });
  const failed: number[] = [];
  const done = { unitsTaken: 0, unitsReturned: 0, punchedBytes: 0, populatedBytes: 0 };
  plan.steps.forEach((step, i) => {
    if ((failMask >> i % 31) & 1) {
      failed.push(i);
      return;
    }
    const [lo, hi] = stepPages(l, step);
    for (let p = lo; p < hi; p++) {
      const page = l.pages[p]!;
      if (step.op === "populate") page.pop[step.side] = true;
      if (step.op === "punch") page.pop[step.side] = false;
      if (step.op === "set-attributes") page.priv = step.private;
    }
    if (step.op === "populate") {
      done.unitsTaken += moved[i]!;
      done.populatedBytes += (hi - lo) * PAGE_BYTES;
    }
    if (step.op === "punch") {
      done.unitsReturned += moved[i]!;
      done.punchedBytes += (hi - lo) * PAGE_BYTES;
    }
  });
  const result = r.pool.commit(plan.id, failed);
  const allDone = failed.length === 0;
  const leaseState = figures.kind === "release" && allDone ? "released" : (figures.kind === "allocate" || figures.kind === "release") && !allDone ? "failed" : l.failed ? "failed" : "active";
  const collapsibleUnits = leaseState === "released" ? [] : (figures.collapseCandidates ?? []).filter((u) => l.pages.slice(u * PAGES, (u + 1) * PAGES).every((p) => p.priv)).map((u) => l.start + u);
  assert.deepEqual(result, {
    planId: plan.id, kind: figures.kind, leaseId: l.id, arenaId: l.arena.id, applied: plan.steps.length - failed.length, reverted: failed.length, leaseState, collapsibleUnits,
    ...done,
    zeroedBytes: figures.zeroedBytes ?? 0, deferredBytes: figures.deferredBytes ?? 0, restoredBytes: figures.restoredBytes ?? 0, convertedBytes: figures.convertedBytes ?? 0, discardPolicy: figures.discardPolicy,
  } satisfies PlanResult, `result of ${figures.kind} plan ${plan.id}`);
  if (failed.length > 0) note(`result: ${figures.kind} with a failed step`);
  if (collapsibleUnits.length > 0) note("result: collapsible units");
  return allDone;
}

/** Checks that after a fully applied plan every block of [lo, hi) holds what it needs. */
function checkPopulationTarget(l: ModelLease, lo: number, hi: number): void {
  const block = blockPagesOf(l.arena);
  for (let side = 0; side < sidesOf(l); side++) {
    for (let b = Math.floor(lo / block) * block; b < hi; b += block) {
      const pages = l.pages.slice(b, b + block);
      const needed = pages.some((p) => neededOn(l, p, side));
      if (!needed) assert.ok(pages.every((p) => !p.pop[side]), `block ${b} side ${side} should be punched`);
      else if (l.arena.granularityPages >= PAGES) assert.ok(pages.every((p) => p.pop[side]), `block ${b} side ${side} should be populated`);
      else assert.ok(pages.every((p) => !neededOn(l, p, side) || p.pop[side]), `needed pages of ${b} side ${side} populated`);
    }
  }
}

function expectFailure(fn: () => unknown, kind: abstract new (...args: never[]) => GmempoolError, event: string): void {
  assert.throws(fn, kind);
  note(event);
}

const rangeRequest = (l: ModelLease, lo: number, hi: number): RangeRequest => ({ leaseId: l.id, offsetBytes: (l.start * PAGES + lo) * PAGE_BYTES, lengthBytes: (hi - lo) * PAGE_BYTES });

// ------------------------------------------------------------------ ranges

/**
 * Where in a lease a range command lands; resolved against the lease when the command runs.
 * - `in-unit`: inside one unit (a sub-unit discard: the policy decides);
 * - `in-block`: inside one punch block (several units of it when the granularity is larger);
 * - `across`: from inside one unit to inside a later one (sub-granularity edges, whole middle);
 * - `units`: whole units (whole blocks at 2 MiB; the policy decides at larger granularities);
 * - `complete`: the live pages of a partly discarded block or unit, so the discard completes it;
 * - `around-discarded`: an already discarded run and some pages either side (re-discard,
 *   re-populate);
 * - `anywhere`: any range inside the lease;
 * - `invalid`: past the lease's end, before its start, empty, misaligned, or another owner's.
 */
type Shape = "in-unit" | "in-block" | "across" | "units" | "complete" | "around-discarded" | "anywhere" | "invalid";

const SHAPES: readonly { arbitrary: fc.Arbitrary<Shape>; weight: number }[] = ([
  ["in-unit", 6], ["in-block", 2], ["across", 3], ["units", 2], ["complete", 4], ["around-discarded", 3], ["anywhere", 2], ["invalid", 1],
] as const).map(([shape, weight]) => ({ arbitrary: fc.constant(shape), weight }));

class RangePick {
  readonly shape: Shape;
  readonly a: number;
  readonly b: number;
  readonly c: number;
  constructor(shape: Shape, a: number, b: number, c: number) {
    this.shape = shape;
    this.a = a;
    this.b = b;
    this.c = c;
  }

  /** A page range inside `l` ([lo, hi), lo < hi), or undefined for `invalid`. */
  resolve(l: ModelLease): [number, number] | undefined {
    const { a, b, c } = this;
    const len = l.pages.length;
    const block = blockPagesOf(l.arena);
    const inside = (start: number, size: number): [number, number] => {
      const s = start + (b % size);
      return [s, s + 1 + (c % (start + size - s))];
    };
    switch (this.shape) {
      case "in-unit":
        return inside((a % l.count) * PAGES, PAGES);
      case "in-block":
        return inside((a % (len / block)) * block, block);
      case "across": {
        const u = a % l.count;
        const s = u * PAGES + (b % PAGES);
        return [s, Math.min(len, Math.max(s + 1, (u + 1 + (c % 3)) * PAGES + ((c >> 2) % PAGES)))];
      }
      case "units": {
        const u = a % l.count;
        return [u * PAGES, (u + 1 + (b % (l.count - u))) * PAGES];
      }
      case "complete": {
        const size = b % 2 === 0 ? block : PAGES;
        for (let i = 0; i < len / size; i++) {
          const start = ((a + i) % (len / size)) * size;
          const pages = l.pages.slice(start, start + size);
          const first = pages.findIndex((p) => !p.disc);
          if (first < 0 || !pages.some((p) => p.disc)) continue;
          return [start + first, start + pages.findLastIndex((p) => !p.disc) + 1];
        }
        return inside((a % l.count) * PAGES, PAGES);
      }
      case "around-discarded": {
        const runs = runsOf(l.pages, (p) => p.disc);
        const run = runs[a % Math.max(1, runs.length)];
        if (run === undefined) return inside((a % l.count) * PAGES, PAGES);
        return [Math.max(0, run[0] - (b % 3 === 0 ? 0 : b % 700)), Math.min(len, run[1] + (c % 3 === 0 ? 0 : c % 700))];
      }
      case "anywhere":
        return inside(0, len);
      case "invalid":
        return undefined;
    }
  }

  /** An invalid request naming `l` (for `invalid`), and the error the pool must give. */
  invalid(l: ModelLease): { owner: string; request: RangeRequest; error: new (...args: never[]) => GmempoolError } {
    const base = rangeRequest(l, 0, 1);
    const len = l.pages.length;
    const bad = { owner: "vmm", error: InvalidArgumentError };
    switch (this.a % 5) {
      case 0:
        return { ...bad, request: rangeRequest(l, len - 1 - (this.b % len), len + 1 + (this.c % 600)) };
      case 1:
        return { ...bad, request: { ...base, offsetBytes: base.offsetBytes - (1 + (this.b % 600)) * PAGE_BYTES, lengthBytes: (1 + (this.b % 600) + (this.c % len)) * PAGE_BYTES } };
      case 2:
        return { ...bad, request: { ...base, lengthBytes: 0 } };
      case 3:
        return { ...bad, request: { ...base, offsetBytes: base.offsetBytes + 2048 } };
      default:
        return { owner: "intruder", request: base, error: NotFoundError };
    }
  }

  toString = () => `${this.shape}(${this.a}, ${this.b}, ${this.c})`;
}

const rangePick = fc.tuple(fc.oneof(...SHAPES), fc.nat({ max: 4095 }), fc.nat({ max: 4095 }), fc.nat({ max: 4095 })).map((args) => new RangePick(...args));

// ------------------------------------------------------------------ discard

interface PlannedDiscard {
  l: ModelLease;
  plan: Plan;
  lo: number;
  hi: number;
  figures: PlanningFigures;
}

/**
 * The model's verdict on a discard of [lo, hi) of `l`: the refusal the pool must give (the model
 * is left as it was), or the model with the discard's marks applied and `verify`, which checks
 * the real plan against it. `taken`: the units the plan takes from the reserve.
 */
type DiscardPrediction =
  | { readonly refused: abstract new (...args: never[]) => GmempoolError; readonly event: string }
  | { readonly refused?: undefined; readonly taken: number; readonly verify: (plan: Plan) => PlannedDiscard };

/**
 * Plans a discard of [lo, hi) of `l`, or checks that the pool refuses it as the model says it
 * must (then returns undefined; nothing changed). The outcome is checked here, at plan time,
 * against the model with every step of the plan applied: it describes the plan, so it holds
 * whichever steps the kernel then fails. `claimedUnits`: units that plans still in flight took
 * from the reserve (the model counts them populated only once the plans settle).
 */
function planDiscard(m: Model, r: Real, l: ModelLease, lo: number, hi: number): PlannedDiscard | undefined {
  const request = rangeRequest(l, lo, hi);
  const prediction = predictDiscard(m, l, lo, hi, 0);
  if (prediction.refused !== undefined) {
    expectFailure(() => r.pool.discard("vmm", request), prediction.refused, prediction.event);
    return undefined;
  }
  return prediction.verify(r.pool.discard("vmm", request));
}

function predictDiscard(m: Model, l: ModelLease, lo: number, hi: number, claimedUnits: number): DiscardPrediction {
  if (l.failed) return { refused: FailedPreconditionError, event: "refused: failed lease" };
  const g = l.arena.granularityPages;
  const innerLo = Math.ceil(lo / g) * g;
  const innerHi = Math.floor(hi / g) * g;
  const hasInner = innerLo < innerHi;
  const edges = hasInner ? [[lo, innerLo], [innerHi, hi]] : [[lo, hi]];
  const edgePages = edges.flatMap(([s, e]) => l.pages.slice(s, e));
  let policy: DiscardPolicy | "none" = edgePages.length === 0 ? "none" : l.arena.policy;
  if (policy === "defer" && deferredPages(m) + edgePages.filter((p) => !p.disc && held(p)).length > m.capPages) {
    policy = m.overflow;
    note("discard: deferred cap reached");
  }
  if (policy === "reject" || (policy === "zero" && edgePages.some((p) => p.priv && !p.disc))) {
    return { refused: FailedPreconditionError, event: `refused: discard policy ${policy}` };
  }
  const marked = policy === "defer" ? [lo, hi] : hasInner ? [innerLo, innerHi] : [0, 0];
  const before = l.pages.slice(lo, hi).map(copyPage);
  const sharedSide = l.arena.pair ? 1 : 0;
  const zeroed = policy === "zero" ? edgePages.filter((p) => !p.disc && p.pop[sharedSide]).length : 0;
  const unitsBefore = [0, 1].map((side) => Array.from({ length: l.count }, (_, u) => unitPopulated(l.pages, u, side)));
  for (let p = marked[0]!; p < marked[1]!; p++) l.pages[p]!.disc = true;
  // A discard reconciles its blocks like any change: where an earlier failed step left a needed
  // page unpopulated, it populates, and the reserve may be short of the units (nothing changes).
  const taken = unitsNeeded(l, lo, hi);
  if (taken > m.capacity - populatedSideUnits(m) - claimedUnits) {
    before.forEach((p, i) => (l.pages[lo + i] = p));
    return { refused: ExhaustedError, event: "refused: exhausted" };
  }
  return { taken, verify: (plan) => verifyDiscard(l, lo, hi, plan, { policy, before, zeroed, unitsBefore }) };
}

/** Checks a discard plan's outcome against the model (its marks applied, no step yet). */
function verifyDiscard(l: ModelLease, lo: number, hi: number, plan: Plan, planned: { policy: DiscardPolicy | "none"; before: Page[]; zeroed: number; unitsBefore: boolean[][] }): PlannedDiscard {
  const { policy, before, zeroed, unitsBefore } = planned;
  const g = l.arena.granularityPages;
  assert.equal(plan.leaseId, l.id);
  assert.equal(plan.discard?.policy, policy);

  // The lease as it is once every step of the plan happened.
  const after = l.pages.map(copyPage);
  for (const step of plan.steps) {
    const [s, e] = stepPages(l, step);
    for (let p = s; p < e; p++) if (step.op === "punch" || step.op === "populate") after[p]!.pop[step.side] = step.op === "populate";
  }
  // The outcome, as DiscardResponse in pool.proto defines it: every page of the range is
  // punched now, zeroed, deferred (newly discarded, some file still holds it) or discarded before.
  const newly = before.flatMap((p, i) => (!p.disc && l.pages[lo + i]!.disc ? [{ was: p, now: after[lo + i]! }] : []));
  const deferred = newly.filter((p) => held(p.now)).length;
  const punchedShare = newly.filter((p) => held(p.was) && !held(p.now)).length;
  const already = before.filter((p) => p.disc).length;
  const punchSteps = plan.steps.filter((st) => st.op === "punch");
  const punchedBytes = punchSteps.reduce((n, st) => n + st.bytes.end - st.bytes.start, 0);
  assert.deepEqual(plan.discard, { policy, punchedBytes, zeroedBytes: zeroed * PAGE_BYTES, deferredBytes: deferred * PAGE_BYTES });
  assert.ok(punchedShare * PAGE_BYTES <= punchedBytes, "the range's punched share is at most punched bytes");
  // Released units (DiscardResponse.released_unit_count, the sum the daemon takes over the
  // punch steps): the side-units that held pages before and hold none after.
  let released = 0;
  for (let side = 0; side < sidesOf(l); side++) for (let u = 0; u < l.count; u++) if (unitsBefore[side]![u] && !unitPopulated(after, u, side)) released++;
  assert.equal(punchSteps.reduce((n, st) => n + st.unitsReturned, 0), released, "released units");
  // The shares add up when every live page of the range was where it lives (no failed step behind).
  if (before.every((p) => p.disc || p.pop[l.arena.pair && !p.priv ? 1 : 0])) {
    assert.equal(punchedShare + zeroed + deferred + already, hi - lo, "punched + zeroed + deferred + already-discarded = length");
  }

  note(`discard: granularity ${g === 1 ? "4 KiB" : g === PAGES ? "2 MiB" : "> 2 MiB"}`);
  if (l.arena.pair) note("discard: pair");
  if (policy === "defer" && deferred > 0) note("discard: deferred");
  if (policy === "defer" && released > 0 && (lo % blockPagesOf(l.arena) !== 0 || hi % blockPagesOf(l.arena) !== 0)) note("discard: a sub-block discard completes a block");
  if (already > 0) note("discard: re-discard");
  if (zeroed > 0) note("discard: zeroed");
  if (l.arena.pair && punchSteps.some((st) => !plan.steps.some((o) => o.op === "punch" && o.side !== st.side && o.bytes.start === st.bytes.start))) {
    note("discard: pair punched on one side");
  }
  const figures: PlanningFigures = { kind: "discard", zeroedBytes: zeroed * PAGE_BYTES, deferredBytes: deferred * PAGE_BYTES, discardPolicy: policy === "none" ? undefined : policy };
  return { l, plan, lo, hi, figures };
}

function settleDiscard(m: Model, r: Real, d: PlannedDiscard, failMask: number): void {
  if (settle(m, r, d.l, d.plan, failMask, d.figures)) checkPopulationTarget(d.l, d.lo, d.hi);
}

// ------------------------------------------------------------------ commands

type Cmd = fc.Command<Model, Real>;
type ArenaKind = "gmem" | "memfd" | "pair";

interface ArenaChoice {
  kind: ArenaKind;
  /** Size in populate blocks of its granularity. */
  blocks: number;
  granularityPages: number | undefined;
  policy: DiscardPolicy | undefined;
}

/** Registers an arena; `invalid` makes its size a non-multiple of its punch block (refused). */
function registerArena(m: Model, r: Real, choice: ArenaChoice, invalid: boolean): void {
  const granularityPages = choice.granularityPages ?? m.granularityPages;
  const blockUnits = Math.max(granularityPages, PAGES) / PAGES;
  const sizeUnits = choice.blocks * blockUnits;
  const files = choice.kind === "gmem" ? ["guest_memfd" as const] : choice.kind === "memfd" ? ["memfd" as const] : ["guest_memfd" as const, "memfd" as const];
  const policy = { ...(choice.granularityPages === undefined ? {} : { punchGranularityBytes: choice.granularityPages * PAGE_BYTES }), ...(choice.policy === undefined ? {} : { discard: choice.policy }) };
  if (invalid) {
    const sizeBytes = blockUnits > 1 ? (sizeUnits + 1) * UNIT_BYTES : sizeUnits * UNIT_BYTES + PAGE_BYTES;
    expectFailure(() => r.pool.registerArena("vmm", { sizeBytes, files, policy }), InvalidArgumentError, "refused: arena size");
    return;
  }
  if (sizeUnits > m.capacity) {
    expectFailure(() => r.pool.registerArena("vmm", { sizeBytes: sizeUnits * UNIT_BYTES, files, policy }), InvalidArgumentError, "refused: larger than the pool");
    return;
  }
  const arena = r.pool.registerArena("vmm", { sizeBytes: sizeUnits * UNIT_BYTES, files, policy });
  m.arenas.push({ id: arena.id, sizeUnits, pair: choice.kind === "pair", memfd: choice.kind === "memfd", used: new Array<boolean>(sizeUnits).fill(false), granularityPages, policy: choice.policy ?? m.policy });
}

const GRANULARITY_PAGES = fc.oneof({ arbitrary: fc.constant(1), weight: 2 }, { arbitrary: fc.constant(512), weight: 4 }, { arbitrary: fc.constant(1024), weight: 2 }, { arbitrary: fc.constant(2048), weight: 1 });
const DISCARD_POLICY = fc.oneof({ arbitrary: fc.constant("defer" as const), weight: 4 }, { arbitrary: fc.constant("zero" as const), weight: 1 }, { arbitrary: fc.constant("reject" as const), weight: 1 });
const arenaChoice: fc.Arbitrary<ArenaChoice> = fc.record({
  kind: fc.constantFrom<ArenaKind>("gmem", "pair", "memfd", "pair", "gmem"),
  blocks: fc.integer({ min: 1, max: 6 }),
  granularityPages: fc.option(GRANULARITY_PAGES, { nil: undefined, freq: 3 }),
  policy: fc.option(DISCARD_POLICY, { nil: undefined, freq: 3 }),
});

class RegisterArena implements Cmd {
  readonly choice: ArenaChoice;
  readonly invalid: boolean;
  constructor(choice: ArenaChoice, invalid: boolean) {
    this.choice = choice;
    this.invalid = invalid;
  }
  check = () => true;
  run(m: Model, r: Real): void {
    registerArena(m, r, this.choice, this.invalid);
    compare(m, r);
  }
  toString = () => `RegisterArena(${JSON.stringify(this.choice)}, ${this.invalid})`;
}

/** Where a new lease goes: the fit strategy, a free aligned slot, or any unit (often refused). */
type Placement = "fit" | "free-slot" | "any";

class Allocate implements Cmd {
  readonly arenaPick: number;
  readonly blocks: number;
  readonly invalidCount: boolean;
  readonly placement: Placement;
  readonly offsetPick: number;
  readonly priv: boolean;
  readonly failMask: number;
  constructor(arenaPick: number, blocks: number, invalidCount: boolean, placement: Placement, offsetPick: number, priv: boolean, failMask: number) {
    this.arenaPick = arenaPick;
    this.blocks = blocks;
    this.invalidCount = invalidCount;
    this.placement = placement;
    this.offsetPick = offsetPick;
    this.priv = priv;
    this.failMask = failMask;
  }
  check = (m: Readonly<Model>) => m.arenas.length > 0;
  run(m: Model, r: Real): void {
    const arena = m.arenas[this.arenaPick % m.arenas.length]!;
    const blockUnits = blockPagesOf(arena) / PAGES;
    // Sized to fit the arena (1 to `blocks` blocks of it), or one unit off on purpose.
    const valid = (1 + ((this.blocks - 1) % (arena.sizeUnits / blockUnits))) * blockUnits;
    const count = this.invalidCount ? (blockUnits > 1 ? valid + 1 : arena.sizeUnits + 1) : valid;
    const free = (s: number) => s + count <= arena.sizeUnits && arena.used.slice(s, s + count).every((u) => !u);
    let offset: number | undefined;
    if (this.placement === "any") offset = this.offsetPick % (arena.sizeUnits + 1);
    if (this.placement === "free-slot") {
      const slots = Array.from({ length: arena.sizeUnits / blockUnits }, (_, i) => i * blockUnits).filter(free);
      offset = slots.length === 0 ? 0 : slots[this.offsetPick % slots.length]!;
    }
    const request = { arenaId: arena.id, unitCount: count, initiallyPrivate: this.priv, ...(offset === undefined ? {} : { offsetUnits: offset }) };
    let start = offset;
    if (start === undefined) {
      for (let s = 0; s + count <= arena.sizeUnits; s += blockUnits) {
        if (free(s)) {
          start = s;
          break;
        }
      }
    }
    const invalid = count % blockUnits !== 0 || count > arena.sizeUnits || (offset !== undefined && (offset % blockUnits !== 0 || offset + count > arena.sizeUnits));
    if (invalid || start === undefined || !free(start) || count > m.capacity - populatedSideUnits(m)) {
      expectFailure(() => r.pool.allocate("vmm", request), GmempoolError, "refused: allocate");
      compare(m, r);
      return;
    }
    const plan = r.pool.allocate("vmm", request);
    const l: ModelLease = { id: plan.leaseId, arena, start, count, failed: false, pages: [] };
    for (let p = 0; p < count * PAGES; p++) l.pages.push({ priv: this.priv, disc: false, pop: [false, false] });
    arena.used.fill(true, start, start + count);
    m.leases.push(l);
    assert.equal(r.pool.lease(plan.leaseId).pages.sides, sidesOf(l));
    if (settle(m, r, l, plan, this.failMask, { kind: "allocate" })) checkPopulationTarget(l, 0, l.pages.length);
    else l.failed = true;
    compare(m, r);
  }
  toString = () => `Allocate(${this.arenaPick}, ${this.blocks}, ${this.invalidCount}, ${this.placement}, ${this.offsetPick}, ${this.priv}, ${this.failMask})`;
}

class Release implements Cmd {
  readonly leasePick: number;
  readonly failMask: number;
  constructor(leasePick: number, failMask: number) {
    this.leasePick = leasePick;
    this.failMask = failMask;
  }
  check = (m: Readonly<Model>) => m.leases.length > 0;
  run(m: Model, r: Real): void {
    const l = m.leases[this.leasePick % m.leases.length]!;
    const plan = r.pool.release("vmm", l.id);
    if (settle(m, r, l, plan, this.failMask, { kind: "release" })) {
      m.leases.splice(m.leases.indexOf(l), 1);
      l.arena.used.fill(false, l.start, l.start + l.count);
      // A bad release is not-found, never a no-op (STYLE.md rule 3).
      expectFailure(() => r.pool.release("vmm", l.id), NotFoundError, "refused: release of a released lease");
    } else {
      l.failed = true;
    }
    compare(m, r);
  }
  toString = () => `Release(${this.leasePick}, ${this.failMask})`;
}

abstract class RangeCommand implements Cmd {
  readonly leasePick: number;
  readonly range: RangePick;
  readonly failMask: number;
  constructor(leasePick: number, range: RangePick, failMask: number) {
    this.leasePick = leasePick;
    this.range = range;
    this.failMask = failMask;
  }
  check = (m: Readonly<Model>) => m.leases.length > 0;
  run(m: Model, r: Real): void {
    const l = m.leases[this.leasePick % m.leases.length]!;
    const range = this.range.resolve(l);
    if (range === undefined) {
      const { owner, request, error } = this.range.invalid(l);
      expectFailure(() => this.call(r, owner, request), error, "refused: invalid range");
    } else {
      this.runOn(m, r, l, range[0], range[1]);
    }
    compare(m, r);
  }
  protected abstract call(r: Real, owner: string, request: RangeRequest): Plan;
  protected abstract runOn(m: Model, r: Real, l: ModelLease, lo: number, hi: number): void;
  toString = () => `${this.constructor.name}(${this.leasePick}, ${this.range.toString()}, ${this.failMask})`;
}

class Discard extends RangeCommand {
  protected call(r: Real, owner: string, request: RangeRequest): Plan {
    return r.pool.discard(owner, request);
  }
  protected runOn(m: Model, r: Real, l: ModelLease, lo: number, hi: number): void {
    const planned = planDiscard(m, r, l, lo, hi);
    if (planned !== undefined) settleDiscard(m, r, planned, this.failMask);
  }
}

/**
 * A discard spanning leases: `Pool.discardRange` over an arena range, which the core splits at
 * lease boundaries into one plan per lease, all in flight together, then settled (as the daemon
 * does). The model predicts each segment in the core's order — the first and last segments (the
 * only ones a policy can refuse), then the middle ones — and when one is refused, the whole call
 * must be refused with its error and change nothing (pool.proto): the core cancels the plans it
 * made, so the model goes back to where it was. A per-lease discard past its lease is refused;
 * an arena range with a gap or past the arena's end is refused before anything is planned.
 */
class DiscardAcrossLeases implements Cmd {
  readonly leasePick: number;
  readonly startPick: number;
  readonly endPick: number;
  readonly asOneCall: boolean;
  readonly failMask: number;
  constructor(leasePick: number, startPick: number, endPick: number, asOneCall: boolean, failMask: number) {
    this.leasePick = leasePick;
    this.startPick = startPick;
    this.endPick = endPick;
    this.asOneCall = asOneCall;
    this.failMask = failMask;
  }
  check = (m: Readonly<Model>) => m.leases.length > 0;
  run(m: Model, r: Real): void {
    const next = (l: ModelLease) => m.leases.find((n) => n.arena === l.arena && n.start === l.start + l.count);
    // A lease followed by another in its arena when there is one (what a spanning range needs).
    const followed = m.leases.filter((l) => next(l) !== undefined);
    const candidates = followed.length === 0 || this.asOneCall ? m.leases : followed;
    const first = candidates[this.leasePick % candidates.length]!;
    const chain = [first];
    for (let n = next(first); n !== undefined; n = next(n)) chain.push(n);
    // Start in the first lease (on a unit boundary or not), end in a later one.
    const lo = this.startPick % 2 === 0 ? ((this.startPick >> 1) % first.count) * PAGES : (this.startPick >> 1) % first.pages.length;
    const arenaRange = (startPage: number, endPage: number) => ({ arenaId: first.arena.id, offsetBytes: startPage * PAGE_BYTES, lengthBytes: (endPage - startPage) * PAGE_BYTES });
    const base = first.start * PAGES;
    if (chain.length === 1 || this.asOneCall) {
      const past = first.pages.length + 1 + (this.endPick % 1024);
      expectFailure(() => r.pool.discard("vmm", rangeRequest(first, lo, past)), InvalidArgumentError, "refused: discard past the lease");
      if (chain.length === 1) {
        const pastArena = base + past > first.arena.sizeUnits * PAGES;
        expectFailure(() => r.pool.discardRange("vmm", arenaRange(base + lo, base + past)), pastArena ? InvalidArgumentError : FailedPreconditionError, pastArena ? "refused: range past the arena" : "refused: range not leased");
      }
      compare(m, r);
      return;
    }
    const lastIndex = 1 + (this.endPick % (chain.length - 1));
    const last = chain[lastIndex]!;
    const hi = 1 + ((this.endPick >> 3) % last.pages.length);
    const order = [0, lastIndex, ...Array.from({ length: lastIndex - 1 }, (_, k) => k + 1)];
    const request = arenaRange(base + lo, last.start * PAGES + hi);
    const verifiers = new Array<(plan: Plan) => PlannedDiscard>(lastIndex + 1);
    const modelBefore = new Map<ModelLease, Page[]>();
    let claimed = 0;
    for (const i of order) {
      const l = chain[i]!;
      const pagesBefore = l.pages.map(copyPage);
      const prediction = predictDiscard(m, l, i === 0 ? lo : 0, i === lastIndex ? hi : l.pages.length, claimed);
      if (prediction.refused !== undefined) {
        // Refused before any kernel call: the core cancels what it planned, page marks and all.
        for (const [lease, pages] of modelBefore) lease.pages = pages;
        expectFailure(() => r.pool.discardRange("vmm", request), prediction.refused, prediction.event);
        note(modelBefore.size > 0 ? "discard: across leases, cancelled" : "discard: across leases, first refused");
        compare(m, r);
        return;
      }
      claimed += prediction.taken;
      verifiers[i] = prediction.verify;
      modelBefore.set(l, pagesBefore);
    }
    const plans = r.pool.discardRange("vmm", request);
    assert.deepEqual(plans.map((p) => p.leaseId), chain.slice(0, lastIndex + 1).map((l) => l.id), "one plan per lease, in range order");
    const planned = plans.map((plan, i) => verifiers[i]!(plan));
    note("discard: across leases");
    for (const d of planned) settleDiscard(m, r, d, this.failMask);
    compare(m, r);
  }
  toString = () => `DiscardAcrossLeases(${this.leasePick}, ${this.startPick}, ${this.endPick}, ${this.asOneCall}, ${this.failMask})`;
}

class Populate extends RangeCommand {
  protected call(r: Real, owner: string, request: RangeRequest): Plan {
    return r.pool.populate(owner, request);
  }
  protected runOn(m: Model, r: Real, l: ModelLease, lo: number, hi: number): void {
    const request = rangeRequest(l, lo, hi);
    if (l.failed) {
      expectFailure(() => r.pool.populate("vmm", request), FailedPreconditionError, "refused: failed lease");
      return;
    }
    const saved = l.pages.map(copyPage);
    for (let p = lo; p < hi; p++) l.pages[p]!.disc = false;
    if (unitsNeeded(l, lo, hi) > m.capacity - populatedSideUnits(m)) {
      l.pages = saved;
      expectFailure(() => r.pool.populate("vmm", request), ExhaustedError, "refused: exhausted");
      return;
    }
    if (saved.slice(lo, hi).some((p) => p.disc)) note("populate: discarded pages");
    const figures: PlanningFigures = { kind: "populate", restoredBytes: saved.slice(lo, hi).filter((p) => p.disc).length * PAGE_BYTES };
    if (settle(m, r, l, r.pool.populate("vmm", request), this.failMask, figures)) checkPopulationTarget(l, lo, hi);
  }
}

class Convert extends RangeCommand {
  readonly toPrivate: boolean;
  readonly inPlace: boolean;
  constructor(leasePick: number, range: RangePick, failMask: number, toPrivate: boolean, inPlace: boolean) {
    super(leasePick, range, failMask);
    this.toPrivate = toPrivate;
    this.inPlace = inPlace;
  }
  protected call(r: Real, owner: string, request: RangeRequest): Plan {
    return r.pool.convert(owner, { ...request, toPrivate: this.toPrivate, mode: this.inPlace ? "in-place" : "notify" });
  }
  protected runOn(m: Model, r: Real, l: ModelLease, lo: number, hi: number): void {
    const request = rangeRequest(l, lo, hi);
    if (l.arena.memfd || (this.inPlace && l.arena.pair) || l.failed) {
      expectFailure(() => this.call(r, "vmm", request), FailedPreconditionError, "refused: convert");
      return;
    }
    // Counted before any change: the pages not in the target state, the units not all private.
    const figures: PlanningFigures = {
      kind: "convert",
      convertedBytes: countPages(l, lo, hi, (p) => p.priv !== this.toPrivate) * PAGE_BYTES,
      collapseCandidates: this.toPrivate ? notAllPrivate(l, lo, hi) : [],
    };
    if (this.inPlace) {
      // In place changes attributes only; population is not reconciled (a single file holds
      // both), so an earlier failed punch may still be pending here: no target check.
      settle(m, r, l, this.call(r, "vmm", request), this.failMask, figures);
      note("convert: in place");
      return;
    }
    const saved = l.pages.map(copyPage);
    for (let p = lo; p < hi; p++) l.pages[p]!.priv = this.toPrivate;
    if (unitsNeeded(l, lo, hi) > m.capacity - populatedSideUnits(m)) {
      l.pages = saved;
      expectFailure(() => this.call(r, "vmm", request), ExhaustedError, "refused: exhausted");
      return;
    }
    const plan = this.call(r, "vmm", request);
    const sharedSide = l.arena.pair ? 1 : 0;
    for (const step of plan.steps) {
      // Zeroing happens only on shared copies the conversion left populated and stale.
      if (step.op === "zero") for (let p = stepPages(l, step)[0]; p < stepPages(l, step)[1]; p++) assert.ok(l.pages[p]!.pop[sharedSide] && !l.pages[p]!.disc, "zero step on a stale shared page");
    }
    note(`convert: notify${l.arena.pair ? " (pair)" : ""}`);
    if (settle(m, r, l, plan, this.failMask, figures)) checkPopulationTarget(l, lo, hi);
  }
  override toString = () => `Convert(${this.leasePick}, ${this.range.toString()}, ${this.failMask}, ${this.toPrivate}, ${this.inPlace})`;
}

/**
 * Admin: moves the deferred cap to just above what is deferred now (by `headroomPages`), so that
 * the next deferrals meet it: a fixed cap is either far away or already reached.
 */
class SetDeferredCap implements Cmd {
  readonly headroomPages: number;
  readonly overflow: "reject" | "zero";
  constructor(headroomPages: number, overflow: "reject" | "zero") {
    this.headroomPages = headroomPages;
    this.overflow = overflow;
  }
  check = () => true;
  run(m: Model, r: Real): void {
    m.capPages = deferredPages(m) + this.headroomPages;
    m.overflow = this.overflow;
    r.pool.setPolicy({ deferredCapBytes: m.capPages * PAGE_BYTES, deferOverflow: this.overflow });
    compare(m, r);
  }
  toString = () => `SetDeferredCap(${this.headroomPages}, ${this.overflow})`;
}

/** Two plans on the same unit: the second conflicts until the first settles. */
class Interleave implements Cmd {
  readonly leasePick: number;
  constructor(leasePick: number) {
    this.leasePick = leasePick;
  }
  check = (m: Readonly<Model>) => m.leases.length > 0;
  run(m: Model, r: Real): void {
    const l = m.leases[this.leasePick % m.leases.length]!;
    if (l.failed || l.arena.memfd) return;
    const request = { ...rangeRequest(l, 0, 1), toPrivate: true, mode: "notify" as const };
    const figures: PlanningFigures = { kind: "convert", convertedBytes: countPages(l, 0, 1, (p) => !p.priv) * PAGE_BYTES, collapseCandidates: notAllPrivate(l, 0, 1) };
    let plan: Plan;
    try {
      plan = r.pool.convert("vmm", request);
    } catch (e) {
      assert.ok(e instanceof ExhaustedError);
      return;
    }
    l.pages[0]!.priv = true;
    expectFailure(() => r.pool.discard("vmm", rangeRequest(l, 0, 1)), ConflictError, "refused: conflict");
    expectFailure(() => r.pool.release("vmm", l.id), ConflictError, "refused: conflict");
    settle(m, r, l, plan, 0, figures);
    compare(m, r);
  }
  toString = () => `Interleave(${this.leasePick})`;
}

// ------------------------------------------------------------------ the property

/** A failure mask that fails a step now and then (about one command in `odds`). */
const failMask = (odds: number) => fc.nat({ max: odds - 1 }).chain((f) => (f === 0 ? fc.integer({ min: 1, max: 7 }) : fc.constant(0)));

const COMMANDS: fc.Arbitrary<Cmd> = fc.oneof(
  { weight: 1, arbitrary: fc.tuple(arenaChoice, fc.nat({ max: 5 })).map(([c, i]) => new RegisterArena(c, i === 0)) },
  {
    weight: 4,
    arbitrary: fc
      .tuple(fc.nat({ max: 7 }), fc.constantFrom(1, 1, 1, 2, 2, 3), fc.nat({ max: 7 }), fc.constantFrom<Placement>("fit", "fit", "fit", "free-slot", "any"), fc.nat({ max: 31 }), fc.boolean(), failMask(12))
      .map(([a, b, invalid, p, o, priv, f]) => new Allocate(a, b, invalid === 0, p, o, priv, f)),
  },
  { weight: 2, arbitrary: fc.tuple(fc.nat({ max: 7 }), failMask(8)).map(([l, f]) => new Release(l, f)) },
  { weight: 12, arbitrary: fc.tuple(fc.nat({ max: 7 }), rangePick, failMask(10)).map(([l, p, f]) => new Discard(l, p, f)) },
  {
    weight: 2,
    arbitrary: fc.tuple(fc.nat({ max: 7 }), fc.nat({ max: 4095 }), fc.nat({ max: 4095 }), fc.nat({ max: 5 }), failMask(10)).map(([l, s, e, one, f]) => new DiscardAcrossLeases(l, s, e, one === 0, f)),
  },
  { weight: 4, arbitrary: fc.tuple(fc.nat({ max: 7 }), rangePick, failMask(10)).map(([l, p, f]) => new Populate(l, p, f)) },
  {
    weight: 4,
    arbitrary: fc.tuple(fc.nat({ max: 7 }), rangePick, failMask(10), fc.boolean(), fc.nat({ max: 3 })).map(([l, p, f, priv, i]) => new Convert(l, p, f, priv, i === 0)),
  },
  { weight: 1, arbitrary: fc.nat({ max: 7 }).map((l) => new Interleave(l)) },
  { weight: 1, arbitrary: fc.tuple(fc.nat({ max: 2000 }), fc.constantFrom("reject" as const, "zero" as const)).map(([h, o]) => new SetDeferredCap(h, o)) },
);

/**
 * The fewest times each event must happen per property run, checked when the test makes at
 * least MIN_RUNS_FOR_GUARD runs (fewer are too noisy). Set at about a third of the smallest
 * rate seen over 60 seeds of 150 runs (GMEMPOOL_PROPERTY_STATS=1 prints the counts): e.g. 2.7
 * deferring discards per run at the least, 3.5 on average.
 */
const MIN_PER_RUN: Readonly<Record<string, number>> = {
  "discard: deferred": 1,
  "discard: a sub-block discard completes a block": 0.1,
  "discard: re-discard": 2,
  "discard: pair": 1.2,
  "discard: pair punched on one side": 0.4,
  "discard: granularity 4 KiB": 0.9,
  "discard: granularity 2 MiB": 1.5,
  "discard: granularity > 2 MiB": 0.7,
  "discard: across leases": 0.1,
  "discard: across leases, cancelled": 0.03,
  "refused: range not leased": 0.25,
  "refused: range past the arena": 0.25,
  "result: discard with a failed step": 0.08,
  "result: allocate with a failed step": 0.05,
  "result: populate with a failed step": 0.015,
  "result: convert with a failed step": 0.015,
  "result: collapsible units": 0.07,
  "discard: deferred cap reached": 0.2,
  "discard: zeroed": 0.15,
  "populate: discarded pages": 0.6,
  "convert: notify (pair)": 0.4,
  "convert: notify": 0.4,
  "convert: in place": 0.12,
  "refused: invalid range": 0.3,
  "refused: discard policy reject": 0.5,
  "refused: discard policy zero": 0.2,
};
const MIN_RUNS_FOR_GUARD = 100;

test("the pool agrees with a naive page-array model under random commands", () => {
  tally.clear();
  const numRuns = Number(process.env["GMEMPOOL_PROPERTY_RUNS"] ?? 200);
  const seed = process.env["FC_SEED"];
  fc.assert(
    fc.property(
      fc.record({
        capacity: fc.oneof({ weight: 1, arbitrary: fc.integer({ min: 4, max: 10 }) }, { weight: 3, arbitrary: fc.integer({ min: 12, max: 32 }) }),
        granularityPages: GRANULARITY_PAGES,
        policy: DISCARD_POLICY,
        capPages: fc.constantFrom(100_000, 100_000, 100_000, 100_000, 600, 64, 0),
        overflow: fc.constantFrom("reject" as const, "zero" as const),
        arenas: fc.array(arenaChoice, { minLength: 1, maxLength: 3 }),
        leases: fc.array(fc.tuple(fc.nat({ max: 7 }), fc.integer({ min: 1, max: 3 }), fc.boolean()), { minLength: 1, maxLength: 3 }),
      }),
      fc.commands([COMMANDS], { maxCommands: 100, size: "max" }),
      ({ arenas, leases, ...setup }, cmds) => {
        const pool = new Pool({
          capacityUnits: setup.capacity,
          maxStepUnits: 2,
          policy: { punchGranularityBytes: setup.granularityPages * PAGE_BYTES, discard: setup.policy, deferredCapBytes: setup.capPages * PAGE_BYTES, deferOverflow: setup.overflow },
        });
        const model: Model = { ...setup, arenas: [], leases: [] };
        // Start with arenas and leases, so that the commands find something to work on.
        for (const choice of arenas) registerArena(model, { pool }, choice, false);
        // (An arena larger than the pool is refused: then there may be none to lease in.)
        if (model.arenas.length > 0) for (const [arena, blocks, priv] of leases) new Allocate(arena, blocks, false, "fit", 0, priv, 0).run(model, { pool });
        fc.modelRun(() => ({ model, real: { pool } }), cmds);
      },
    ),
    {
      numRuns,
      ...(seed === undefined ? {} : { seed: Number(seed) }),
      // Counterexamples this test found, replayed first. A pair page converted to shared whose
      // memfd populate failed; a discard of a private page of the unit then populates the memfd
      // unit again (never less than a unit), so the discarded page is held there: deferred,
      // not punched (the deferred count used to look at the punches only).
      examples: [
        [
          {
            capacity: 12, granularityPages: 1, policy: "defer", capPages: 100_000, overflow: "reject",
            arenas: [{ kind: "pair", blocks: 1, granularityPages: undefined, policy: undefined }], leases: [[0, 1, true]],
          },
          [new Convert(0, new RangePick("in-unit", 0, 0, 0), 0b10, false, false), new Discard(0, new RangePick("in-unit", 0, 1, 0), 0)],
        ],
      ],
    },
  );
  if (process.env["GMEMPOOL_PROPERTY_STATS"] !== undefined) console.log(Object.fromEntries([...tally].sort()));
  for (const [event, min] of numRuns >= MIN_RUNS_FOR_GUARD ? Object.entries(MIN_PER_RUN) : []) {
    assert.ok((tally.get(event) ?? 0) >= Math.floor(min * numRuns), `${event}: ${tally.get(event) ?? 0} times in ${numRuns} runs, fewer than ${min} per run`);
  }
});
