/**
 * What the daemon service reports (arenas, leases, status, capabilities, maps) and how fds
 * cross its boundary. Conventions: pool-service.ts.
 */
import type { Fd } from "@gmempool/sys";
import { type Identity, type ReserveMode, type ArenaKind, type ArenaState, type MemfdBacking, type FdType, type Visibility, type DiscardPolicyName, type DeferredOverflowPolicy, type ConversionMode, type ServingState, type UnitState } from "./service-vocabulary.ts";

// ================================================================================== resources

export interface ArenaFileInfo {
  readonly fdType: FdType;
  /** For a pair: "private" (guest_memfd) or "shared" (memfd); undefined for a single file. */
  readonly serves: Visibility | undefined;
  readonly sizeBytes: bigint;
  readonly populatedUnitCount: number;
  /** memfd_create's name ("gmempool:ARENA_ID"); "" for a guest_memfd. */
  readonly memfdName: string;
}

export interface EffectiveArenaPolicy {
  readonly discardPolicy: DiscardPolicyName;
  readonly discardPolicyOverridden: boolean;
  readonly punchGranularityBytes: bigint;
  readonly punchGranularityOverridden: boolean;
}

export interface ArenaInfo {
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
  readonly initialVisibility: Visibility;
  readonly files: readonly ArenaFileInfo[];
  readonly policy: EffectiveArenaPolicy;
  readonly createTime: Date;
}

export interface LeaseInfo {
  readonly leaseId: string;
  readonly arenaId: string;
  readonly owner: Identity;
  readonly offsetBytes: bigint;
  readonly lengthBytes: bigint;
  readonly unitCount: number;
  readonly label: string;
  readonly sharedBytes: bigint;
  readonly privateBytes: bigint;
  readonly discardedBytes: bigint;
  readonly discardedUnitCount: number;
  readonly splitUnitCount: number;
  readonly createTime: Date;
}

/** resources.proto `Policy`. */
export interface PolicyInfo {
  readonly discardPolicy: DiscardPolicyName;
  readonly punchGranularityBytes: bigint;
  readonly deferredCapBytes: bigint;
  readonly deferredOverflowPolicy: DeferredOverflowPolicy;
}

/** resources.proto `ArenaPolicyOverride`: an absent field follows the pool policy. */
export interface ArenaPolicyOverride {
  readonly arenaId: string;
  readonly discardPolicy?: DiscardPolicyName;
  readonly punchGranularityBytes?: bigint;
}

/** resources.proto `PoolStatus`: free + claimed + leased = capacity. */
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
  readonly startTime: Date;
  readonly lastEventSequence: bigint;
}

export interface KernelFeature {
  readonly name: string;
  readonly available: boolean;
  readonly detail: string;
}

/**
 * The daemon's part of GetCapabilitiesResponse. The fd channel's parameters (socket path,
 * version, token TTL, pending-token limit) and the message size limit are the server's own and
 * are added by it.
 */
export interface Capabilities {
  readonly daemonVersion: string;
  readonly unitBytes: bigint;
  readonly pageBytes: bigint;
  readonly reserveMode: ReserveMode;
  readonly arenaKinds: readonly ArenaKind[];
  readonly memfdBackings: readonly MemfdBacking[];
  readonly conversionModes: readonly ConversionMode[];
  readonly kernelFeatures: readonly KernelFeature[];
  readonly requestIdRetentionMs: number;
  readonly caller: Identity;
  readonly callerIsAdmin: boolean;
}

export interface UnitRun {
  readonly firstUnit: number;
  readonly unitCount: number;
  readonly state: UnitState;
  /** "" for "free". */
  readonly leaseId: string;
}

export interface ArenaUnitMap {
  readonly arenaId: string;
  readonly unitCount: number;
  readonly runs: readonly UnitRun[];
  readonly largestFreeRunUnitCount: number;
}

export interface ReserveMap {
  readonly mode: ReserveMode;
  readonly freeUnitCount: number;
  readonly largestFreeRunUnitCount: number;
  /** [k] = maximal free runs of length in [2^k, 2^(k+1)) units; trailing zeros omitted. */
  readonly freeRunCountsByOrder: readonly number[];
}

export interface BuddyZone {
  readonly node: number;
  readonly zone: string;
  /** Always 9 (2 MiB). */
  readonly firstOrder: number;
  readonly freeBlockCounts: readonly bigint[];
  readonly freeBytes: bigint;
}

export interface UnitSpan {
  readonly firstUnit: number;
  readonly unitCount: number;
}

// ================================================================================== fds

/**
 * How an fd leaves the daemon (CreateMemfdArena, CreateArenaPair): the server passes a
 * `deliver` callback bound to the RECEIVE_FD token's channel connection. The daemon creates the
 * memfd, sizes it, calls `deliver` ONCE before it makes the arena durable, and:
 * - `fd` is BORROWED by the callback: the daemon keeps its own copy and closes it when the
 *   arena goes; the callback must only send it (SCM_RIGHTS duplicates it) and not close it;
 * - if `deliver` rejects (connection gone, buffer full), the daemon closes the memfd, creates
 *   nothing and throws failed-precondition with the callback's message;
 * - on an idempotent replay of a create whose arena still exists, the daemon calls `deliver`
 *   again with the arena's memfd so the retrying client gets the fd on its new token.
 */
export type FdDelivery = (fd: Fd, info: { readonly fdType: FdType; readonly sizeBytes: bigint }) => Promise<void>;

/**
 * The systemd file-descriptor store (DESIGN.md §7), implemented by the composition root with
 * sd_notify "FDSTORE=1\nFDNAME=<name>" / "FDSTOREREMOVE=1\nFDNAME=<name>". The daemon stores
 * every arena file it keeps under `arenaFdName(arenaId, side)` and removes it when the arena
 * goes; after a restart it gets them back through `PoolManagerOptions.inheritedFds`, so arenas
 * come back ACTIVE instead of DETACHED. `fd` is borrowed (sendmsg duplicates it). Must not throw.
 */
export interface ArenaFdStore {
  store(name: string, fd: Fd): void;
  remove(name: string): void;
}

/** FDNAME of an arena file in the fd store: [A-Za-z0-9._-], no ':' (sd_pid_notify_with_fds). */
export function arenaFdName(arenaId: string, side: number): string {
  return `gmempool.${arenaId}.${side}`;
}

/** What a received fd is, for the fd channel's SEND_FD_REPLY. */
export interface FdInspection {
  readonly fdType: FdType;
  readonly sizeBytes: bigint;
}
