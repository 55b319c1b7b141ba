/**
 * The pool: the host-wide capacity of N units, the reserve that holds the free ones, the arenas
 * and the leases (DESIGN.md §2). Pure and synchronous: no I/O, no clock, no randomness.
 *
 * Every mutating method validates first (early returns that throw a typed error naming the
 * wrong value, with no state changed), then does its bookkeeping and returns a `Plan` of kernel
 * steps. The units the plan touches stay claimed until `commit` settles it (or `cancel` takes it
 * back, when none of its steps reached the kernel).
 *
 * Invariants (DESIGN.md §3, checked by `assertInvariants`):
 * 1. conservation: free + claimed + leased = capacity (the reserve's slots), and the leased
 *    count equals the populated side-units of all leases;
 * 2. every populate / punch step is aligned to the arena's granularity (by construction in
 *    `planPopulation`; checked on every plan by `checkStepAlignment`);
 * 3. in each arena, free units and lease ranges partition the arena;
 * 4. a unit returned to the reserve leaves no page state: leases own page state, and a lease's
 *    state is dropped with the lease;
 * 5. every method that names an arena or lease checks the caller owns it;
 * 6. reservations (reservation.ts): the reserve's ear-mark is the sum of every reservation's
 *    reserved units; an arena bound to one draws on it first and refills it when it gives units
 *    back, so a unit is never both reserved and leased.
 */
import { Arena, FILE_KINDS, type ArenaId, type FileKind } from "./arena.ts";
import {
  ConflictError,
  ExhaustedError,
  FailedPreconditionError,
  InvalidArgumentError,
  NotFoundError,
} from "./errors.ts";
import { Lease, type LeaseId } from "./lease.ts";
import { FIELD_DISCARDED, FIELD_PRIVATE, LeasePages, type PageField } from "./lease-pages.ts";
import { decideDiscard } from "./discard-decision.ts";
import { alignedFit } from "./placement.ts";
import { checkPoolInvariants } from "./pool-invariants.ts";
import { countPageStates, type PageStateCounts } from "./page-state-counts.ts";
import type { DiscardOutcome, KernelStep, Plan, PlanId, PlanKind, PlanResult } from "./plan.ts";
import {
  DEFAULT_POLICY,
  populateBlockBytes,
  requireOneOf,
  validateArenaPolicy,
  validatePoolPolicy,
  type ArenaPolicy,
  type DiscardPolicy,
  type PoolPolicy,
} from "./policy.ts";
import { planPopulation, populatedFieldOf, populatedSideUnits, type PopulationAction } from "./population-planner.ts";
import { planRange, type ArenaRangeRequest } from "./range-plans.ts";
import { Reservation } from "./reservation.ts";
import { Reserve } from "./reserve.ts";
import {
  PAGES_PER_UNIT,
  PAGE_BYTES,
  UNIT_BYTES,
  arenaUnitsOf,
  formatBytes,
  requireCount,
  requirePageRange,
  units,
  type ByteRange,
  type Bytes,
  type UnitRange,
  type Units,
} from "./units.ts";

const PAGES = PAGES_PER_UNIT as number;

export interface PoolOptions {
  readonly capacityUnits: number;
  readonly policy?: Partial<PoolPolicy>;
  /** The most units one kernel step covers, so that large work runs as parallel steps. */
  readonly maxStepUnits?: number;
}

export interface ArenaSpec {
  readonly id?: ArenaId;
  readonly sizeBytes: number;
  /** One file, or a pair: guest_memfd (private side) + memfd (shared side). */
  readonly files: readonly FileKind[];
  readonly policy?: ArenaPolicy;
  /** The claim UID of a reservation the arena's units come from (one arena per reservation). */
  readonly reservation?: string;
}

export interface AllocateRequest {
  readonly arenaId: ArenaId;
  readonly unitCount: number;
  /** Placement: the first unit of the lease in the arena. Omitted: the fit strategy chooses. */
  readonly offsetUnits?: number;
  /** Initial attribute of every page (default shared). */
  readonly initiallyPrivate?: boolean;
}

export interface RangeRequest {
  readonly leaseId: LeaseId;
  /** Arena file offset in bytes, 4 KiB aligned, inside the lease. */
  readonly offsetBytes: number;
  readonly lengthBytes: number;
}

export type ConversionMode = "in-place" | "notify";

export interface ConvertRequest extends RangeRequest {
  readonly toPrivate: boolean;
  readonly mode: ConversionMode;
}

/**
 * A step in flight with what settling it does to the lease: the kernel step carries the range
 * and the reserve slots; `startPage`/`endPage` are the same range, lease-relative. Plain data (no
 * closures): the hot path allocates one small object per step.
 */
interface PendingStep {
  readonly step: KernelStep;
  readonly startPage: number;
  readonly endPage: number;
}

interface PendingPlan {
  readonly plan: Plan;
  readonly lease: Lease;
  readonly steps: readonly PendingStep[];
  /** Lease-relative units claimed by the plan. */
  readonly busy: readonly [number, number];
  readonly settle: (allApplied: boolean) => PlanResult["leaseState"];
  /**
   * Undoes the bookkeeping the plan did when it was made (page state, lease state), for
   * `cancel`. One closure per plan, none per step.
   */
  readonly undo: () => void;
  /** Lease-relative units that were not all-private before a conversion to private. */
  readonly collapseCandidates: readonly number[];
  /** PlanResult.restoredBytes / convertedBytes, counted when the plan was made. */
  readonly restoredBytes: number;
  readonly convertedBytes: number;
}

/** What a plan does when it settles, and how to take it back when it is cancelled. */
interface PlanOptions {
  readonly settle: PendingPlan["settle"];
  readonly undo: PendingPlan["undo"];
  readonly discard?: DiscardOutcome;
  readonly collapseCandidates?: readonly number[];
  readonly restoredBytes?: number;
  readonly convertedBytes?: number;
}

export const DEFAULT_MAX_STEP_UNITS = 16;

const ZERO_COUNTS: PageStateCounts = { deferredPages: 0, stalePages: 0, splitUnits: 0 };

export class Pool {
  private reserveState: Reserve;
  private poolPolicy: PoolPolicy;
  readonly maxStepUnits: number;
  private readonly arenaMap = new Map<ArenaId, Arena>();
  private readonly leaseMap = new Map<LeaseId, Lease>();
  private readonly pending = new Map<PlanId, PendingPlan>();
  private readonly reservationMap = new Map<string, Reservation>();
  private nextPlanId = 1;
  private nextArenaNumber = 1;
  private nextLeaseNumber = 1;
  /** Running totals over all leases, kept exact by measuring every changed range. */
  private readonly totals = { deferredPages: 0, stalePages: 0, splitUnits: 0 };

  constructor(options: PoolOptions) {
    requireCount(options.capacityUnits, "pool capacity (units)");
    this.reserveState = new Reserve(units(options.capacityUnits));
    this.poolPolicy = validatePoolPolicy({ ...DEFAULT_POLICY, ...options.policy });
    this.maxStepUnits = options.maxStepUnits ?? DEFAULT_MAX_STEP_UNITS;
    requireCount(this.maxStepUnits, "max step units");
  }

  // ---------------------------------------------------------------- queries

  get capacityUnits(): Units {
    return this.reserveState.capacity;
  }
  get reserve(): Reserve {
    return this.reserveState;
  }
  get policy(): PoolPolicy {
    return this.poolPolicy;
  }
  get deferredBytes(): number {
    return this.totals.deferredPages * PAGE_BYTES;
  }
  get staleBytes(): number {
    return this.totals.stalePages * PAGE_BYTES;
  }
  get splitUnits(): number {
    return this.totals.splitUnits;
  }
  get pendingPlanCount(): number {
    return this.pending.size;
  }

  get reservationCount(): number {
    return this.reservationMap.size;
  }

  reservations(): IterableIterator<Reservation> {
    return this.reservationMap.values();
  }

  /** The reservation of claim `claimUid`, or undefined (see `findArena`). */
  findReservation(claimUid: string): Reservation | undefined {
    return this.reservationMap.get(claimUid);
  }

  /** Units still ear-marked by `reservation` (not yet in its arena). */
  reservedUnitsOf(reservation: Reservation): number {
    const arena = reservation.arenaId === undefined ? undefined : this.arenaMap.get(reservation.arenaId);
    return reservation.reservedUnits(arena?.poolUnits ?? 0);
  }

  arenas(): IterableIterator<Arena> {
    return this.arenaMap.values();
  }
  leases(): IterableIterator<Lease> {
    return this.leaseMap.values();
  }

  /** The arena `id`, or undefined: a lookup ("is there one?"), not an operation that could fail. */
  findArena(id: ArenaId): Arena | undefined {
    return this.arenaMap.get(id);
  }

  /** The lease `id`, or undefined (see `findArena`). */
  findLease(id: LeaseId): Lease | undefined {
    return this.leaseMap.get(id);
  }

  arena(id: ArenaId): Arena {
    const arena = this.arenaMap.get(id);
    if (arena === undefined) throw new NotFoundError(`arena "${id}" does not exist`, { resource: "arena", id });
    return arena;
  }

  lease(id: LeaseId): Lease {
    const lease = this.leaseMap.get(id);
    if (lease === undefined) throw new NotFoundError(`lease "${id}" does not exist`, { resource: "lease", id });
    return lease;
  }

  ownedArena(owner: string, id: ArenaId): Arena {
    const arena = this.arena(id);
    if (arena.owner !== owner) throw new NotFoundError(`arena "${id}" does not exist`, { resource: "arena", id });
    return arena;
  }

  ownedLease(owner: string, id: LeaseId): Lease {
    const lease = this.lease(id);
    if (lease.owner !== owner) throw new NotFoundError(`lease "${id}" does not exist`, { resource: "lease", id });
    return lease;
  }

  /** The punch granularity in force for an arena (its override, else the pool's). */
  granularityOf(arena: Arena): number {
    return arena.policy.punchGranularityBytes ?? this.poolPolicy.punchGranularityBytes;
  }

  discardPolicyOf(arena: Arena): DiscardPolicy {
    return arena.policy.discard ?? this.poolPolicy.discard;
  }

  // ---------------------------------------------------------------- arenas

  /**
   * Throws what `registerArena(spec)` would throw, changing nothing: for a caller that must know
   * before it does work the registration depends on (the daemon delivers a memfd first).
   */
  checkArena(spec: ArenaSpec): void {
    requireCount(spec.sizeBytes, "size_bytes");
    const sizeUnits = arenaUnitsOf(BigInt(spec.sizeBytes));
    // No lease could use units beyond the pool's; an arena larger than it only makes every
    // per-arena structure and answer larger (issue 12: a 512 TiB sparse arena).
    if (sizeUnits > this.capacityUnits) {
      throw new InvalidArgumentError(`size_bytes ${spec.sizeBytes} (${sizeUnits} units) is larger than the pool (${this.capacityUnits} units, ${formatBytes(this.capacityUnits * UNIT_BYTES)}): an arena is at most the pool's capacity`, { field: "size_bytes", value: String(spec.sizeBytes) });
    }
    validateFiles(spec.files);
    const policy = validateArenaPolicy(spec.policy ?? {});
    const block = populateBlockBytes(policy.punchGranularityBytes ?? this.poolPolicy.punchGranularityBytes);
    if (spec.sizeBytes % block !== 0) {
      throw new InvalidArgumentError(`size_bytes ${spec.sizeBytes} is not a multiple of the punch granularity ${formatBytes(block)}`, { field: "size_bytes", value: String(spec.sizeBytes) });
    }
    if (spec.id !== undefined) {
      if (spec.id.length === 0) throw new InvalidArgumentError("arena id must not be empty");
      if (this.arenaMap.has(spec.id)) throw new FailedPreconditionError(`arena "${spec.id}" already exists`, { resource: "arena", id: spec.id });
    }
    if (spec.reservation !== undefined) {
      const reservation = this.reservationOf(spec.reservation);
      // The arena may be another owner's: its id is not named (invariant 5).
      if (reservation.arenaId !== undefined) throw new FailedPreconditionError(`the reservation already backs an arena (one arena per reservation; delete that arena first)`, { resource: "reservation" });
      if (sizeUnits > reservation.sizeUnits) {
        throw new FailedPreconditionError(`size_bytes ${spec.sizeBytes} (${sizeUnits} units) is larger than the reservation (${reservation.sizeUnits} units)`, { resource: "reservation", field: "size_bytes", value: String(spec.sizeBytes) });
      }
    }
  }

  registerArena(owner: string, spec: ArenaSpec): Arena {
    this.checkArena(spec);
    const policy = validateArenaPolicy(spec.policy ?? {});
    const id = spec.id ?? this.freshArenaId();
    const arena = new Arena(id, owner, units(spec.sizeBytes / UNIT_BYTES), [...spec.files], policy);
    this.arenaMap.set(id, arena);
    if (spec.reservation !== undefined) {
      arena.reservation = spec.reservation;
      this.reservationOf(spec.reservation).arenaId = id;
    }
    return arena;
  }

  /** Forgets an arena; it must hold no lease (release them first). */
  unregisterArena(owner: string, id: ArenaId): void {
    const arena = this.ownedArena(owner, id);
    if (arena.leases.size > 0) {
      throw new FailedPreconditionError(`arena "${id}" still holds ${arena.leases.size} lease(s): ${[...arena.leases.keys()].join(", ")}`);
    }
    this.arenaMap.delete(id);
    // It holds no unit: its reservation is whole again, for the claim's next arena.
    const reservation = arena.reservation === undefined ? undefined : this.reservationMap.get(arena.reservation);
    if (reservation !== undefined) reservation.arenaId = undefined;
  }

  // ---------------------------------------------------------------- reservations

  /**
   * Admin: ear-marks `sizeUnits` free units for claim `claimUid` with the daemon's `token`.
   * Idempotent per claim: the same claim and size return the reservation there is (`created`
   * false, its first token); another size is refused. More than is free is refused and
   * nothing is reserved.
   */
  reserveClaim(claimUid: string, sizeUnits: number, token: string): { readonly reservation: Reservation; readonly created: boolean } {
    if (claimUid.length === 0) throw new InvalidArgumentError("claim_uid must not be empty", { field: "claim_uid", value: "" });
    if (!Number.isSafeInteger(sizeUnits) || sizeUnits < 1) throw new InvalidArgumentError(`size must be at least 1 unit, got ${sizeUnits}`, { field: "size_bytes", value: String(sizeUnits) });
    const existing = this.reservationMap.get(claimUid);
    if (existing !== undefined) {
      if (existing.sizeUnits !== sizeUnits) {
        throw new FailedPreconditionError(`claim "${claimUid}" is already reserved with ${existing.sizeUnits} units, not ${sizeUnits}`, { resource: "reservation", id: claimUid, field: "size_bytes" });
      }
      return { reservation: existing, created: false };
    }
    if (token.length === 0) throw new InvalidArgumentError("a reservation token must not be empty");
    const free = this.reserveState.freeUnits;
    if (sizeUnits > free) {
      throw new ExhaustedError(`claim "${claimUid}": requested ${sizeUnits} units, ${free} free in the pool of ${this.capacityUnits} (${this.reserveState.reservedUnits} reserved, ${this.reserveState.leasedUnits} leased)`, { resource: "units", id: claimUid });
    }
    const reservation = new Reservation(claimUid, units(sizeUnits), token);
    this.reserveState.earmark(sizeUnits, `claim "${claimUid}"`);
    this.reservationMap.set(claimUid, reservation);
    return { reservation, created: true };
  }

  /**
   * Admin: gives a claim's reservation back. Its reserved units become free; an arena bound to
   * it keeps its leases (its owner's: they are released by the owner or with the arena) and
   * from now on draws on the free pool like any other. Unknown claim: undefined (the daemon
   * answers OK with a flag, since kubelet retries).
   */
  unreserveClaim(claimUid: string): { readonly reservation: Reservation; readonly releasedUnits: number } | undefined {
    const reservation = this.reservationMap.get(claimUid);
    if (reservation === undefined) return undefined;
    const releasedUnits = this.reservedUnitsOf(reservation);
    const arena = reservation.arenaId === undefined ? undefined : this.arenaMap.get(reservation.arenaId);
    if (arena !== undefined) arena.reservation = undefined;
    this.reserveState.earmark(-releasedUnits, `claim "${claimUid}"`);
    this.reservationMap.delete(claimUid);
    return { reservation, releasedUnits };
  }

  private reservationOf(claimUid: string): Reservation {
    const reservation = this.reservationMap.get(claimUid);
    if (reservation === undefined) throw new NotFoundError(`no reservation for claim "${claimUid}"`, { resource: "reservation", id: claimUid });
    return reservation;
  }

  /** Units the arena may be handed now: the free ones and its reservation's. */
  private availableTo(arena: Arena): number {
    return this.reserveState.freeUnits + this.reservedFor(arena);
  }

  private reservedFor(arena: Arena): number {
    const reservation = arena.reservation === undefined ? undefined : this.reservationMap.get(arena.reservation);
    return reservation === undefined ? 0 : reservation.reservedUnits(arena.poolUnits);
  }

  /** The arena gives `n` units back (or a hand-out is undone): its reservation's ear-mark follows. */
  private arenaUnitsBack(arena: Arena, n: number): void {
    const before = this.reservedFor(arena);
    arena.poolUnits -= n;
    this.reserveState.earmark(this.reservedFor(arena) - before, `arena "${arena.id}"`);
  }

  private availabilityText(arena: Arena): string {
    const reserved = this.reservedFor(arena);
    return `${this.reserveState.freeUnits} free${reserved > 0 ? ` + ${reserved} reserved for its claim` : ""} in the pool of ${this.capacityUnits}`;
  }

  /**
   * Makes `owner` the owner of arena `id` and of every lease in it (a lease is always its
   * arena's owner's). Units, plans and files are untouched: only who may change them moves.
   */
  handOverArena(id: ArenaId, owner: string): void {
    const arena = this.arena(id);
    arena.owner = owner;
    for (const lease of arena.leases.values()) lease.owner = owner;
  }

  /** Admin: sets an arena's policy override; the arena's leases must fit the new granularity. */
  setArenaPolicy(id: ArenaId, policy: ArenaPolicy): void {
    const arena = this.arena(id);
    validateArenaPolicy(policy);
    this.requireFitsGranularity(arena, policy.punchGranularityBytes ?? this.poolPolicy.punchGranularityBytes);
    arena.policy = { ...policy };
  }

  /** Admin: replaces the pool policy; arenas without an override must fit its granularity. */
  setPolicy(update: Partial<PoolPolicy>): PoolPolicy {
    const next = validatePoolPolicy({ ...this.poolPolicy, ...update });
    for (const arena of this.arenaMap.values()) {
      if (arena.policy.punchGranularityBytes === undefined) this.requireFitsGranularity(arena, next.punchGranularityBytes);
    }
    this.poolPolicy = next;
    return next;
  }

  private requireFitsGranularity(arena: Arena, granularity: number): void {
    const blockUnits = populateBlockBytes(granularity) / UNIT_BYTES;
    if (arena.sizeUnits % blockUnits !== 0) {
      throw new FailedPreconditionError(`arena "${arena.id}" of ${arena.sizeUnits} units is not a multiple of ${formatBytes(granularity)}`);
    }
    for (const lease of arena.leases.values()) {
      if (lease.start % blockUnits !== 0 || lease.unitCount % blockUnits !== 0) {
        throw new FailedPreconditionError(`lease "${lease.id}" (units ${lease.start}+${lease.unitCount}) of arena "${arena.id}" is not aligned to ${formatBytes(granularity)}`);
      }
    }
  }

  // ---------------------------------------------------------------- leases

  allocate(owner: string, request: AllocateRequest, leaseId?: LeaseId): Plan {
    const arena = this.ownedArena(owner, request.arenaId);
    if (!Number.isSafeInteger(request.unitCount) || request.unitCount < 1) throw new InvalidArgumentError(`unit_count must be at least 1, got ${request.unitCount}`, { field: "unit_count", value: String(request.unitCount) });
    const granularity = this.granularityOf(arena);
    const blockUnits = populateBlockBytes(granularity) / UNIT_BYTES;
    if (request.unitCount % blockUnits !== 0) {
      throw new InvalidArgumentError(`unit_count ${request.unitCount} is not a multiple of arena "${arena.id}"'s punch granularity ${formatBytes(granularity)} (${blockUnits} units)`, { field: "unit_count", value: String(request.unitCount) });
    }
    if (request.unitCount > arena.sizeUnits) {
      throw new InvalidArgumentError(`unit_count ${request.unitCount} is larger than arena "${arena.id}" (${arena.sizeUnits} units)`, { field: "unit_count", value: String(request.unitCount) });
    }
    const start = request.offsetUnits === undefined ? this.findPlacement(arena, request.unitCount, blockUnits) : this.checkPlacement(arena, request.offsetUnits, request.unitCount, blockUnits);
    if (request.unitCount > this.availableTo(arena)) {
      throw new ExhaustedError(`requested ${request.unitCount} units, ${this.availabilityText(arena)}`);
    }
    const id = leaseId ?? this.freshLeaseId();
    if (this.leaseMap.has(id)) throw new FailedPreconditionError(`lease "${id}" already exists`, { resource: "lease", id });

    const pages = new LeasePages(request.unitCount, arena.sides, request.initiallyPrivate === true);
    const lease = new Lease(id, arena.id, owner, units(start), units(request.unitCount), pages, "allocating");
    arena.free.remove(start, start + request.unitCount);
    arena.leases.set(id, lease);
    this.leaseMap.set(id, lease);
    const actions = planPopulation({ pages, layout: arena.layout, granularityBytes: granularity, startUnit: 0, endUnit: lease.unitCount, maxStepUnits: this.maxStepUnits });
    return this.openPlan("allocate", arena, lease, [0, lease.unitCount], this.populationSteps(arena, lease, actions), {
      settle: (allApplied) => {
        lease.state = allApplied ? "active" : "failed";
        return lease.state;
      },
      undo: () => this.dropLease(arena, lease),
    });
  }

  release(owner: string, leaseId: LeaseId): Plan {
    return this.releaseLease(this.ownedLease(owner, leaseId));
  }

  /** Admin: releases any lease, whoever owns it. */
  forceRelease(leaseId: LeaseId): Plan {
    return this.releaseLease(this.lease(leaseId));
  }

  private releaseLease(lease: Lease): Plan {
    if (lease.state === "allocating" || lease.state === "releasing" || lease.busy.size > 0) {
      throw new ConflictError(`lease "${lease.id}" has a kernel call in flight (state ${lease.state}); retry when it settles`);
    }
    const arena = this.arena(lease.arenaId);
    const actions = planPopulation({
      pages: lease.pages, layout: arena.layout, granularityBytes: this.granularityOf(arena),
      startUnit: 0, endUnit: lease.unitCount, maxStepUnits: this.maxStepUnits, releasing: true,
    });
    const previous = lease.state;
    lease.state = "releasing";
    return this.openPlan("release", arena, lease, [0, lease.unitCount], this.populationSteps(arena, lease, actions), {
      settle: (allApplied) => {
        if (!allApplied) {
          lease.state = "failed";
          return "failed";
        }
        this.dropLease(arena, lease);
        return "released";
      },
      undo: () => {
        lease.state = previous;
      },
    });
  }

  private dropLease(arena: Arena, lease: Lease): void {
    this.applyTotals(countPageStates(lease.pages, 0, lease.unitCount), ZERO_COUNTS);
    arena.leases.delete(lease.id);
    this.leaseMap.delete(lease.id);
    arena.free.add(lease.start, lease.end);
  }

  /**
   * The guest gives pages up (balloon, free page reporting). Whole granularity blocks are
   * punched; the rest follows the discard policy: reject, zero in place, or defer until the
   * whole block is discarded (DESIGN.md §2).
   */
  discard(owner: string, request: RangeRequest): Plan {
    const lease = this.ownedLease(owner, request.leaseId);
    const arena = this.arena(lease.arenaId);
    const { startPage, endPage } = this.leasePages(lease, request, "discard");
    const granularity = this.granularityOf(arena);
    const busy = expandToBlocks(startPage, endPage, populateBlockBytes(granularity) / PAGE_BYTES);
    this.requireIdle(lease, busy);

    const decision = decideDiscard({
      pages: lease.pages, startPage, endPage, granularityBytes: granularity,
      policy: this.discardPolicyOf(arena), deferredCapBytes: this.poolPolicy.deferredCapBytes, deferOverflow: this.poolPolicy.deferOverflow,
      deferredPagesNow: this.totals.deferredPages, sharedSide: arena.layout === "pair" ? 1 : 0,
      offsetOf: (page) => this.pageToArenaBytes(lease, page),
    });
    const zeroSteps: KernelStep[] = decision.zeroRuns.map(([s, e]) => ({ op: "zero", arenaId: arena.id, side: arena.layout === "pair" ? 1 : 0, bytes: this.pagesToArenaBytes(lease, s, e) }));
    const { steps: pendingSteps, undo } = this.mutatePagesThenPlan(arena, lease, busy, granularity, () => {
      for (const [s, e] of decision.marked) lease.pages.setField(FIELD_DISCARDED, s, e, true);
    });
    const punchedBytes = pendingSteps.reduce((n, p) => n + (p.step.op === "punch" ? p.step.bytes.end - p.step.bytes.start : 0), 0);
    const outcome: DiscardOutcome = {
      policy: decision.policy,
      punchedBytes,
      zeroedBytes: zeroSteps.reduce((n, s) => n + s.bytes.end - s.bytes.start, 0),
      deferredBytes: this.heldAfterSteps(lease, decision.newlyMarked, pendingSteps) * PAGE_BYTES,
    };
    return this.openPlan("discard", arena, lease, busy.map((p) => p / PAGES) as [number, number], [...pendingSteps, ...zeroSteps.map((step) => this.stateless(lease, step))], { settle: stillActive, undo, discard: outcome });
  }

  /**
   * How many pages of `runs` some file still holds once the populates and punches among `steps`
   * are done: what a discard reports as deferred (pool.proto, DiscardResponse). Each run is cut
   * where those steps start and end; a piece counts all its pages when a populate covers it on
   * some side, else its pages populated on a side no punch covers there. A discard populates
   * when an earlier failed step left a needed page of the block missing, and a populate is never
   * less than a unit, so it can put pages of the range back into a file. Counting on the bitmaps
   * as they are (no apply-and-undo) keeps whole-unit discards cheap: their one piece is punched
   * on every side and counts nothing.
   */
  private heldAfterSteps(lease: Lease, runs: readonly (readonly [number, number])[], steps: readonly PendingStep[]): number {
    if (runs.length === 0) return 0;
    const moves = steps.filter((s) => s.step.op === "punch" || s.step.op === "populate");
    let held = 0;
    for (const [start, end] of runs) {
      // Cut points strictly inside the run; usually none (one step covers a whole-unit run).
      const points = [start];
      for (const p of moves) {
        if (p.startPage > start && p.startPage < end) points.push(p.startPage);
        if (p.endPage > start && p.endPage < end) points.push(p.endPage);
      }
      points.push(end);
      if (points.length > 2) points.sort((a, b) => a - b);
      for (let i = 0; i + 1 < points.length; i++) {
        const from = points[i]!;
        const to = points[i + 1]!;
        if (from === to) continue;
        let gone0 = false;
        let gone1 = lease.pages.sides === 1;
        let filled = false;
        for (const p of moves) {
          if (p.startPage <= from && p.endPage >= to) {
            if (p.step.op === "populate") filled = true;
            else if (p.step.side === 0) gone0 = true;
            else gone1 = true;
          }
        }
        if (filled) held += to - from;
        else if (!(gone0 && gone1)) held += lease.pages.count(from, to, (_p, _d, pop0, pop1) => (gone0 ? 0 : pop0) | (gone1 ? 0 : pop1));
      }
    }
    return held;
  }

  /** The guest will use pages again: they become live and their blocks are populated. */
  populate(owner: string, request: RangeRequest): Plan {
    const lease = this.ownedLease(owner, request.leaseId);
    const arena = this.arena(lease.arenaId);
    const { startPage, endPage } = this.leasePages(lease, request, "populate");
    const granularity = this.granularityOf(arena);
    const busy = expandToBlocks(startPage, endPage, populateBlockBytes(granularity) / PAGE_BYTES);
    this.requireIdle(lease, busy);
    const restoredBytes = lease.pages.count(startPage, endPage, (_p, d) => d) * PAGE_BYTES;
    const { steps, undo } = this.mutatePagesThenPlan(arena, lease, busy, granularity, () => {
      lease.pages.setField(FIELD_DISCARDED, startPage, endPage, false);
    });
    return this.openPlan("populate", arena, lease, busy.map((p) => p / PAGES) as [number, number], steps, { settle: stillActive, undo, restoredBytes });
  }

  /**
   * Shared <-> private conversion (DESIGN.md §2 "Conversion"). In place: the daemon issues
   * KVM_SET_MEMORY_ATTRIBUTES2 on the gmem and the state changes when that succeeds. Notify: the
   * VMM already converted (out of place, with the VM ioctl only it may issue); the state changes
   * now and, for a pair, the now-stale side is freed a whole block at a time.
   */
  convert(owner: string, request: ConvertRequest): Plan {
    const lease = this.ownedLease(owner, request.leaseId);
    const arena = this.arena(lease.arenaId);
    const { startPage, endPage } = this.leasePages(lease, request, "convert");
    if (!arena.hasPrivateMemory) {
      throw new FailedPreconditionError(`arena "${arena.id}" is a memfd arena: it has no private pages`, { resource: "arena", id: arena.id });
    }
    requireOneOf(request.mode, ["in-place", "notify"], "conversion mode");
    if (request.mode === "in-place" && arena.layout === "pair") {
      throw new FailedPreconditionError(`arena "${arena.id}" is a guest_memfd + memfd pair: it converts out of place (mode notify), not in place`, { resource: "arena", id: arena.id, field: "mode", value: "IN_PLACE" });
    }
    const granularity = this.granularityOf(arena);
    const busy = expandToBlocks(startPage, endPage, populateBlockBytes(granularity) / PAGE_BYTES);
    this.requireIdle(lease, busy);
    const busyUnits = busy.map((p) => p / PAGES) as [number, number];
    const candidates = request.toPrivate ? this.notAllPrivate(lease, startPage, endPage) : [];
    const convertedBytes = lease.pages.count(startPage, endPage, request.toPrivate ? (p) => ~p : (p) => p) * PAGE_BYTES;

    if (request.mode === "in-place") {
      const step: KernelStep = { op: "set-attributes", arenaId: arena.id, side: 0, bytes: this.pagesToArenaBytes(lease, startPage, endPage), private: request.toPrivate };
      // The attributes change when the ioctl succeeds (applyStep): nothing to undo at plan time.
      return this.openPlan("convert", arena, lease, busyUnits, [{ step, startPage, endPage }], { settle: stillActive, undo: nothingToUndo, collapseCandidates: candidates, convertedBytes });
    }
    const { steps, undo } = this.mutatePagesThenPlan(arena, lease, busy, granularity, () => {
      lease.pages.setField(FIELD_PRIVATE, startPage, endPage, request.toPrivate);
    });
    const zeroSteps: KernelStep[] = [];
    if (arena.layout === "pair" && request.toPrivate && this.discardPolicyOf(arena) === "zero") {
      const punched = new Set(steps.filter((p) => p.step.op === "punch" && p.step.side === 1).map((p) => p.step.bytes.start));
      for (const [s, e] of lease.pages.runs(startPage, endPage, (_p, d, _p0, p1) => ~d & p1)) {
        const bytes = this.pagesToArenaBytes(lease, s, e);
        if (!punched.has(bytes.start)) zeroSteps.push({ op: "zero", arenaId: arena.id, side: 1, bytes });
      }
    }
    return this.openPlan("convert", arena, lease, busyUnits, [...steps, ...zeroSteps.map((step) => this.stateless(lease, step))], { settle: stillActive, undo, collapseCandidates: candidates, convertedBytes });
  }

  // ---------------------------------------------------------------- arena ranges

  /** Discard over an arena range: one plan per lease it spans (range-plans.ts). */
  discardRange(owner: string, request: ArenaRangeRequest): Plan[] {
    return planRange(this, owner, request, "discard", (s) => this.discard(owner, s));
  }

  /** Populate over an arena range (range-plans.ts). */
  populateRange(owner: string, request: ArenaRangeRequest): Plan[] {
    return planRange(this, owner, request, "populate", (s) => this.populate(owner, s));
  }

  /** Convert over an arena range (range-plans.ts). */
  convertRange(owner: string, request: ArenaRangeRequest & { readonly toPrivate: boolean; readonly mode: ConversionMode }): Plan[] {
    return planRange(this, owner, request, "convert", (s) => this.convert(owner, { ...s, toPrivate: request.toPrivate, mode: request.mode }));
  }

  // ---------------------------------------------------------------- settling plans

  /**
   * Settles a plan: every step not in `failedSteps` happened in the kernel and is applied;
   * every step in it did not happen and is reverted exactly.
   */
  commit(planId: PlanId, failedSteps: Iterable<number> = []): PlanResult {
    const pending = this.pending.get(planId);
    if (pending === undefined) throw new NotFoundError(`plan ${planId} is not in flight`);
    // The common case (every step happened) allocates nothing here.
    const failed = isEmpty(failedSteps) ? undefined : new Set(failedSteps);
    if (failed !== undefined) {
      for (const index of failed) {
        if (!Number.isInteger(index) || index < 0 || index >= pending.steps.length) {
          throw new InvalidArgumentError(`plan ${planId} has no step ${index} (it has ${pending.steps.length})`);
        }
      }
    }
    this.pending.delete(planId);
    const { lease, steps, plan } = pending;
    let unitsTaken = 0;
    let unitsReturned = 0;
    let punchedBytes = 0;
    let populatedBytes = 0;
    // Each applied step keeps the running totals itself (measuring only what it changes).
    for (let i = 0; i < steps.length; i++) {
      if (failed?.has(i) === true) {
        this.revertStep(steps[i]!);
        continue;
      }
      const { step } = steps[i]!;
      if (step.op === "populate") {
        unitsTaken += step.unitsTaken;
        populatedBytes += step.bytes.end - step.bytes.start;
      } else if (step.op === "punch") {
        unitsReturned += step.unitsReturned;
        punchedBytes += step.bytes.end - step.bytes.start;
      }
      this.applyStep(lease, steps[i]!);
    }
    lease.busy.remove(pending.busy[0], pending.busy[1]);
    const reverted = failed?.size ?? 0;
    const leaseState = pending.settle(reverted === 0);
    const collapsibleUnits: number[] = [];
    if (leaseState !== "released") {
      for (const u of pending.collapseCandidates) {
        if (lease.pages.count(u * PAGES, (u + 1) * PAGES, (p) => p) === PAGES) collapsibleUnits.push(lease.start + u);
      }
    }
    const discard = plan.discard;
    return {
      planId, kind: plan.kind, leaseId: plan.leaseId, arenaId: plan.arenaId,
      applied: steps.length - reverted, reverted, leaseState, collapsibleUnits,
      unitsTaken, unitsReturned, punchedBytes, populatedBytes,
      zeroedBytes: discard?.zeroedBytes ?? 0,
      deferredBytes: discard?.deferredBytes ?? 0,
      restoredBytes: pending.restoredBytes,
      convertedBytes: pending.convertedBytes,
      discardPolicy: discard === undefined || discard.policy === "none" ? undefined : discard.policy,
    };
  }

  /** Settles a plan none of whose steps happened. */
  abort(planId: PlanId): PlanResult {
    const pending = this.pending.get(planId);
    if (pending === undefined) throw new NotFoundError(`plan ${planId} is not in flight`);
    return this.commit(planId, pending.steps.map((_, i) => i));
  }

  /**
   * Takes back a plan none of whose steps reached the kernel, as if it had never been made: its
   * reserve slots go back (as `abort`), its units are no longer busy, and the bookkeeping it did
   * when planned is undone — page state a discard, populate or notify conversion changed, an
   * allocating lease (dropped), a releasing lease's state. `abort` keeps that bookkeeping (a
   * plan whose kernel calls failed settles into it); `cancel` is for a request refused before
   * any kernel call, e.g. a later plan of a Discard over several leases refused by policy
   * (pool.proto: "Nothing changes").
   */
  cancel(planId: PlanId): void {
    const pending = this.pending.get(planId);
    if (pending === undefined) throw new NotFoundError(`plan ${planId} is not in flight`);
    this.pending.delete(planId);
    for (const step of pending.steps) this.revertStep(step);
    pending.lease.busy.remove(pending.busy[0], pending.busy[1]);
    pending.undo();
  }

  /** The plans in flight (for shutdown and diagnostics). */
  pendingPlans(): Plan[] {
    return [...this.pending.values()].map((p) => p.plan);
  }

  // ---------------------------------------------------------------- internals

  private openPlan(kind: PlanKind, arena: Arena, lease: Lease, busy: readonly [number, number], steps: readonly PendingStep[], options: PlanOptions): Plan {
    const id = this.nextPlanId++;
    if (!lease.busy.containsRange(busy[0], busy[1])) lease.busy.add(busy[0], busy[1]);
    const { settle, undo, discard, collapseCandidates = [], restoredBytes = 0, convertedBytes = 0 } = options;
    const plan: Plan = { id, kind, leaseId: lease.id, arenaId: arena.id, steps: steps.map((s) => s.step), ...(discard === undefined ? {} : { discard }) };
    this.pending.set(id, { plan, lease, steps, busy, settle, undo, collapseCandidates, restoredBytes, convertedBytes });
    return plan;
  }

  /**
   * Applies a page-state change, then plans the population it implies. When the reserve cannot
   * supply the units the change needs, the change is undone and the call throws: the pool is
   * left exactly as it was. `undo` restores the saved units the same way, for `cancel`: it is
   * exact as long as the plan is in flight, because its busy units keep every other plan off
   * them and none of its steps is applied before it settles.
   */
  private mutatePagesThenPlan(arena: Arena, lease: Lease, busyPages: readonly number[], granularity: number, mutate: () => void): { steps: PendingStep[]; undo: () => void } {
    const startUnit = busyPages[0]! / PAGES;
    const endUnit = busyPages[1]! / PAGES;
    const saved = lease.pages.save(startUnit, endUnit);
    this.measured(lease, [startUnit, endUnit], mutate);
    const undo = (): void => this.measured(lease, [startUnit, endUnit], () => lease.pages.restore(saved));
    const actions = planPopulation({ pages: lease.pages, layout: arena.layout, granularityBytes: granularity, startUnit, endUnit, maxStepUnits: this.maxStepUnits });
    const needed = actions.reduce((n, a) => n + (a.op === "populate" ? a.units : 0), 0);
    if (needed > this.availableTo(arena)) {
      undo();
      throw new ExhaustedError(`lease "${lease.id}" needs ${needed} more units, ${this.availabilityText(arena)}`);
    }
    return { steps: this.populationSteps(arena, lease, actions), undo };
  }

  /** Turns population actions into kernel steps that claim reserve slots now. */
  private populationSteps(arena: Arena, lease: Lease, actions: readonly PopulationAction[]): PendingStep[] {
    const granularity = this.granularityOf(arena);
    return actions.map((action) => {
      const bytes = this.pagesToArenaBytes(lease, action.startPage, action.endPage);
      checkStepAlignment(bytes, action.wholeBlocks ? populateBlockBytes(granularity) : granularity, arena.id);
      const step: KernelStep = action.op === "populate"
        ? { op: "populate", arenaId: arena.id, side: action.side, bytes, unitsTaken: action.units, reserveSlots: this.handOut(arena, action.units, `lease "${lease.id}"`) }
        : { op: "punch", arenaId: arena.id, side: action.side, bytes, unitsReturned: action.units, reserveSlots: this.reserveState.beginTakeBack(action.units) };
      return { step, startPage: action.startPage, endPage: action.endPage };
    });
  }

  /** Claims `n` reserve slots for the arena, its reservation's first. */
  private handOut(arena: Arena, n: number, what: string): UnitRange[] {
    const slots = this.reserveState.beginHandOut(n, what, Math.min(n, this.reservedFor(arena)));
    arena.poolUnits += n;
    return slots;
  }

  private stateless(lease: Lease, step: KernelStep): PendingStep {
    const base = lease.start * UNIT_BYTES;
    return { step, startPage: (step.bytes.start - base) / PAGE_BYTES, endPage: (step.bytes.end - base) / PAGE_BYTES };
  }

  /** The kernel did the step: its state change happens, its reserve slots move on. */
  private applyStep(lease: Lease, { step, startPage, endPage }: PendingStep): void {
    switch (step.op) {
      case "populate":
        this.setPages(lease, populatedFieldOf(step.side), startPage, endPage, true);
        this.reserveState.finishHandOut(step.reserveSlots);
        return;
      case "punch":
        this.setPages(lease, populatedFieldOf(step.side), startPage, endPage, false);
        this.reserveState.finishTakeBack(step.reserveSlots);
        this.arenaUnitsBack(this.arena(step.arenaId), step.unitsReturned);
        return;
      case "set-attributes":
        this.setPages(lease, FIELD_PRIVATE, startPage, endPage, step.private);
        return;
      case "zero":
        return;
    }
  }

  /** The kernel did not do the step: its reserve slots go back where they were. */
  private revertStep({ step }: PendingStep): void {
    if (step.op === "populate") {
      this.reserveState.cancelHandOut(step.reserveSlots);
      this.arenaUnitsBack(this.arena(step.arenaId), step.unitsTaken);
    } else if (step.op === "punch") this.reserveState.cancelTakeBack(step.reserveSlots);
  }

  private setPages(lease: Lease, field: PageField, startPage: number, endPage: number, on: boolean): void {
    const startUnit = Math.floor(startPage / PAGES);
    const endUnit = Math.ceil(endPage / PAGES);
    const before = countPageStates(lease.pages, startUnit, endUnit);
    lease.pages.setField(field, startPage, endPage, on);
    this.applyTotals(before, countPageStates(lease.pages, startUnit, endUnit));
  }

  /** Runs `change` on units [start, end) of a lease and keeps the pool's totals exact. */
  private measured(lease: Lease, range: readonly [number, number], change: () => void): void {
    const before = countPageStates(lease.pages, range[0], range[1]);
    change();
    this.applyTotals(before, countPageStates(lease.pages, range[0], range[1]));
  }

  /** Recomputes the running totals from scratch (after a snapshot import). */
  /** After a snapshot import: what each arena holds, then the reservations' ear-mark. */
  private recountArenaUnits(): void {
    for (const arena of this.arenaMap.values()) {
      arena.poolUnits = 0;
      for (const lease of arena.leases.values()) arena.poolUnits += populatedSideUnits(lease, arena.sides);
    }
    for (const reservation of this.reservationMap.values()) this.reserveState.earmark(this.reservedUnitsOf(reservation), `claim "${reservation.claimUid}"`);
  }

  private recountTotals(): void {
    this.totals.deferredPages = this.totals.stalePages = this.totals.splitUnits = 0;
    for (const lease of this.leaseMap.values()) this.applyTotals(ZERO_COUNTS, countPageStates(lease.pages, 0, lease.unitCount));
  }

  private applyTotals(before: PageStateCounts, after: PageStateCounts): void {
    this.totals.deferredPages += after.deferredPages - before.deferredPages;
    this.totals.stalePages += after.stalePages - before.stalePages;
    this.totals.splitUnits += after.splitUnits - before.splitUnits;
  }

  private requireIdle(lease: Lease, busyPages: readonly number[]): void {
    if (lease.state !== "active") {
      throw new FailedPreconditionError(`lease "${lease.id}" is ${lease.state}${lease.state === "failed" ? ": only a release is accepted" : ""}`);
    }
    const start = busyPages[0]! / PAGES;
    const end = busyPages[1]! / PAGES;
    if (lease.busy.intersects(start, end)) {
      throw new ConflictError(`units [${lease.start + start}, ${lease.start + end}) of lease "${lease.id}" have a kernel call in flight; retry when it settles`);
    }
  }

  /** Validates an arena byte range against a lease and returns it in lease-relative pages. */
  private leasePages(lease: Lease, request: RangeRequest, what: string): { startPage: number; endPage: number } {
    const range = requirePageRange(request.offsetBytes, request.lengthBytes, what);
    const leaseStart = lease.start * UNIT_BYTES;
    const leaseEnd = lease.end * UNIT_BYTES;
    if (range.start < leaseStart || range.end > leaseEnd) {
      throw new InvalidArgumentError(`${what} range [${range.start}, ${range.end}) is outside lease "${lease.id}" [${leaseStart}, ${leaseEnd})`);
    }
    return { startPage: (range.start - leaseStart) / PAGE_BYTES, endPage: (range.end - leaseStart) / PAGE_BYTES };
  }

  private pageToArenaBytes(lease: Lease, page: number): number {
    return lease.start * UNIT_BYTES + page * PAGE_BYTES;
  }

  private pagesToArenaBytes(lease: Lease, startPage: number, endPage: number): ByteRange {
    return { start: this.pageToArenaBytes(lease, startPage) as Bytes, end: this.pageToArenaBytes(lease, endPage) as Bytes };
  }

  private notAllPrivate(lease: Lease, startPage: number, endPage: number): number[] {
    const result: number[] = [];
    for (let u = Math.floor(startPage / PAGES); u * PAGES < endPage; u++) {
      if (lease.pages.count(u * PAGES, (u + 1) * PAGES, (p) => p) < PAGES) result.push(u);
    }
    return result;
  }

  private findPlacement(arena: Arena, unitCount: number, blockUnits: number): number {
    const start = alignedFit(arena.free, unitCount, blockUnits, this.poolPolicy.fit);
    if (start < 0) {
      throw new ExhaustedError(`arena "${arena.id}" has no free run of ${unitCount} units (largest is ${arena.free.largestRun()} of ${arena.free.size} free)`);
    }
    return start;
  }

  private checkPlacement(arena: Arena, offset: number, unitCount: number, blockUnits: number): number {
    requireCount(offset, "placement offset (units)");
    if (offset % blockUnits !== 0) {
      throw new InvalidArgumentError(`placement offset ${offset} units is not aligned to the punch granularity of arena "${arena.id}" (${blockUnits} units)`);
    }
    if (offset + unitCount > arena.sizeUnits) {
      // In bigint: a placement far past the end is more bytes than a double holds exactly.
      const unit = BigInt(UNIT_BYTES);
      const start = BigInt(offset) * unit;
      throw new InvalidArgumentError(`placement [${start}, ${start + BigInt(unitCount) * unit}) passes the end of arena "${arena.id}" (${arena.sizeUnits * UNIT_BYTES} bytes)`, { field: "offset_bytes", value: String(start) });
    }
    if (!arena.free.containsRange(offset, offset + unitCount)) {
      const other = [...arena.leases.values()].find((l) => l.start < offset + unitCount && offset < l.end);
      throw new FailedPreconditionError(`placement [${offset}, ${offset + unitCount}) units overlaps lease "${other?.id ?? "?"}" in arena "${arena.id}"`, { resource: "arena", id: arena.id, field: "offset_bytes" });
    }
    return offset;
  }

  private freshArenaId(): ArenaId {
    let id: string;
    do id = `arena-${this.nextArenaNumber++}`;
    while (this.arenaMap.has(id));
    return id;
  }

  private freshLeaseId(): LeaseId {
    let id: string;
    do id = `lease-${this.nextLeaseNumber++}`;
    while (this.leaseMap.has(id));
    return id;
  }

  // ---------------------------------------------------------------- invariants

  /** Checks DESIGN.md §3 over the whole pool; tests call it after every step. */
  assertInvariants(): void {
    checkPoolInvariants(this, this.totals);
  }
}

function expandToBlocks(startPage: number, endPage: number, blockPages: number): [number, number] {
  return [Math.floor(startPage / blockPages) * blockPages, Math.ceil(endPage / blockPages) * blockPages];
}

function validateFiles(files: readonly FileKind[]): void {
  if (files.length !== 1 && files.length !== 2) throw new InvalidArgumentError(`an arena has one file or a pair, got ${files.length}`);
  for (const kind of files) {
    requireOneOf(kind, FILE_KINDS, "file kind");
  }
  if (files.length === 2 && (files[0] !== "guest_memfd" || files[1] === "guest_memfd")) {
    throw new InvalidArgumentError(`an arena pair is guest_memfd (private) + memfd (shared), got ${files.join(" + ")}`);
  }
}

function checkStepAlignment(bytes: ByteRange, granularity: number, arenaId: ArenaId): void {
  if (bytes.start % granularity !== 0 || bytes.end % granularity !== 0) {
    throw new Error(`internal: step [${bytes.start}, ${bytes.end}) on arena "${arenaId}" breaks the ${formatBytes(granularity)} granularity`);
  }
}

function stillActive(): "active" {
  return "active";
}

function nothingToUndo(): void {
  // An in-place conversion changes the page state only when its step is applied.
}

function isEmpty(values: Iterable<number>): boolean {
  if (Array.isArray(values)) return values.length === 0;
  for (const _ of values) return false;
  return true;
}


export type { UnitRange };
