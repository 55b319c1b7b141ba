/**
 * Model-based test of the pool core: random command sequences run against the real `Pool` and
 * against a deliberately naive model that keeps one object per 4 KiB page and recomputes
 * everything by brute force. After every command the two must agree on every page, on the
 * reserve, on the running totals, and `assertInvariants()` must hold.
 *
 * The model takes population changes only from the plan steps the "kernel" applied (a random
 * subset fails), so it checks that plans say exactly what the bookkeeping assumes.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { ConflictError, ExhaustedError, FailedPreconditionError, PoolError } from "./errors.ts";
import type { Plan } from "./plan.ts";
import { fragmentationReport } from "./fragmentation.ts";
import { Pool } from "./pool.ts";
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

const blockPagesOf = (m: Model) => Math.max(m.granularityPages, PAGES);
const sidesOf = (l: ModelLease) => (l.arena.pair ? 2 : 1);
const neededOn = (l: ModelLease, p: Page, side: number) => !p.disc && (!l.arena.pair || (side === 0 ? p.priv : !p.priv));

function populatedSideUnits(m: Model): number {
  let n = 0;
  for (const l of m.leases) {
    for (let side = 0; side < sidesOf(l); side++) {
      for (let u = 0; u < l.count; u++) if (l.pages.slice(u * PAGES, (u + 1) * PAGES).some((p) => p.pop[side])) n++;
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
function unitsNeeded(m: Model, l: ModelLease, lo: number, hi: number): number {
  const block = blockPagesOf(m);
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
      const real = new Array<boolean>(l.pages.length).fill(false);
      for (const [s, e] of lease.pages.runs(0, l.pages.length, (...w) => w[f]!)) real.fill(true, s, e);
      assert.deepEqual(real, l.pages.map(field), `lease ${l.id} field ${f}`);
    });
    for (let u = 0; u < l.count; u++) {
      const unit = l.pages.slice(u * PAGES, (u + 1) * PAGES);
      const key = (p: Page) => `${p.priv}${p.disc}${p.pop[0]}${p.pop[1]}`;
      if (unit.some((p) => key(p) !== key(unit[0]!))) split++;
    }
    if (l.arena.pair) for (const p of l.pages) if (!p.disc && ((p.priv && p.pop[1]) || (!p.priv && p.pop[0]))) stale++;
  }
  assert.equal(pool.splitUnits, split, "split units");
  const restored = importSnapshot(JSON.parse(JSON.stringify(exportSnapshot(pool))) as PoolSnapshot);
  assert.deepEqual(fragmentationReport(restored), fragmentationReport(pool), "snapshot round trip");
  assert.equal(pool.staleBytes, stale * PAGE_BYTES, "stale bytes");
}

/** Applies the plan's steps the kernel "did" to the model, then settles the real plan. */
function settle(m: Model, r: Real, l: ModelLease, plan: Plan, failMask: number): boolean {
  const failed: number[] = [];
  plan.steps.forEach((step, i) => {
    if ((failMask >> i % 31) & 1) {
      failed.push(i);
      return;
    }
    const lo = step.bytes.start / PAGE_BYTES - l.start * PAGES;
    const hi = step.bytes.end / PAGE_BYTES - l.start * PAGES;
    assert.equal(step.bytes.start % (step.op === "zero" || step.op === "set-attributes" ? PAGE_BYTES : Math.min(m.granularityPages * PAGE_BYTES, step.op === "punch" && step.unitsReturned === 0 ? PAGE_BYTES : UNIT_BYTES)), 0);
    for (let p = lo; p < hi; p++) {
      const page = l.pages[p]!;
      if (step.op === "populate") page.pop[step.side] = true;
      if (step.op === "punch") page.pop[step.side] = false;
      if (step.op === "set-attributes") page.priv = step.private;
    }
  });
  r.pool.commit(plan.id, failed);
  return failed.length === 0;
}

/** Checks that after a fully applied plan every block of [lo, hi) holds what it needs. */
function checkPopulationTarget(m: Model, l: ModelLease, lo: number, hi: number): void {
  const block = blockPagesOf(m);
  for (let side = 0; side < sidesOf(l); side++) {
    for (let b = Math.floor(lo / block) * block; b < hi; b += block) {
      const pages = l.pages.slice(b, b + block);
      const needed = pages.some((p) => neededOn(l, p, side));
      if (!needed) assert.ok(pages.every((p) => !p.pop[side]), `block ${b} side ${side} should be punched`);
      else if (m.granularityPages >= PAGES) assert.ok(pages.every((p) => p.pop[side]), `block ${b} side ${side} should be populated`);
      else assert.ok(pages.every((p) => !neededOn(l, p, side) || p.pop[side]), `needed pages of ${b} side ${side} populated`);
    }
  }
}

function expectFailure(fn: () => unknown, kind: new (...args: never[]) => PoolError): void {
  assert.throws(fn, kind);
}

type Cmd = fc.Command<Model, Real>;

class RegisterArena implements Cmd {
  readonly sizeUnits: number;
  readonly kind: "gmem" | "memfd" | "pair";
  constructor(sizeUnits: number, kind: "gmem" | "memfd" | "pair") {
    this.sizeUnits = sizeUnits;
    this.kind = kind;
  }
  check = () => true;
  run(m: Model, r: Real): void {
    const fits = (this.sizeUnits * PAGES) % blockPagesOf(m) === 0;
    const files = this.kind === "gmem" ? ["guest_memfd" as const] : this.kind === "memfd" ? ["memfd" as const] : ["guest_memfd" as const, "memfd" as const];
    if (!fits) {
      assert.throws(() => r.pool.registerArena("vmm", { sizeBytes: this.sizeUnits * UNIT_BYTES, files }), /granularity/);
      return;
    }
    const arena = r.pool.registerArena("vmm", { sizeBytes: this.sizeUnits * UNIT_BYTES, files });
    m.arenas.push({ id: arena.id, sizeUnits: this.sizeUnits, pair: this.kind === "pair", memfd: this.kind === "memfd", used: new Array<boolean>(this.sizeUnits).fill(false) });
    compare(m, r);
  }
  toString = () => `RegisterArena(${this.sizeUnits}, ${this.kind})`;
}

class Allocate implements Cmd {
  readonly arenaPick: number;
  readonly count: number;
  readonly offset: number | undefined;
  readonly priv: boolean;
  readonly failMask: number;
  constructor(arenaPick: number, count: number, offset: number | undefined, priv: boolean, failMask: number) {
    this.arenaPick = arenaPick;
    this.count = count;
    this.offset = offset;
    this.priv = priv;
    this.failMask = failMask;
  }
  check = (m: Readonly<Model>) => m.arenas.length > 0;
  run(m: Model, r: Real): void {
    const arena = m.arenas[this.arenaPick % m.arenas.length]!;
    const blockUnits = blockPagesOf(m) / PAGES;
    const request = { arenaId: arena.id, unitCount: this.count, initiallyPrivate: this.priv, ...(this.offset === undefined ? {} : { offsetUnits: this.offset }) };
    const free = (s: number) => s + this.count <= arena.sizeUnits && arena.used.slice(s, s + this.count).every((u) => !u);
    let start = this.offset;
    if (start === undefined) {
      for (let s = 0; s + this.count <= arena.sizeUnits; s += blockUnits) {
        if (free(s)) {
          start = s;
          break;
        }
      }
    }
    const sides = arena.pair ? 2 : 1;
    const invalid = this.count % blockUnits !== 0 || this.count > arena.sizeUnits || (this.offset !== undefined && (this.offset % blockUnits !== 0 || this.offset + this.count > arena.sizeUnits));
    if (invalid || start === undefined || !free(start) || this.count > m.capacity - populatedSideUnits(m)) {
      assert.throws(() => r.pool.allocate("vmm", request), PoolError);
      compare(m, r);
      return;
    }
    const plan = r.pool.allocate("vmm", request);
    const l: ModelLease = { id: plan.leaseId, arena, start, count: this.count, failed: false, pages: [] };
    for (let p = 0; p < this.count * PAGES; p++) l.pages.push({ priv: this.priv, disc: false, pop: [false, false] });
    arena.used.fill(true, start, start + this.count);
    m.leases.push(l);
    assert.equal(sides, r.pool.lease(plan.leaseId).pages.sides);
    if (settle(m, r, l, plan, this.failMask)) checkPopulationTarget(m, l, 0, l.pages.length);
    else l.failed = true;
    compare(m, r);
  }
  toString = () => `Allocate(${this.arenaPick}, ${this.count}, ${this.offset}, ${this.priv}, ${this.failMask})`;
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
    if (settle(m, r, l, plan, this.failMask)) {
      m.leases.splice(m.leases.indexOf(l), 1);
      l.arena.used.fill(false, l.start, l.start + l.count);
    } else {
      l.failed = true;
    }
    compare(m, r);
  }
  toString = () => `Release(${this.leasePick}, ${this.failMask})`;
}

abstract class RangeCommand implements Cmd {
  readonly leasePick: number;
  readonly startPage: number;
  readonly pageCount: number;
  readonly failMask: number;
  constructor(leasePick: number, startPage: number, pageCount: number, failMask: number) {
    this.leasePick = leasePick;
    this.startPage = startPage;
    this.pageCount = pageCount;
    this.failMask = failMask;
  }
  check = (m: Readonly<Model>) => m.leases.length > 0;
  abstract run(m: Model, r: Real): void;
  protected target(m: Model): { l: ModelLease; lo: number; hi: number; request: { leaseId: string; offsetBytes: number; lengthBytes: number } } {
    const l = m.leases[this.leasePick % m.leases.length]!;
    const lo = this.startPage % l.pages.length;
    const hi = Math.min(l.pages.length, lo + this.pageCount);
    return { l, lo, hi, request: { leaseId: l.id, offsetBytes: (l.start * PAGES + lo) * PAGE_BYTES, lengthBytes: (hi - lo) * PAGE_BYTES } };
  }
  protected finish(m: Model, r: Real, l: ModelLease, plan: Plan, lo: number, hi: number): void {
    if (settle(m, r, l, plan, this.failMask)) checkPopulationTarget(m, l, lo, hi);
    compare(m, r);
  }
}

class Discard extends RangeCommand {
  run(m: Model, r: Real): void {
    const { l, lo, hi, request } = this.target(m);
    if (l.failed) { expectFailure(() => r.pool.discard("vmm", request), FailedPreconditionError); return; }
    const g = m.granularityPages;
    const innerLo = Math.ceil(lo / g) * g;
    const innerHi = Math.floor(hi / g) * g;
    const hasInner = innerLo < innerHi;
    const edges = hasInner ? [[lo, innerLo], [innerHi, hi]] : [[lo, hi]];
    const edgePages = edges.flatMap(([s, e]) => l.pages.slice(s, e));
    let policy: DiscardPolicy | "none" = edgePages.length === 0 ? "none" : m.policy;
    if (policy === "defer" && deferredPages(m) + edgePages.filter((p) => !p.disc && (p.pop[0] || p.pop[1])).length > m.capPages) policy = m.overflow;
    const zeroBlocked = policy === "zero" && edgePages.some((p) => p.priv && !p.disc);
    if (policy === "reject" || zeroBlocked) {
      expectFailure(() => r.pool.discard("vmm", request), FailedPreconditionError);
      compare(m, r); return;
    }
    const marked = policy === "defer" ? [lo, hi] : hasInner ? [innerLo, innerHi] : [0, 0];
    const plan = r.pool.discard("vmm", request);
    assert.equal(plan.discard?.policy, policy);
    const before = l.pages.slice(lo, hi).map((p) => ({ ...p, pop: [...p.pop] as [boolean, boolean] }));
    const sharedSide = l.arena.pair ? 1 : 0;
    const zeroed = policy === "zero" ? edgePages.filter((p) => !p.disc && p.pop[sharedSide]).length : 0;
    for (let p = marked[0]!; p < marked[1]!; p++) l.pages[p]!.disc = true;
    if (!settle(m, r, l, plan, this.failMask)) { compare(m, r); return; }
    checkPopulationTarget(m, l, lo, hi);
    // The outcome, as DiscardResponse in pool.proto defines it: every page of the range is
    // punched now, zeroed, deferred (newly discarded, some file still holds it) or discarded before.
    const held = (p: Page) => p.pop[0] || p.pop[1];
    const newly = before.flatMap((p, i) => (!p.disc && l.pages[lo + i]!.disc ? [{ was: p, now: l.pages[lo + i]! }] : []));
    const deferred = newly.filter((p) => held(p.now)).length;
    const punchedShare = newly.filter((p) => held(p.was) && !held(p.now)).length;
    const already = before.filter((p) => p.disc).length;
    const punchedBytes = plan.steps.reduce((n, st) => n + (st.op === "punch" ? st.bytes.end - st.bytes.start : 0), 0);
    assert.deepEqual(plan.discard, { policy, punchedBytes, zeroedBytes: zeroed * PAGE_BYTES, deferredBytes: deferred * PAGE_BYTES });
    assert.ok(punchedShare * PAGE_BYTES <= punchedBytes, "the range's punched share is at most punched bytes");
    // The shares add up when every live page of the range was where it lives (no failed step behind).
    if (before.every((p) => p.disc || p.pop[l.arena.pair && !p.priv ? 1 : 0])) assert.equal(punchedShare + zeroed + deferred + already, hi - lo, "punched + zeroed + deferred + already-discarded = length");
    compare(m, r);
  }
  override toString = () => `Discard(${this.leasePick}, ${this.startPage}, ${this.pageCount}, ${this.failMask})`;
}

class Populate extends RangeCommand {
  run(m: Model, r: Real): void {
    const { l, lo, hi, request } = this.target(m);
    if (l.failed) { expectFailure(() => r.pool.populate("vmm", request), FailedPreconditionError); return; }
    const saved = l.pages.map((p) => ({ ...p, pop: [...p.pop] as [boolean, boolean] }));
    for (let p = lo; p < hi; p++) l.pages[p]!.disc = false;
    if (unitsNeeded(m, l, lo, hi) > m.capacity - populatedSideUnits(m)) {
      l.pages = saved;
      expectFailure(() => r.pool.populate("vmm", request), ExhaustedError);
      compare(m, r); return;
    }
    this.finish(m, r, l, r.pool.populate("vmm", request), lo, hi);
  }
  override toString = () => `Populate(${this.leasePick}, ${this.startPage}, ${this.pageCount}, ${this.failMask})`;
}

class Convert extends RangeCommand {
  readonly toPrivate: boolean;
  readonly inPlace: boolean;
  constructor(leasePick: number, startPage: number, pageCount: number, failMask: number, toPrivate: boolean, inPlace: boolean) {
    super(leasePick, startPage, pageCount, failMask);
    this.toPrivate = toPrivate;
    this.inPlace = inPlace;
  }
  run(m: Model, r: Real): void {
    const { l, lo, hi, request } = this.target(m);
    const convert = { ...request, toPrivate: this.toPrivate, mode: this.inPlace ? ("in-place" as const) : ("notify" as const) };
    if (l.arena.memfd || (this.inPlace && l.arena.pair) || l.failed) {
      expectFailure(() => r.pool.convert("vmm", convert), FailedPreconditionError); return;
    }
    if (this.inPlace) {
      // In place changes attributes only; population is not reconciled (a single file holds
      // both), so an earlier failed punch may still be pending here: no target check.
      settle(m, r, l, r.pool.convert("vmm", convert), this.failMask);
      compare(m, r);
      return;
    }
    const saved = l.pages.map((p) => ({ ...p, pop: [...p.pop] as [boolean, boolean] }));
    for (let p = lo; p < hi; p++) l.pages[p]!.priv = this.toPrivate;
    if (unitsNeeded(m, l, lo, hi) > m.capacity - populatedSideUnits(m)) {
      l.pages = saved;
      expectFailure(() => r.pool.convert("vmm", convert), ExhaustedError);
      compare(m, r); return;
    }
    this.finish(m, r, l, r.pool.convert("vmm", convert), lo, hi);
  }
  override toString = () => `Convert(${this.leasePick}, ${this.startPage}, ${this.pageCount}, ${this.failMask}, ${this.toPrivate}, ${this.inPlace})`;
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
    const request = { leaseId: l.id, offsetBytes: l.start * UNIT_BYTES, lengthBytes: PAGE_BYTES, toPrivate: true, mode: "notify" as const };
    let plan: Plan;
    try {
      plan = r.pool.convert("vmm", request);
    } catch (e) {
      assert.ok(e instanceof ExhaustedError);
      return;
    }
    for (let p = 0; p < 1; p++) l.pages[p]!.priv = true;
    assert.throws(() => r.pool.discard("vmm", { leaseId: l.id, offsetBytes: l.start * UNIT_BYTES, lengthBytes: PAGE_BYTES }), ConflictError);
    assert.throws(() => r.pool.release("vmm", l.id), ConflictError);
    settle(m, r, l, plan, 0);
    compare(m, r);
  }
  toString = () => `Interleave(${this.leasePick})`;
}

const GRANULARITY_PAGES = [1, 512, 1024];

test("the pool agrees with a naive page-array model under random commands", () => {
  const commands = [
    fc.tuple(fc.integer({ min: 1, max: 6 }), fc.constantFrom("gmem" as const, "memfd" as const, "pair" as const)).map(([s, k]) => new RegisterArena(s, k)),
    fc.tuple(fc.nat(), fc.integer({ min: 1, max: 4 }), fc.option(fc.nat({ max: 5 }), { nil: undefined }), fc.boolean(), fc.nat({ max: 15 })).map((a) => new Allocate(...a)),
    fc.tuple(fc.nat(), fc.nat({ max: 7 })).map(([l, f]) => new Release(l, f === 7 ? 1 : 0)),
    fc.tuple(fc.nat(), fc.nat(), fc.integer({ min: 1, max: 1100 }), fc.nat({ max: 8 })).map(([l, s, c, f]) => new Discard(l, s, c, f === 8 ? 1 : 0)),
    fc.tuple(fc.nat(), fc.nat(), fc.integer({ min: 1, max: 1100 }), fc.nat({ max: 8 })).map(([l, s, c, f]) => new Populate(l, s, c, f === 8 ? 1 : 0)),
    fc.tuple(fc.nat(), fc.nat(), fc.integer({ min: 1, max: 1100 }), fc.nat({ max: 8 }), fc.boolean(), fc.boolean()).map(([l, s, c, f, p, i]) => new Convert(l, s, c, f === 8 ? 1 : 0, p, i)),
    fc.nat().map((l) => new Interleave(l)),
  ];
  fc.assert(
    fc.property(
      fc.record({
        capacity: fc.integer({ min: 4, max: 24 }),
        granularityPages: fc.constantFrom(...GRANULARITY_PAGES),
        policy: fc.constantFrom("reject" as const, "zero" as const, "defer" as const),
        capPages: fc.constantFrom(0, 64, 100_000),
        overflow: fc.constantFrom("reject" as const, "zero" as const),
      }),
      fc.commands(commands, { maxCommands: 60, size: "max" }),
      (setup, cmds) => {
        const pool = new Pool({
          capacityUnits: setup.capacity,
          maxStepUnits: 2,
          policy: { punchGranularityBytes: setup.granularityPages * PAGE_BYTES, discard: setup.policy, deferredCapBytes: setup.capPages * PAGE_BYTES, deferOverflow: setup.overflow },
        });
        const model: Model = { ...setup, arenas: [], leases: [] };
        fc.modelRun(() => ({ model, real: { pool } }), cmds);
      },
    ),
    {
      numRuns: Number(process.env["GMEMPOOL_PROPERTY_RUNS"] ?? 150),
      // Counterexamples this test found, replayed first. A pair page converted to shared whose
      // memfd populate failed; a discard of a private page of the unit then populates the memfd
      // unit again (never less than a unit), so the discarded page is held there: deferred,
      // not punched (the deferred count used to look at the punches only).
      examples: [
        [
          { capacity: 12, granularityPages: 1, policy: "defer", capPages: 100_000, overflow: "reject" },
          [new RegisterArena(1, "pair"), new Allocate(0, 1, undefined, true, 0), new Convert(0, 0, 1, 0b10, false, false), new Discard(0, 1, 1, 0)],
        ],
      ],
    },
  );
});
