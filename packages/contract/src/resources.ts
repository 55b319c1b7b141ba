/**
 * The API's resources (proto/gmempool/v1/resources.proto and the resource-shaped responses of
 * pool.proto) in TypeScript spelling, one definition for the daemon, which reports them, and the
 * client library, which returns them. Conventions, as in the proto:
 *
 * - byte quantities and offsets are `bigint` and end in `Bytes`; unit counts (a unit is 2 MiB)
 *   are `number` and end in `UnitCount` (or `firstUnit` for an index). They never share a type.
 * - offsets are byte offsets in an arena's file, never guest physical addresses.
 * - enums are the short strings of vocabulary.ts.
 * - ids are opaque strings chosen by the daemon; they survive daemon restarts.
 * - a google.protobuf.Timestamp is a message field, which proto3 lets be absent: `Date | undefined`
 *   (the daemon always sets it).
 */
import type { ArenaKind, ArenaState, ConversionMode, DiscardPolicy, FdType, MemfdBacking, PageVisibility, QuotaSubject, ReserveMode, ServingState, UnitState } from "./vocabulary.ts";

/** A process, as the kernel reported it to the daemon (SO_PEERCRED), never as it claims. */
export interface Identity {
  readonly uid: number;
  readonly gid: number;
  readonly pid: number;
  /** Field 22 of /proc/PID/stat (clock ticks since boot): with `pid`, names one process, not a recycled pid; 0n when it could not be read. */
  readonly startTimeTicks: bigint;
}

export interface KernelFeature {
  /** Kernel spelling ("KVM_CAP_GUEST_MEMFD"); the set is open: ignore names you do not know. */
  readonly name: string;
  readonly available: boolean;
  readonly detail: string;
}

/** GetCapabilitiesResponse: what this daemon and kernel can do (probed at the daemon's start, never assumed). */
export interface Capabilities {
  readonly daemonVersion: string;
  readonly unitBytes: bigint;
  readonly pageBytes: bigint;
  readonly reserveMode: ReserveMode;
  readonly arenaKinds: readonly ArenaKind[];
  readonly memfdBackings: readonly MemfdBacking[];
  readonly conversionModes: readonly ConversionMode[];
  readonly kernelFeatures: readonly KernelFeature[];
  readonly fdSocketPath: string;
  readonly fdChannelVersion: number;
  readonly fdTokenTtlMs: number;
  readonly maxPendingFdTokens: number;
  readonly requestIdRetentionMs: number;
  /** The caller, as the daemon identified it. */
  readonly caller: Identity;
  readonly callerIsAdmin: boolean;
  readonly maxRequestMessageBytes: number;
}

/** The whole pool at one instant: free + claimed + leased = capacity. */
export interface PoolStatus {
  readonly servingState: ServingState;
  readonly reserveMode: ReserveMode;
  readonly capacityUnitCount: number;
  readonly freeUnitCount: number;
  readonly claimedUnitCount: number;
  readonly leasedUnitCount: number;
  readonly reservePopulatedUnitCount: number;
  readonly splitUnitCount: number;
  readonly deferredBytes: bigint;
  readonly deferredCapBytes: bigint;
  readonly arenaCount: number;
  readonly leaseCount: number;
  readonly largestFreeRunUnitCount: number;
  readonly startTime: Date | undefined;
  readonly lastEventSequence: bigint;
  /** Reservations (issue 11): units ear-marked for claims, and how many claims. */
  readonly reservedUnitCount: number;
  readonly reservationCount: number;
}

/** A quota binding the caller (every quota, for an admin) and what its subject uses now. */
export interface QuotaUsage {
  readonly subject: QuotaSubject;
  /** The uid or gid. */
  readonly id: number;
  /** undefined: no limit on units. */
  readonly unitLimit: number | undefined;
  readonly leasedUnitCount: number;
  /** undefined: no limit on arenas. */
  readonly arenaLimit: number | undefined;
  readonly arenaCount: number;
}

export interface ArenaFile {
  readonly fdType: FdType;
  /** Which pages the file serves in a pair: "private" (guest_memfd) or "shared" (memfd); undefined for a single-file arena (both). */
  readonly serves: PageVisibility | undefined;
  readonly sizeBytes: bigint;
  readonly populatedUnitCount: number;
  /** memfd_create's name ("gmempool:ARENA_ID") for a memfd, "" for a guest_memfd. */
  readonly memfdName: string;
}

export interface EffectiveArenaPolicy {
  readonly discardPolicy: DiscardPolicy;
  readonly discardPolicyOverridden: boolean;
  readonly punchGranularityBytes: bigint;
  readonly punchGranularityOverridden: boolean;
}

/** One file-backed region of guest memory (a VM's), owned by the process that made it. */
export interface Arena {
  readonly arenaId: string;
  readonly name: string;
  readonly kind: ArenaKind;
  readonly state: ArenaState;
  readonly owner: Identity;
  readonly sizeBytes: bigint;
  readonly unitCount: number;
  readonly leasedUnitCount: number;
  readonly discardedUnitCount: number;
  readonly splitUnitCount: number;
  readonly deferredBytes: bigint;
  readonly leaseCount: number;
  readonly initialVisibility: PageVisibility;
  readonly files: readonly ArenaFile[];
  readonly policy: EffectiveArenaPolicy;
  readonly createTime: Date | undefined;
}

/** A unit-aligned, populated range of one arena. Leases never overlap. */
export interface Lease {
  readonly leaseId: string;
  readonly arenaId: string;
  readonly owner: Identity;
  readonly offsetBytes: bigint;
  readonly lengthBytes: bigint;
  readonly unitCount: number;
  readonly label: string;
  readonly sharedBytes: bigint;
  readonly privateBytes: bigint;
  /** sharedBytes + privateBytes + discardedBytes = lengthBytes. */
  readonly discardedBytes: bigint;
  readonly discardedUnitCount: number;
  readonly splitUnitCount: number;
  readonly createTime: Date | undefined;
}

/** The pool-wide policy. */
export interface Policy {
  readonly discardPolicy: DiscardPolicy;
  readonly punchGranularityBytes: bigint;
  readonly deferredCapBytes: bigint;
  /** "reject" or "zero": what DEFER becomes while the deferred cap is reached. */
  readonly deferredOverflowPolicy: DiscardPolicy;
}

/** An arena's override of the pool policy; an absent field follows the pool. */
export interface ArenaPolicyOverride {
  readonly arenaId: string;
  readonly discardPolicy?: DiscardPolicy;
  readonly punchGranularityBytes?: bigint;
}

/** GetPolicyResponse. */
export interface PolicyView {
  readonly poolPolicy: Policy;
  readonly arenaOverrides: readonly ArenaPolicyOverride[];
}

/** Consecutive units of an arena in the same state and lease. */
export interface UnitRun {
  readonly firstUnit: number;
  readonly unitCount: number;
  readonly state: UnitState;
  /** "" for free units. */
  readonly leaseId: string;
}

export interface ArenaUnitMap {
  readonly arenaId: string;
  readonly unitCount: number;
  /** Every unit exactly once, in order. */
  readonly runs: readonly UnitRun[];
  readonly largestFreeRunUnitCount: number;
}

export interface ReserveMap {
  readonly mode: ReserveMode;
  readonly freeUnitCount: number;
  readonly largestFreeRunUnitCount: number;
  /** [k] = maximal free runs of [2^k, 2^(k+1)) units (order 9 is 1 GiB); trailing zeros omitted. */
  readonly freeRunCountsByOrder: readonly number[];
}

/** /proc/buddyinfo for one zone, orders >= 9 (2 MiB) only. */
export interface BuddyZone {
  readonly node: number;
  readonly zone: string;
  /** Always 9 (2 MiB). */
  readonly firstOrder: number;
  readonly freeBlockCounts: readonly bigint[];
  readonly freeBytes: bigint;
}

/** GetFragmentationMapResponse. */
export interface FragmentationMap {
  readonly arenas: readonly ArenaUnitMap[];
  readonly reserve: ReserveMap;
  readonly kernelBuddyZones: readonly BuddyZone[];
  readonly time: Date | undefined;
}

/** A run of units by index (byte offset / 2 MiB). */
export interface UnitSpan {
  readonly firstUnit: number;
  readonly unitCount: number;
}
