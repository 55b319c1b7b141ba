/**
 * The daemon's service interface: what the transport (src/server) calls, one method per RPC of
 * `gmempool.v1.Pool` and `gmempool.v1.Admin` (proto/gmempool/v1/*.proto, docs/api.md). The
 * server decodes a request, calls ONE method here, and encodes the result or maps the thrown
 * `GmempoolError` (src/pool/errors.ts) to a status with one exhaustive switch over its kind.
 *
 * Conventions (read these once; they hold for every type below):
 * - **Bytes are `bigint`, units are `number`.** Every `*Bytes` field is a bigint byte offset or
 *   length (exact over the whole uint64 range: the server does `BigInt(s)` on the proto's
 *   decimal strings and `String(b)` back). Every `*UnitCount` / `firstUnit` is a plain integer.
 *   The daemon validates bytes (alignment, overflow past an arena's end) itself.
 * - **Enums are string unions** in the daemon's spelling ("shared", "in-place", "defer"); the
 *   server maps them to the proto names. `*_UNSPECIFIED` arrives here as `undefined` where the
 *   proto requires a value, and the daemon answers invalid-argument naming the field.
 * - **Identity**: every method takes the `Caller` the server obtained from `identify(peer)`,
 *   with the SO_PEERCRED of the socket. Another owner's id is not-found, exactly like an
 *   unknown id (pool.proto, Pool service comment); permission-denied only for admin-only
 *   requests (`allOwners`, every Admin method) by a non-admin.
 * - **Idempotency**: every mutating request has `requestId` ("" = none). The daemon validates
 *   it, records the first successful result in the same journal write as the change, and a
 *   retry returns that result with `replayed: true` (the server then sets the response header
 *   `gmempool-replayed: true`).
 * - **Durability**: a mutating method resolves only after its change is in the journal
 *   (fsync'd). **Errors**: every method throws (rejects with) a `GmempoolError`; anything else
 *   escaping is a daemon bug and should be reported as INTERNAL.
 * - **fds** (STYLE.md rule 7): see `RegisterGuestMemfdArenaRequest.gmemFd` (fds coming in) and
 *   `FdDelivery` (fds going out).
 */
import type { Fd } from "../kvm/fd.ts";

// ================================================================================== identity

/** The process on the other end of a socket, as the kernel reports it (SO_PEERCRED). */
export interface PeerCredentials {
  readonly uid: number;
  readonly gid: number;
  readonly pid: number;
}

/** resources.proto `Identity`: a process, with its start time against pid reuse. */
export interface Identity extends PeerCredentials {
  /** Field 22 of /proc/PID/stat (clock ticks since boot); 0n when it could not be read. */
  readonly startTimeTicks: bigint;
}

/**
 * Who is calling. Made by `PoolService.identify(peer)` once per connection (or per call).
 * `identity` is the owner key arenas and leases are recorded under ("uid:pid:startTimeTicks");
 * it survives daemon restarts because it names the process, not the connection.
 */
export interface Caller extends Identity {
  readonly identity: string;
  /** The caller's uid or gid is in the configured admin list. */
  readonly isAdmin: boolean;
}

// ================================================================================== vocabulary

export type ReserveMode = "gmem" | "hugetlb" | "none";
export type ArenaKind = "guest_memfd" | "memfd" | "pair";
export type ArenaState = "active" | "detached" | "deleting";
export type MemfdBacking = "shmem" | "hugetlb";
export type FdType = "guest_memfd" | "memfd-shmem" | "memfd-hugetlb";
export type Visibility = "shared" | "private";
export type DiscardPolicyName = "reject" | "zero" | "defer";
export type DeferredOverflowPolicy = "reject" | "zero";
export type ConversionMode = "in-place" | "notify";
export type ContentIntent = "preserve" | "destroy";
export type ServingState = "starting" | "serving" | "draining";
export type ReleaseReason = "client" | "force-release" | "owner-exited";
export type PolicySource = "admin" | "config";
export type UnitState = "free" | "claimed" | "leased" | "split" | "deferred" | "discarded";

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

// ================================================================================== requests

export interface MutatingRequest {
  /** "" = no idempotency; else 1..128 bytes of [A-Za-z0-9._:-]. */
  readonly requestId: string;
}

/** Every mutating result carries whether it was replayed from the idempotency record. */
export interface MutatingResult {
  readonly replayed: boolean;
}

export interface RegisterGuestMemfdArenaRequest extends MutatingRequest {
  /**
   * The guest_memfd received on the fd channel for the request's token. BORROWED: the daemon
   * checks it (identify: a guest_memfd of `sizeBytes`, no arena's file), and on success keeps
   * its OWN dup (F_DUPFD_CLOEXEC), closed when the arena is deleted or its owner exits. The
   * server keeps ownership of this number either way: it closes it when the token is consumed
   * (success) or revoked/expired (a failed call leaves the token pending for a corrected retry).
   */
  readonly gmemFd: Fd;
  readonly sizeBytes: bigint;
  /** Required: `undefined` (UNSPECIFIED) is invalid-argument. */
  readonly initialVisibility: Visibility | undefined;
  readonly name: string;
}

export interface CreateMemfdArenaRequest extends MutatingRequest {
  readonly sizeBytes: bigint;
  readonly backing: MemfdBacking | undefined;
  readonly name: string;
  /** Sends the memfd on the RECEIVE_FD token's connection; see `FdDelivery`. */
  readonly deliver: FdDelivery;
}

export interface CreateArenaPairRequest extends MutatingRequest {
  /** BORROWED, as in RegisterGuestMemfdArenaRequest. */
  readonly gmemFd: Fd;
  readonly sizeBytes: bigint;
  readonly sharedBacking: MemfdBacking | undefined;
  readonly initialVisibility: Visibility | undefined;
  readonly name: string;
  /** Sends the shared-side memfd; see `FdDelivery`. */
  readonly deliver: FdDelivery;
}

export interface ReattachArenaRequest extends MutatingRequest {
  readonly arenaId: string;
  /** BORROWED (the daemon keeps a dup on success). Required for guest_memfd and pair arenas. */
  readonly gmemFd?: Fd;
  /** BORROWED (the daemon keeps a dup on success). Required for memfd and pair arenas. */
  readonly memfdFd?: Fd;
}

export interface ArenaResult extends MutatingResult {
  readonly arena: ArenaInfo;
}

export interface DeleteArenaRequest extends MutatingRequest {
  readonly arenaId: string;
  readonly releaseLeases: boolean;
}

export interface DeleteArenaResult extends MutatingResult {
  readonly releasedLeaseCount: number;
  readonly releasedUnitCount: number;
}

export interface AllocateRequest extends MutatingRequest {
  readonly arenaId: string;
  readonly unitCount: number;
  /** Placement, a multiple of 2 MiB (and of the punch granularity); absent: lowest fit. */
  readonly offsetBytes?: bigint;
  readonly label: string;
}

export interface AllocateResult extends MutatingResult {
  readonly lease: LeaseInfo;
}

export interface ReleaseRequest extends MutatingRequest {
  readonly leaseId: string;
}

export interface ReleaseResult extends MutatingResult {
  readonly releasedUnitCount: number;
}

/** A 4 KiB-aligned range of an arena, possibly spanning several of the caller's leases. */
export interface ArenaRangeRequest extends MutatingRequest {
  readonly arenaId: string;
  readonly offsetBytes: bigint;
  readonly lengthBytes: bigint;
}

export interface DiscardResult extends MutatingResult {
  readonly punchedBytes: bigint;
  readonly releasedUnitCount: number;
  readonly zeroedBytes: bigint;
  readonly deferredBytes: bigint;
  /** undefined when the range was whole granules (proto UNSPECIFIED). */
  readonly appliedPolicy: DiscardPolicyName | undefined;
}

export interface PopulateResult extends MutatingResult {
  readonly populatedUnitCount: number;
  readonly restoredBytes: bigint;
}

export interface ConvertRequest extends ArenaRangeRequest {
  readonly toVisibility: Visibility | undefined;
  readonly mode: ConversionMode | undefined;
  /** undefined: no requirement (the platform's behaviour). */
  readonly contentIntent: ContentIntent | undefined;
}

export interface ConvertResult extends MutatingResult {
  readonly convertedBytes: bigint;
  readonly populatedUnitCount: number;
  readonly stalePunchedBytes: bigint;
  readonly staleReleasedUnitCount: number;
  readonly collapsibleUnits: readonly UnitSpan[];
}

export interface ListRequest {
  /** Every owner's instead of the caller's: admin only, else permission-denied. */
  readonly allOwners: boolean;
}

export interface ListLeasesRequest extends ListRequest {
  /** "" for every arena. */
  readonly arenaId: string;
}

export interface GetFragmentationMapRequest extends ListRequest {
  /** "" for every arena the caller can see. */
  readonly arenaId: string;
}

export interface FragmentationMap {
  readonly arenas: readonly ArenaUnitMap[];
  readonly reserve: ReserveMap;
  readonly kernelBuddyZones: readonly BuddyZone[];
  readonly time: Date;
}

export interface PolicyView {
  readonly poolPolicy: PolicyInfo;
  readonly arenaOverrides: readonly ArenaPolicyOverride[];
}

/** A policy change: only the fields present change. Also what a config reload applies. */
export interface PolicyUpdate {
  readonly discardPolicy?: DiscardPolicyName;
  readonly punchGranularityBytes?: bigint;
  readonly deferredCapBytes?: bigint;
  readonly deferredOverflowPolicy?: DeferredOverflowPolicy;
}

export interface SetPolicyRequest extends MutatingRequest, PolicyUpdate {
  /** "" = the pool-wide policy; else this arena's override. */
  readonly arenaId: string;
  readonly clearArenaOverride: boolean;
}

export interface SetPolicyResult extends MutatingResult {
  readonly poolPolicy: PolicyInfo;
  /** Set for an arena change. */
  readonly arenaOverride: ArenaPolicyOverride | undefined;
}

export type ForceReleaseTarget =
  | { readonly kind: "lease"; readonly leaseId: string }
  | { readonly kind: "arena"; readonly arenaId: string }
  | { readonly kind: "owner-pid"; readonly pid: number };

export interface ForceReleaseRequest extends MutatingRequest {
  /** undefined (no oneof member set) is invalid-argument. */
  readonly target: ForceReleaseTarget | undefined;
}

export interface ForceReleaseResult extends MutatingResult {
  readonly releasedLeaseCount: number;
  readonly deletedArenaCount: number;
  readonly releasedUnitCount: number;
}

// ================================================================================== watch

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

/** WatchResponse.event, as a tagged union (`kind` is the oneof case). */
export type PoolEventBody =
  | { readonly kind: "pool-status"; readonly status: PoolStatus }
  | { readonly kind: "arena-created"; readonly arena: ArenaInfo }
  | { readonly kind: "arena-state-changed"; readonly arena: ArenaInfo }
  | { readonly kind: "arena-deleted"; readonly arenaId: string; readonly owner: Identity; readonly releasedLeaseCount: number; readonly releasedUnitCount: number; readonly reason: ReleaseReason }
  | { readonly kind: "lease-allocated"; readonly lease: LeaseInfo }
  | { readonly kind: "lease-released"; readonly leaseId: string; readonly arenaId: string; readonly releasedUnitCount: number; readonly reason: ReleaseReason }
  | { readonly kind: "range-discarded"; readonly arenaId: string; readonly offsetBytes: bigint; readonly lengthBytes: bigint; readonly punchedBytes: bigint; readonly releasedUnitCount: number; readonly zeroedBytes: bigint; readonly deferredBytes: bigint }
  | { readonly kind: "range-populated"; readonly arenaId: string; readonly offsetBytes: bigint; readonly lengthBytes: bigint; readonly populatedUnitCount: number }
  | { readonly kind: "range-converted"; readonly arenaId: string; readonly offsetBytes: bigint; readonly lengthBytes: bigint; readonly toVisibility: Visibility; readonly mode: ConversionMode }
  | { readonly kind: "policy-changed"; readonly poolPolicy: PolicyInfo; readonly arenaOverride: ArenaPolicyOverride | undefined; readonly source: PolicySource }
  | { readonly kind: "owner-exited"; readonly owner: Identity; readonly deletedArenaCount: number; readonly releasedLeaseCount: number; readonly releasedUnitCount: number }
  | { readonly kind: "deferred-cap-reached"; readonly deferredBytes: bigint; readonly deferredCapBytes: bigint; readonly overflowPolicy: DeferredOverflowPolicy };

export interface PoolEvent {
  /** Pool-wide, +1 per committed event (a filtered stream skips numbers). */
  readonly sequence: bigint;
  readonly time: Date;
  readonly body: PoolEventBody;
}

export interface WatchRequest {
  /** "" for every arena the caller can see. */
  readonly arenaId: string;
  /**
   * Empty for all kinds; pool-status is always sent first regardless. `undefined` stands for
   * POOL_EVENT_KIND_UNSPECIFIED and makes the request invalid-argument.
   */
  readonly kinds: readonly (PoolEventKind | undefined)[];
  readonly allOwners: boolean;
}

/**
 * One Watch stream. `watch()` validates the request and throws (invalid-argument, not-found,
 * permission-denied, exhausted for too many streams) before returning one. Iterating yields a
 * pool-status event first, then the filtered events in sequence order. The iteration:
 * - ends normally (done) when filtered on an arena that was deleted (after its arena-deleted);
 * - throws GmempoolError "exhausted" when the consumer fell more than the buffer behind (message
 *   names the last sequence delivered);
 * - throws GmempoolError "unavailable" when the daemon drains (after a pool-status "draining").
 * `close()` (or `return()` from a for-await) unsubscribes; call it when the RPC is cancelled.
 */
export interface WatchStream extends AsyncIterable<PoolEvent> {
  close(): void;
}

// ================================================================================== observability

/** The numbers the metrics endpoint exports (prom-client registration is the server's job). */
export interface DaemonMetrics {
  readonly capacityUnits: number;
  readonly freeUnits: number;
  readonly claimedUnits: number;
  readonly leasedUnits: number;
  readonly splitUnits: number;
  readonly deferredBytes: bigint;
  readonly arenaCount: number;
  readonly leaseCount: number;
  /** Units whose reserve slot still holds memory (background reserve punches pending). */
  readonly reserveHeldTwiceUnits: number;
  /** Times an undo failed and left the kernel out of step with the record (plan-executor.ts). */
  readonly kernelDriftCount: number;
  /** Per arena: id, owner identity, size and populated units per file. */
  readonly arenas: readonly { readonly arenaId: string; readonly owner: string; readonly unitCount: number; readonly leasedUnitCount: number; readonly populatedUnitCount: number }[];
}

/**
 * One kernel call the daemon made: `call` in kernel spelling ("fallocate(KEEP_SIZE)",
 * "fallocate(PUNCH_HOLE)", "ioctl(KVM_SET_MEMORY_ATTRIBUTES2)", "zero", "fsync").
 */
export interface KernelCallSample {
  readonly call: string;
  readonly seconds: number;
  /** The errno name when it failed. */
  readonly errno: string | undefined;
}

export type KernelCallObserver = (sample: KernelCallSample) => void;

// ================================================================================== the service

/** What src/server calls. Implemented by `PoolManager` (src/daemon/pool-manager.ts). */
export interface PoolService {
  // ---- identity and the fd channel
  /**
   * Makes the Caller for a peer: reads its start time (/proc/PID/stat) and decides admin from
   * the configured admin uids / gids. Quick and synchronous; never throws.
   */
  identify(peer: PeerCredentials): Caller;
  /**
   * For the fd channel's SEND_FD: checks that `fd` (BORROWED) is what the client claims
   * (readlink / fstat through the kernel port) and returns its verified type and size; throws
   * invalid-argument naming what it really is.
   */
  inspectFd(fd: Fd, claimed: FdType): FdInspection;

  // ---- Pool: reads (work while starting)
  getCapabilities(caller: Caller): Capabilities;
  getPoolStatus(caller: Caller): PoolStatus;
  getArena(caller: Caller, arenaId: string): ArenaInfo;
  listArenas(caller: Caller, request: ListRequest): ArenaInfo[];
  getLease(caller: Caller, leaseId: string): LeaseInfo;
  listLeases(caller: Caller, request: ListLeasesRequest): LeaseInfo[];
  getFragmentationMap(caller: Caller, request: GetFragmentationMapRequest): FragmentationMap;
  getPolicy(caller: Caller): PolicyView;
  watch(caller: Caller, request: WatchRequest): WatchStream;

  // ---- Pool: mutations (unavailable while starting or draining)
  registerGuestMemfdArena(caller: Caller, request: RegisterGuestMemfdArenaRequest): Promise<ArenaResult>;
  createMemfdArena(caller: Caller, request: CreateMemfdArenaRequest): Promise<ArenaResult>;
  createArenaPair(caller: Caller, request: CreateArenaPairRequest): Promise<ArenaResult>;
  reattachArena(caller: Caller, request: ReattachArenaRequest): Promise<ArenaResult>;
  deleteArena(caller: Caller, request: DeleteArenaRequest): Promise<DeleteArenaResult>;
  allocate(caller: Caller, request: AllocateRequest): Promise<AllocateResult>;
  release(caller: Caller, request: ReleaseRequest): Promise<ReleaseResult>;
  discard(caller: Caller, request: ArenaRangeRequest): Promise<DiscardResult>;
  populate(caller: Caller, request: ArenaRangeRequest): Promise<PopulateResult>;
  convert(caller: Caller, request: ConvertRequest): Promise<ConvertResult>;

  // ---- Admin (permission-denied for a non-admin caller before the request is looked at)
  setPolicy(caller: Caller, request: SetPolicyRequest): Promise<SetPolicyResult>;
  forceRelease(caller: Caller, request: ForceReleaseRequest): Promise<ForceReleaseResult>;

  // ---- observability
  servingState(): ServingState;
  metrics(): DaemonMetrics;
  /** Registers an observer of kernel call latencies; returns the unsubscribe function. */
  observeKernelCalls(observer: KernelCallObserver): () => void;
}

/**
 * What the composition root (src/main) drives besides the service. Construction:
 * `new PoolManager({ config, kernel, logger })` (pool-manager.ts) with the config from
 * `loadConfig(path)` (config.ts).
 */
export interface PoolDaemon extends PoolService {
  /**
   * Recovers from the journal, sets up the reserve (populating it, progress logged), then
   * serves. Rejects with a GmempoolError naming why the pool cannot be backed; reads work and
   * mutations answer unavailable while it runs.
   */
  start(): Promise<void>;
  /** SIGHUP: re-applies the config file's pool-wide policy (arena overrides are kept). */
  reloadPolicy(policy: PolicyUpdate): Promise<PolicyInfo>;
  /**
   * SIGTERM: new mutations answer unavailable, Watch streams get pool-status "draining" and
   * end with unavailable, in-flight mutations finish.
   */
  drain(): Promise<void>;
  /** Closes every fd, restores nr_hugepages, flushes and closes the journal. After drain(). */
  close(): Promise<void>;
}
