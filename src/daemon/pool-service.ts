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
 * - **Enums are string unions** in the API's spelling ("shared", "in-place", "defer"); the
 *   resources are the API's (@gmempool/contract, shared with the client library), and the
 *   server maps them to the proto names with the contract's codec, which only translates. `*_UNSPECIFIED` arrives here as `undefined` where the
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
import type { Fd } from "@gmempool/sys";
import type { PeerCredentials, Caller, FdType, ServingState } from "./service-vocabulary.ts";
import type { ArenaInfo, LeaseInfo, Policy, PoolStatus, QuotaUsage, DaemonCapabilities, FdInspection, FragmentationMap, PolicyView } from "./service-resources.ts";
import type { Reservation } from "@gmempool/contract";
import type { ReserveRequest, ReserveResult, UnreserveResult } from "./reservation-operations.ts";
import type { RegisterGuestMemfdArenaRequest, CreateMemfdArenaRequest, CreateArenaPairRequest, ReattachArenaRequest, ArenaResult, DeleteArenaRequest, DeleteArenaResult, HandOverArenaRequest, AllocateRequest, AllocateResult, ReleaseRequest, ReleaseResult, ArenaRangeRequest, DiscardResult, PopulateResult, ConvertRequest, ConvertResult, ListRequest, ListLeasesRequest, GetFragmentationMapRequest, PolicyUpdate, SetPolicyRequest, SetPolicyResult, ForceReleaseRequest, ForceReleaseResult } from "./service-requests.ts";
import type { WatchRequest, WatchStream, DaemonMetrics, KernelCallObserver } from "./service-events.ts";

export type * from "./service-vocabulary.ts";
export type * from "./service-resources.ts";
export type * from "./service-requests.ts";
export type * from "./service-events.ts";
export { arenaFdName } from "./service-resources.ts";

// ================================================================================== the service

/** Who is on the other end of a socket (the gRPC listener, the fd channel). */
export interface CallerIdentity {
  /**
   * Makes the Caller for a peer: reads its start time (/proc/PID/stat) and decides admin from
   * the configured admin uids / gids. Quick and synchronous; never throws.
   */
  identify(peer: PeerCredentials): Caller;
}

/** The fd channel's check of a received fd. */
export interface FdInspector {
  /**
   * For the fd channel's SEND_FD: checks that `fd` (BORROWED) is what the client claims
   * (readlink / fstat through the kernel port) and returns its verified type and size; throws
   * invalid-argument naming what it really is.
   */
  inspectFd(fd: Fd, claimed: FdType): FdInspection;
}

/** Pool: reads (they work while starting). */
export interface PoolReader {
  getCapabilities(caller: Caller): DaemonCapabilities;
  getPoolStatus(caller: Caller): PoolStatus;
  /** The quotas binding the caller (all of them for an admin), with their use now. */
  getQuotaUsage(caller: Caller): QuotaUsage[];
  getArena(caller: Caller, arenaId: string): ArenaInfo;
  listArenas(caller: Caller, request: ListRequest): ArenaInfo[];
  getLease(caller: Caller, leaseId: string): LeaseInfo;
  listLeases(caller: Caller, request: ListLeasesRequest): LeaseInfo[];
  getFragmentationMap(caller: Caller, request: GetFragmentationMapRequest): FragmentationMap;
  getPolicy(caller: Caller): PolicyView;
  watch(caller: Caller, request: WatchRequest): WatchStream;
}

/** Pool: arenas come and go (unavailable while starting or draining). */
export interface ArenaService {
  registerGuestMemfdArena(caller: Caller, request: RegisterGuestMemfdArenaRequest): Promise<ArenaResult>;
  createMemfdArena(caller: Caller, request: CreateMemfdArenaRequest): Promise<ArenaResult>;
  createArenaPair(caller: Caller, request: CreateArenaPairRequest): Promise<ArenaResult>;
  reattachArena(caller: Caller, request: ReattachArenaRequest): Promise<ArenaResult>;
  deleteArena(caller: Caller, request: DeleteArenaRequest): Promise<DeleteArenaResult>;
  /** The arena (and its leases) become the process of `ownerPidfd`'s, alive while it is. */
  handOverArena(caller: Caller, request: HandOverArenaRequest): Promise<ArenaResult>;
}

/** Pool: leases and their ranges (unavailable while starting or draining). */
export interface LeaseService {
  allocate(caller: Caller, request: AllocateRequest): Promise<AllocateResult>;
  release(caller: Caller, request: ReleaseRequest): Promise<ReleaseResult>;
  discard(caller: Caller, request: ArenaRangeRequest): Promise<DiscardResult>;
  populate(caller: Caller, request: ArenaRangeRequest): Promise<PopulateResult>;
  convert(caller: Caller, request: ConvertRequest): Promise<ConvertResult>;
}

/** Admin (permission-denied for a non-admin caller before the request is looked at). */
export interface AdminService {
  setPolicy(caller: Caller, request: SetPolicyRequest): Promise<SetPolicyResult>;
  forceRelease(caller: Caller, request: ForceReleaseRequest): Promise<ForceReleaseResult>;
  /** Reservations (issue 11): reservation-operations.ts. */
  reserve(caller: Caller, request: ReserveRequest): Promise<ReserveResult>;
  unreserve(caller: Caller, claimUid: string): Promise<UnreserveResult>;
  listReservations(caller: Caller): Reservation[];
}

/** What health and metrics read. */
export interface DaemonObservability {
  servingState(): ServingState;
  metrics(): DaemonMetrics;
  /** Registers an observer of kernel call latencies; returns the unsubscribe function. */
  observeKernelCalls(observer: KernelCallObserver): () => void;
}

/**
 * Everything src/server calls, as role interfaces: each transport part takes only the roles
 * it uses. Implemented by `PoolManager` (src/daemon/pool-manager.ts).
 */
export interface PoolService extends CallerIdentity, FdInspector, PoolReader, ArenaService, LeaseService, AdminService, DaemonObservability {}

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
  reloadPolicy(policy: PolicyUpdate): Promise<Policy>;
  /**
   * SIGTERM: new mutations answer unavailable, Watch streams get pool-status "draining" and
   * end with unavailable, in-flight mutations finish.
   */
  drain(): Promise<void>;
  /** Closes every fd, restores nr_hugepages, flushes and closes the journal. After drain(). */
  close(): Promise<void>;
}
