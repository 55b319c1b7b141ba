/**
 * The state every view of one fake shares (`FakePoolClient` and the clients made with `as()`):
 * the fake's "daemon". It holds the records and the derived figures; the rules (what each call
 * checks and changes) are in fake-pool-client.ts.
 *
 * Invariants (`assertConservation`, DESIGN.md §3):
 * 1. conservation: free + leased = capacity (the fake has no call in flight, so nothing is
 *    claimed), and the leased count equals the populated side-units of all leases;
 * 3. in each arena, leases lie inside the arena and never overlap;
 * 4. no page state outside a lease (a lease's pages go with it); a one-file arena's leases never
 *    populate side 1;
 * 5. every lease is its arena's and has the arena's owner; every active memfd arena still holds
 *    its kept fd.
 */
import { PAGES_PER_UNIT, PAGE_BYTES, UNIT_BYTES } from "../units.ts";
import type { DiscardPolicy, Identity, Policy, ReserveMode, ServingState } from "../resources.ts";
import { isPopulated } from "./backing.ts";
import { EventLog } from "./event-log.ts";
import { leaseEnd, type FakeArena, type FakeLease } from "./fake-records.ts";
import { inspectFd } from "./memfd.ts";
import { DISCARDED, POPULATED_SIDE0, POPULATED_SIDE1, type Side } from "./page-map.ts";
import { RequestIdRecords } from "./request-ids.ts";
import { ReserveSlots } from "./reserve-slots.ts";

/** What the fake's host and daemon are like (FakePoolClientOptions, resolved). */
export interface FakeHostSettings {
  readonly capacityUnitCount: number;
  readonly reserveMode: ReserveMode;
  /** The host has guest_memfd (arena kinds guest_memfd and pair). */
  readonly guestMemfd: boolean;
  /** The kernel has KVM_SET_MEMORY_ATTRIBUTES2 (Convert IN_PLACE). */
  readonly inPlaceConversion: boolean;
  readonly arenasPerProcess: number;
  readonly daemonVersion: string;
}

export class FakePoolState {
  readonly settings: FakeHostSettings;
  readonly reserve: ReserveSlots;
  readonly arenas = new Map<string, FakeArena>();
  readonly leases = new Map<string, FakeLease>();
  readonly events = new EventLog();
  readonly requestIds = new RequestIdRecords();
  policy: Policy;
  servingState: ServingState = "serving";
  startTime = new Date();
  /** Whether deferred bytes were at the cap after the last change (deferred-cap-reached fires on the rise). */
  deferredCapReached = false;
  #nextArena = 1;
  #nextLease = 1;

  constructor(settings: FakeHostSettings, policy: Policy) {
    this.settings = settings;
    this.reserve = new ReserveSlots(settings.capacityUnitCount);
    this.policy = policy;
  }

  /** "arena-000000000001": the daemon's id shape ("arena-" and 12 hex digits), in creation order. */
  freshId(prefix: "arena" | "lease"): string {
    const n = prefix === "arena" ? this.#nextArena++ : this.#nextLease++;
    return `${prefix}-${n.toString(16).padStart(12, "0")}`;
  }

  granularityOf(arena: FakeArena): bigint {
    return arena.policy.punchGranularityBytes ?? this.policy.punchGranularityBytes;
  }

  /** The block a lease is placed and populated in: the granularity, never less than a unit. */
  blockUnitsOf(arena: FakeArena): number {
    const granularity = this.granularityOf(arena);
    return Number((granularity > UNIT_BYTES ? granularity : UNIT_BYTES) / UNIT_BYTES);
  }

  discardPolicyOf(arena: FakeArena): DiscardPolicy {
    return arena.policy.discardPolicy ?? this.policy.discardPolicy;
  }

  arenaOf(lease: FakeLease): FakeArena {
    const arena = this.arenas.get(lease.arenaId);
    if (arena === undefined) throw new Error(`FakePoolState: lease "${lease.id}" names a missing arena "${lease.arenaId}"`);
    return arena;
  }

  /** Discarded pages still populated, counted per side (the daemon's pool-wide deferred figure). */
  deferredPages(): number {
    let pages = 0;
    for (const lease of this.leases.values()) pages += leaseDeferredPages(lease);
    return pages;
  }

  splitUnitCount(): number {
    let units = 0;
    for (const lease of this.leases.values()) units += lease.pages.splitUnitCount;
    return units;
  }

  /** Populated side-units of a lease (a pair's unit populated on both sides counts twice). */
  populatedSideUnits(lease: FakeLease, side: Side): number {
    let units = 0;
    for (let u = 0; u < lease.unitCount; u++) if (lease.pages.countInUnit(u, (flags) => isPopulated(flags, side)) > 0) units++;
    return units;
  }

  /** The daemon's check after a change: deferred bytes rose to the cap where some arena defers. */
  deferredCapCrossed(): boolean {
    const defers = this.policy.discardPolicy === "defer" || [...this.arenas.values()].some((a) => a.policy.discardPolicy === "defer");
    const reached = defers && BigInt(this.deferredPages()) * PAGE_BYTES >= this.policy.deferredCapBytes;
    const crossed = reached && !this.deferredCapReached;
    this.deferredCapReached = reached;
    return crossed;
  }

  ownerKeyOf(identity: Identity): string {
    return `${identity.uid}:${identity.pid}:${identity.startTimeTicks}`;
  }

  /** Checks the invariants of the header comment; throws an Error naming the first broken one. */
  assertConservation(): void {
    this.reserve.assertInvariants();
    const { freeUnitCount, leasedUnitCount, capacity } = this.reserve;
    if (freeUnitCount + leasedUnitCount !== capacity) throw new Error(`conservation: free ${freeUnitCount} + leased ${leasedUnitCount} != capacity ${capacity}`);
    let populated = 0;
    let leaseCount = 0;
    for (const arena of this.arenas.values()) {
      const sorted = [...arena.leases.values()].sort((a, b) => a.firstUnit - b.firstUnit);
      sorted.forEach((lease, i) => {
        leaseCount++;
        if (this.leases.get(lease.id) !== lease) throw new Error(`lease "${lease.id}" of arena "${arena.id}" is not in the pool's lease table`);
        if (lease.arenaId !== arena.id || lease.ownerKey !== arena.ownerKey) throw new Error(`lease "${lease.id}" does not name its arena "${arena.id}" and its owner`);
        if (lease.firstUnit < 0 || leaseEnd(lease) > arena.unitCount) throw new Error(`lease "${lease.id}" (units ${lease.firstUnit}+${lease.unitCount}) lies outside arena "${arena.id}" (${arena.unitCount} units)`);
        const next = sorted[i + 1];
        if (next !== undefined && next.firstUnit < leaseEnd(lease)) throw new Error(`leases "${lease.id}" and "${next.id}" of arena "${arena.id}" overlap`);
        lease.pages.assertInvariants();
        if (arena.layout === "single" && lease.pages.count(0, lease.pages.pageCount, (f) => (f & POPULATED_SIDE1) !== 0) > 0) throw new Error(`lease "${lease.id}" of one-file arena "${arena.id}" has pages populated on side 1`);
        populated += this.populatedSideUnits(lease, 0) + (arena.layout === "pair" ? this.populatedSideUnits(lease, 1) : 0);
      });
      if (arena.state === "active") {
        arena.keptFds.forEach((fd, side) => {
          if (fd !== undefined && inspectFd(fd) === undefined) throw new Error(`arena "${arena.id}" side ${side}: its kept memfd ${fd} is closed`);
        });
      }
    }
    if (leaseCount !== this.leases.size) throw new Error(`the pool's lease table has ${this.leases.size} leases, the arenas ${leaseCount}`);
    if (populated !== leasedUnitCount) throw new Error(`conservation: leases hold ${populated} populated side-units, the reserve counts ${leasedUnitCount} leased`);
  }
}

export function leaseDeferredPages(lease: FakeLease): number {
  const all = lease.unitCount * PAGES_PER_UNIT;
  const side0 = lease.pages.count(0, all, (f) => (f & DISCARDED) !== 0 && (f & POPULATED_SIDE0) !== 0);
  const side1 = lease.pages.count(0, all, (f) => (f & DISCARDED) !== 0 && (f & POPULATED_SIDE1) !== 0);
  return side0 + side1;
}
