/**
 * Model-based test of reservations (issue 11): random reserve / unreserve / arena / allocate /
 * release / delete sequences, with random kernel step failures and plans left in flight across
 * an unreserve, against a model that keeps plain counts: per reservation its size and arena,
 * per lease its populated units. After every command the pool's free / reserved / claimed /
 * leased counts must equal the model's, no unit may be counted twice (free + reserved + claimed
 * + leased = capacity), `assertInvariants()` must hold, and a snapshot round trip must keep them.
 *
 * FC_SEED=<n> replays one seed; GMEMPOOL_PROPERTY_RUNS=<n> changes the number of runs.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { ExhaustedError, FailedPreconditionError, NotFoundError } from "./errors.ts";
import type { Plan } from "./plan.ts";
import { Pool } from "./pool.ts";
import { exportSnapshot, importSnapshot, type PoolSnapshot } from "./snapshot.ts";
import { UNIT_BYTES } from "./units.ts";

const OWNER = "vmm";
const CLAIMS = ["c0", "c1", "c2"];

interface ModelReservation { size: number; arena: string | undefined }
interface ModelLease { id: string; arena: string; populated: number; settled: boolean }
interface Model {
  capacity: number;
  reservations: Map<string, ModelReservation>;
  arenas: Map<string, { size: number; claim: string | undefined }>;
  leases: ModelLease[];
  /** A plan left in flight by the last command, settled by the next. */
  inFlight: { plan: Plan; lease: ModelLease; releasing: boolean; failMask: number } | undefined;
}
interface Real { pool: Pool }

function arenaHeld(m: Model, arena: string): number {
  return m.leases.filter((l) => l.arena === arena).reduce((n, l) => n + l.populated, 0) + (m.inFlight !== undefined && m.inFlight.lease.arena === arena && !m.inFlight.releasing ? m.inFlight.plan.steps.length : 0);
}

function expected(m: Model) {
  let reserved = 0;
  for (const r of m.reservations.values()) reserved += r.size - Math.min(r.size, r.arena === undefined ? 0 : arenaHeld(m, r.arena));
  const claimed = m.inFlight?.plan.steps.length ?? 0;
  // A release in flight: its units are being taken back (claimed), no longer leased.
  const leased = m.leases.reduce((n, l) => n + l.populated, 0) - (m.inFlight?.releasing === true ? claimed : 0);
  return { free: m.capacity - reserved - leased - claimed, reserved, claimed, leased };
}

function check(m: Model, r: Real): void {
  const { pool } = r;
  pool.assertInvariants();
  const actual = { free: pool.reserve.freeUnits as number, reserved: pool.reserve.reservedUnits as number, claimed: pool.reserve.claimedUnits as number, leased: pool.reserve.leasedUnits as number };
  assert.deepEqual(actual, expected(m));
  assert.equal(actual.free + actual.reserved + actual.claimed + actual.leased, m.capacity);
  if (m.inFlight === undefined) {
    const copy = importSnapshot(JSON.parse(JSON.stringify(exportSnapshot(pool))) as PoolSnapshot);
    assert.deepEqual({ free: copy.reserve.freeUnits, reserved: copy.reserve.reservedUnits, leased: copy.reserve.leasedUnits }, { free: actual.free, reserved: actual.reserved, leased: actual.leased });
  }
}

/** Settles the plan left in flight, with its failed steps. */
function settle(m: Model, r: Real): void {
  const pending = m.inFlight;
  if (pending === undefined) return;
  m.inFlight = undefined;
  const failed = pending.plan.steps.map((_, i) => i).filter((i) => (pending.failMask >> i) & 1);
  r.pool.commit(pending.plan.id, failed);
  const applied = pending.plan.steps.length - failed.length;
  const lease = pending.lease;
  if (pending.releasing) {
    lease.populated -= applied;
    if (failed.length === 0) m.leases = m.leases.filter((l) => l !== lease);
  } else {
    lease.populated = applied;
    lease.settled = true;
    m.leases.push(lease);
  }
}

abstract class Cmd implements fc.Command<Model, Real> {
  check(): boolean {
    return true;
  }
  run(m: Model, r: Real): void {
    this.act(m, r);
    check(m, r);
  }
  abstract act(m: Model, r: Real): void;
  abstract toString(): string;
}

class Reserve extends Cmd {
  readonly claim: number;
  readonly size: number;
  constructor(claim: number, size: number) {
      super();
      this.claim = claim;
      this.size = size;
  }
  act(m: Model, r: Real): void {
    settle(m, r);
    const claim = CLAIMS[this.claim]!;
    const existing = m.reservations.get(claim);
    const exp = expected(m);
    if (existing !== undefined && existing.size !== this.size) {
      assert.throws(() => r.pool.reserveClaim(claim, this.size, `t-${claim}`), FailedPreconditionError);
    } else if (existing === undefined && this.size > exp.free) {
      assert.throws(() => r.pool.reserveClaim(claim, this.size, `t-${claim}`), (e) => e instanceof ExhaustedError && e.message.includes(`requested ${this.size} units, ${exp.free} free`));
    } else {
      const { created } = r.pool.reserveClaim(claim, this.size, `t-${claim}`);
      assert.equal(created, existing === undefined);
      if (existing === undefined) m.reservations.set(claim, { size: this.size, arena: undefined });
    }
  }
  toString(): string {
    return `Reserve(${this.claim}, ${this.size})`;
  }
}

class Unreserve extends Cmd {
  readonly claim: number;
  readonly midFlight: boolean;
  constructor(claim: number, midFlight: boolean) {
      super();
      this.claim = claim;
      this.midFlight = midFlight;
  }
  act(m: Model, r: Real): void {
    if (!this.midFlight) settle(m, r);
    const claim = CLAIMS[this.claim]!;
    const existing = m.reservations.get(claim);
    const before = expected(m);
    const gone = r.pool.unreserveClaim(claim);
    assert.equal(gone !== undefined, existing !== undefined);
    m.reservations.delete(claim);
    if (existing?.arena !== undefined) m.arenas.get(existing.arena)!.claim = undefined;
    assert.equal(gone?.releasedUnits ?? 0, before.reserved - expected(m).reserved);
  }
  toString(): string {
    return `Unreserve(${this.claim}${this.midFlight ? ", mid-flight" : ""})`;
  }
}

class NewArena extends Cmd {
  readonly size: number;
  readonly claim: number | undefined;
  constructor(size: number, claim: number | undefined) {
      super();
      this.size = size;
      this.claim = claim;
  }
  act(m: Model, r: Real): void {
    settle(m, r);
    const claim = this.claim === undefined ? undefined : CLAIMS[this.claim]!;
    const res = claim === undefined ? undefined : m.reservations.get(claim);
    const spec = { sizeBytes: this.size * UNIT_BYTES, files: ["memfd" as const], ...(claim === undefined ? {} : { reservation: claim }) };
    if (this.size > m.capacity) {
      assert.throws(() => r.pool.registerArena(OWNER, spec), /an arena is at most the pool's capacity/);
      return;
    }
    if (claim !== undefined && res === undefined) {
      assert.throws(() => r.pool.registerArena(OWNER, spec), NotFoundError);
      return;
    }
    if (res !== undefined && (res.arena !== undefined || this.size > res.size)) {
      assert.throws(() => r.pool.registerArena(OWNER, spec), FailedPreconditionError);
      return;
    }
    const arena = r.pool.registerArena(OWNER, spec);
    m.arenas.set(arena.id, { size: this.size, claim });
    if (res !== undefined) res.arena = arena.id;
  }
  toString(): string {
    return `NewArena(${this.size}, ${this.claim ?? "-"})`;
  }
}

class Allocate extends Cmd {
  readonly arena: number;
  readonly count: number;
  readonly failMask: number;
  readonly leaveInFlight: boolean;
  constructor(arena: number, count: number, failMask: number, leaveInFlight: boolean) {
      super();
      this.arena = arena;
      this.count = count;
      this.failMask = failMask;
      this.leaveInFlight = leaveInFlight;
  }
  act(m: Model, r: Real): void {
    settle(m, r);
    const ids = [...m.arenas.keys()];
    if (ids.length === 0) return;
    const arenaId = ids[this.arena % ids.length]!;
    const arena = m.arenas.get(arenaId)!;
    const used = m.leases.filter((l) => l.arena === arenaId).length;
    const exp = expected(m);
    const res = arena.claim === undefined ? undefined : m.reservations.get(arena.claim);
    const available = exp.free + (res === undefined ? 0 : res.size - Math.min(res.size, arenaHeld(m, arenaId)));
    let plan: Plan;
    try {
      plan = r.pool.allocate(OWNER, { arenaId, unitCount: this.count });
    } catch (error) {
      // Placement (the arena is full of leases) or the pool.
      assert.ok(this.count > available || used > 0 || this.count > arena.size, `unexpected ${String(error)}`);
      return;
    }
    assert.ok(this.count <= available, `allocated ${this.count} with ${available} available`);
    m.inFlight = { plan, lease: { id: plan.leaseId, arena: arenaId, populated: 0, settled: false }, releasing: false, failMask: this.failMask };
    check(m, r);
    if (!this.leaveInFlight) settle(m, r);
  }
  toString(): string {
    return `Allocate(${this.arena}, ${this.count}, fail ${this.failMask.toString(2)}${this.leaveInFlight ? ", in flight" : ""})`;
  }
}

class Release extends Cmd {
  readonly lease: number;
  readonly failMask: number;
  constructor(lease: number, failMask: number) {
      super();
      this.lease = lease;
      this.failMask = failMask;
  }
  act(m: Model, r: Real): void {
    settle(m, r);
    if (m.leases.length === 0) return;
    const lease = m.leases[this.lease % m.leases.length]!;
    const plan = r.pool.release(OWNER, lease.id);
    m.inFlight = { plan, lease, releasing: true, failMask: this.failMask };
    check(m, r);
    settle(m, r);
  }
  toString(): string {
    return `Release(${this.lease}, fail ${this.failMask.toString(2)})`;
  }
}

class DeleteArena extends Cmd {
  readonly arena: number;
  constructor(arena: number) {
      super();
      this.arena = arena;
  }
  act(m: Model, r: Real): void {
    settle(m, r);
    const ids = [...m.arenas.keys()].filter((id) => !m.leases.some((l) => l.arena === id));
    if (ids.length === 0) return;
    const id = ids[this.arena % ids.length]!;
    r.pool.unregisterArena(OWNER, id);
    const claim = m.arenas.get(id)!.claim;
    if (claim !== undefined) m.reservations.get(claim)!.arena = undefined;
    m.arenas.delete(id);
  }
  toString(): string {
    return `DeleteArena(${this.arena})`;
  }
}

const claimIndex = fc.nat({ max: CLAIMS.length - 1 });
const COMMANDS = fc.oneof(
  { weight: 3, arbitrary: fc.tuple(claimIndex, fc.integer({ min: 1, max: 8 })).map(([c, s]) => new Reserve(c, s)) },
  { weight: 1, arbitrary: fc.tuple(claimIndex, fc.boolean()).map(([c, f]) => new Unreserve(c, f)) },
  { weight: 2, arbitrary: fc.tuple(fc.integer({ min: 1, max: 8 }), fc.option(claimIndex, { nil: undefined, freq: 3 })).map(([s, c]) => new NewArena(s, c)) },
  { weight: 4, arbitrary: fc.tuple(fc.nat({ max: 5 }), fc.integer({ min: 1, max: 6 }), fc.nat({ max: 63 }).map((n) => (n < 40 ? 0 : n)), fc.boolean()).map(([a, n, f, l]) => new Allocate(a, n, f, l)) },
  { weight: 2, arbitrary: fc.tuple(fc.nat({ max: 5 }), fc.nat({ max: 63 }).map((n) => (n < 40 ? 0 : n))).map(([l, f]) => new Release(l, f)) },
  { weight: 1, arbitrary: fc.nat({ max: 5 }).map((a) => new DeleteArena(a)) },
);

test("reservations agree with a counting model: every unit is in exactly one place", () => {
  const numRuns = Number(process.env["GMEMPOOL_PROPERTY_RUNS"] ?? 150);
  const seed = process.env["FC_SEED"];
  fc.assert(
    fc.property(fc.integer({ min: 4, max: 16 }), fc.commands([COMMANDS], { maxCommands: 60 }), (capacity, cmds) => {
      const pool = new Pool({ capacityUnits: capacity, maxStepUnits: 1 });
      const model: Model = { capacity, reservations: new Map(), arenas: new Map(), leases: [], inFlight: undefined };
      fc.modelRun(() => ({ model, real: { pool } }), cmds);
      settle(model, { pool });
      check(model, { pool });
    }),
    { numRuns, ...(seed === undefined ? {} : { seed: Number(seed) }) },
  );
});
