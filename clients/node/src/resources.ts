/**
 * The API's resources as a VMM sees them (proto/gmempool/v1/resources.proto, in TypeScript
 * spelling). Conventions, as in the proto:
 *
 * - byte quantities and offsets are `bigint` and end in `Bytes`; unit counts (a unit is 2 MiB)
 *   are `number` and end in `UnitCount` (or `firstUnit` for an index). They never share a type.
 * - offsets are byte offsets in an arena's file, never guest physical addresses.
 * - enums are short lower-case strings (`"shared"`, `"defer"`), not the proto's prefixed names.
 * - ids are opaque strings chosen by the daemon; they survive daemon restarts.
 */

export type ReserveMode = "gmem" | "hugetlb" | "none";
export type ArenaKind = "guest_memfd" | "memfd" | "pair";
export type ArenaState = "active" | "detached" | "deleting";
export type MemfdBacking = "shmem" | "hugetlb";
export type FdType = "guest_memfd" | "memfd_shmem" | "memfd_hugetlb";
export type PageVisibility = "shared" | "private";
export type DiscardPolicy = "reject" | "zero" | "defer";
export type ConversionMode = "in-place" | "notify";
export type ContentIntent = "preserve" | "destroy";
export type ServingState = "starting" | "serving" | "draining";
export type UnitState = "free" | "claimed" | "leased" | "split" | "deferred" | "discarded";
export type ReleaseReason = "client" | "force-release" | "owner-exited";
export type PolicySource = "admin" | "config";

/** A process, as the kernel reported it to the daemon (SO_PEERCRED), never as it claims. */
export interface Identity {
  readonly uid: number;
  readonly gid: number;
  readonly pid: number;
  /** Field 22 of /proc/PID/stat: with `pid`, names one process, not a recycled pid. */
  readonly startTimeTicks: bigint;
}

export interface KernelFeature {
  /** Kernel spelling ("KVM_CAP_GUEST_MEMFD"); the set is open: ignore names you do not know. */
  readonly name: string;
  readonly available: boolean;
  readonly detail: string;
}

/** What this daemon and kernel can do (probed at the daemon's start, never assumed). */
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
}

export interface ArenaFile {
  readonly fdType: FdType;
  /** Which pages the file serves in a pair; undefined for a single-file arena (both). */
  readonly serves: PageVisibility | undefined;
  readonly sizeBytes: bigint;
  readonly populatedUnitCount: number;
  /** "gmempool:ARENA_ID" for a memfd, "" for a guest_memfd. */
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

export interface Policy {
  readonly discardPolicy: DiscardPolicy;
  readonly punchGranularityBytes: bigint;
  readonly deferredCapBytes: bigint;
  readonly deferredOverflowPolicy: DiscardPolicy;
}

/** An arena's override of the pool policy; an absent field follows the pool. */
export interface ArenaPolicyOverride {
  readonly arenaId: string;
  readonly discardPolicy?: DiscardPolicy;
  readonly punchGranularityBytes?: bigint;
}

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
  /** [k] = maximal free runs of [2^k, 2^(k+1)) units; order 9 is 1 GiB. */
  readonly freeRunCountsByOrder: readonly number[];
}

/** /proc/buddyinfo for one zone, orders >= 9 (2 MiB) only. */
export interface BuddyZone {
  readonly node: number;
  readonly zone: string;
  readonly firstOrder: number;
  readonly freeBlockCounts: readonly bigint[];
  readonly freeBytes: bigint;
}

export interface FragmentationMap {
  readonly arenas: readonly ArenaUnitMap[];
  readonly reserve: ReserveMap;
  readonly kernelBuddyZones: readonly BuddyZone[];
  readonly time: Date | undefined;
}

export interface DeleteArenaResult {
  readonly releasedLeaseCount: number;
  readonly releasedUnitCount: number;
}

export interface ReleaseResult {
  readonly releasedUnitCount: number;
}

/**
 * As DiscardResponse in pool.proto: the range's punched share + zeroed + deferred +
 * already-discarded bytes = the range's length. `punchedBytes` is what the kernel freed (whole
 * granules, per file), at least the range's punched share: it can include pages outside the range.
 */
export interface DiscardResult {
  readonly punchedBytes: bigint;
  readonly releasedUnitCount: number;
  readonly zeroedBytes: bigint;
  readonly deferredBytes: bigint;
  /** The policy that governed the sub-granule part; undefined if the range was whole granules. */
  readonly appliedPolicy: DiscardPolicy | undefined;
}

export interface PopulateResult {
  readonly populatedUnitCount: number;
  readonly restoredBytes: bigint;
}

/** A run of units by index (byte offset / 2 MiB). */
export interface UnitSpan {
  readonly firstUnit: number;
  readonly unitCount: number;
}

export interface ConvertResult {
  readonly convertedBytes: bigint;
  readonly populatedUnitCount: number;
  readonly stalePunchedBytes: bigint;
  readonly staleReleasedUnitCount: number;
  readonly collapsibleUnits: readonly UnitSpan[];
}

export interface SetPolicyResult {
  readonly poolPolicy: Policy;
  readonly arenaOverride: ArenaPolicyOverride | undefined;
}

export interface ForceReleaseResult {
  readonly releasedLeaseCount: number;
  readonly deletedArenaCount: number;
  readonly releasedUnitCount: number;
}

/** The kinds of Watch events (PoolEventKind), to filter on. */
export type PoolEventKind =
  | "pool-status"
  | "arena-created"
  | "arena-state-changed"
  | "arena-deleted"
  | "lease-allocated"
  | "lease-released"
  | "range-discarded"
  | "range-populated"
  | "range-converted"
  | "policy-changed"
  | "owner-exited"
  | "deferred-cap-reached";

export const POOL_EVENT_KINDS: readonly PoolEventKind[] = [
  "pool-status",
  "arena-created",
  "arena-state-changed",
  "arena-deleted",
  "lease-allocated",
  "lease-released",
  "range-discarded",
  "range-populated",
  "range-converted",
  "policy-changed",
  "owner-exited",
  "deferred-cap-reached",
];

interface EventHeader {
  /** Pool-wide: a filtered stream skips numbers. */
  readonly sequence: bigint;
  readonly time: Date | undefined;
}

interface RangeEvent {
  readonly arenaId: string;
  readonly offsetBytes: bigint;
  readonly lengthBytes: bigint;
}

/** One event of Watch, discriminated by `kind`. */
export type PoolEvent = EventHeader &
  (
    | { readonly kind: "pool-status"; readonly status: PoolStatus }
    | { readonly kind: "arena-created"; readonly arena: Arena }
    | { readonly kind: "arena-state-changed"; readonly arena: Arena }
    | { readonly kind: "arena-deleted"; readonly arenaId: string; readonly owner: Identity; readonly releasedLeaseCount: number; readonly releasedUnitCount: number; readonly reason: ReleaseReason }
    | { readonly kind: "lease-allocated"; readonly lease: Lease }
    | { readonly kind: "lease-released"; readonly leaseId: string; readonly arenaId: string; readonly releasedUnitCount: number; readonly reason: ReleaseReason }
    | ({ readonly kind: "range-discarded"; readonly punchedBytes: bigint; readonly releasedUnitCount: number; readonly zeroedBytes: bigint; readonly deferredBytes: bigint } & RangeEvent)
    | ({ readonly kind: "range-populated"; readonly populatedUnitCount: number } & RangeEvent)
    | ({ readonly kind: "range-converted"; readonly toVisibility: PageVisibility; readonly mode: ConversionMode } & RangeEvent)
    | { readonly kind: "policy-changed"; readonly poolPolicy: Policy; readonly arenaOverride: ArenaPolicyOverride | undefined; readonly source: PolicySource }
    | { readonly kind: "owner-exited"; readonly owner: Identity; readonly deletedArenaCount: number; readonly releasedLeaseCount: number; readonly releasedUnitCount: number }
    | { readonly kind: "deferred-cap-reached"; readonly deferredBytes: bigint; readonly deferredCapBytes: bigint; readonly overflowPolicy: DiscardPolicy }
  );
