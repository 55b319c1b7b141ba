/**
 * `FakePoolClient`: an in-memory gmempool that implements `Pool` (pool.ts), for VMM authors'
 * unit tests — as grpc-js and undici ship fakes. Code typed against `Pool` runs on it unchanged;
 * the parity test (pool-parity.test.ts) runs one scenario on the fake and on the real client
 * against the real daemon and requires the same transcript.
 *
 * What it is faithful to (what a VMM observes): unit accounting (free + leased = capacity);
 * placement (the lowest free run that fits, or `offsetBytes`); alignment (2 MiB for sizes and
 * placements, 4 KiB for discard / populate / convert ranges); ranges must be leased by the
 * caller; ownership (another owner's id is NotFoundError, exactly like an unknown id); admin-only
 * calls (PermissionDeniedError); the discard policies as DiscardResult reports them (reject,
 * zero, defer, the deferred cap); conversions (notify records visibility and moves a pair's
 * backing; in-place is UnimplementedError unless `inPlaceConversion`); Watch events in commit
 * order; policy, ForceRelease, the fragmentation map, DeleteArena, ReattachArena; idempotent
 * retries by request id. Errors are the client's classes with the daemon's messages, `operation`
 * the RPC's name. Each rule below names the daemon check it copies.
 *
 * What it is not: no kernel (nothing is populated; memory accounting only), no fd channel (fds
 * are passed directly), no deadlines unless a call is stalled on purpose, no periodic
 * pool-status events (`publishPoolStatus` sends one), no kernel buddy zones.
 *
 * Identities: the client is one caller (default: this process, not admin). `as(identity)` gives
 * another caller of the same fake, e.g. a second VMM or the operator (`{ admin: true }`).
 *
 * File descriptors (as pool.ts states): the caller keeps ownership of an fd it passes in (the
 * fake only fstat()s it and keeps no dup); a memfd the fake returns is a real close-on-exec memfd
 * of the arena's size (mmap it), owned by the caller. The fake keeps its own dup of each memfd
 * it creates, like the daemon, closed when the arena goes or the root client closes.
 *
 * Test helpers: `as`, `failNext`, `stallNext`, `pendingFaults`, `clearFaults`,
 * `assertConservation`, `snapshot`, `publishPoolStatus`, `setServingState`,
 * `simulateOwnerExit`, `simulateDaemonRestart`, `FakePoolClient.createStandInGuestMemfd`.
 */
import { dupCloexec } from "./fd-channel/libc.ts";
import {
  CancelledError,
  DeadlineExceededError,
  ExhaustedError,
  FailedPreconditionError,
  InternalError,
  InvalidArgumentError,
  NotFoundError,
  PermissionDeniedError,
  PoolError,
  UnavailableError,
  UnimplementedError,
} from "./pool-errors.ts";
import type {
  AllocateRequest,
  ArenaPair,
  ByteRange,
  CallOptions,
  ConvertRequest,
  CreateArenaPairRequest,
  CreateMemfdArenaRequest,
  ForceReleaseTarget,
  FragmentationMapRequest,
  ListLeasesRequest,
  ListRequest,
  MemfdArena,
  Pool,
  ReattachFds,
  RegisterGuestMemfdArenaRequest,
  SetPolicyRequest,
  WatchRequest,
  WatchStream,
} from "./pool.ts";
import {
  POOL_EVENT_KINDS,
  type Arena,
  type ArenaKind,
  type ArenaUnitMap,
  type Capabilities,
  type ConvertResult,
  type DeleteArenaResult,
  type DiscardResult,
  type FdType,
  type ForceReleaseResult,
  type FragmentationMap,
  type Identity,
  type Lease,
  type MemfdBacking,
  type PageVisibility,
  type Policy,
  type PolicyView,
  type PoolEvent,
  type PoolStatus,
  type PopulateResult,
  type ReleaseReason,
  type ReleaseResult,
  type ReserveMap,
  type ReserveMode,
  type ServingState,
  type SetPolicyResult,
} from "./resources.ts";
import { PAGE_BYTES, PAGES_PER_UNIT, UNIT_BYTES } from "./units.ts";
import { reconcileBacking } from "./fake/backing.ts";
import { exactSize } from "./fake/daemon-text.ts";
import { discardSegment, explainReject } from "./fake/discard-decision.ts";
import { EventLog, type FakeWatchStream, type PoolEventBody } from "./fake/event-log.ts";
import { FaultPlan, type FaultableMethod } from "./fake/fault-plan.ts";
import { FakePoolState } from "./fake/fake-pool-state.ts";
import { byId, closeKeptFds, hasOverride, sortedLeases, type FakeArena, type FakeArenaFile, type FakeLease } from "./fake/fake-records.ts";
import { STAND_IN_GUEST_MEMFD_NAME, closeQuietly, describeFd, inspectFd, memfdCreate, type FdInspection } from "./fake/memfd.ts";
import { withOperation } from "./fake/operation-error.ts";
import { DISCARDED, PRIVATE, PageMap } from "./fake/page-map.ts";
import { checkPlacement, findPlacement } from "./fake/placement.ts";
import { thisProcessIdentity } from "./fake/process-identity.ts";
import { planningOrder, rangeSegments, spans, unitsNotAllPrivate, type Segment } from "./fake/range-segments.ts";
import { RequestIdRecords } from "./fake/request-ids.ts";
import {
  SEND_FD,
  arenaUnits,
  checkName,
  checkReattachedFile,
  decodePolicyFields,
  isVisibility,
  policyFields,
  rangeFields,
  requireOpenFd,
  requireUint64,
  requireVisibility,
  safeNumber,
  validateGranularity,
} from "./fake/request-checks.ts";
import { nextPoolPolicy, requireFitsGranularity } from "./fake/policy-rules.ts";
import { arenaOverrideView, arenaView, capabilitiesView, leaseView, poolStatusView, reserveMapView, unitMapView } from "./fake/resource-views.ts";

/** A caller of the fake; every field not given is the creating client's. */
export interface FakeIdentity {
  readonly uid?: number;
  readonly gid?: number;
  readonly pid?: number;
  readonly startTimeTicks?: bigint;
  /** Whether the daemon counts this caller as its admin identity (default false). */
  readonly admin?: boolean;
}

export interface FakePoolClientOptions {
  /** Pool capacity in 2 MiB units (default 128 = 256 MiB, as SpawnedDaemon's testConfig). */
  readonly capacityUnitCount?: number;
  /** Reported reserve mode (default "none"); "hugetlb" also allows hugetlb memfd backings
   * (the fake's memfds are shmem either way: it reserves no hugetlb pages). */
  readonly reserveMode?: ReserveMode;
  /** The host has guest_memfd (default true): guest_memfd and pair arenas are served. */
  readonly guestMemfd?: boolean;
  /** The kernel has KVM_SET_MEMORY_ATTRIBUTES2 (default false): Convert "in-place" works. */
  readonly inPlaceConversion?: boolean;
  /** The pool policy at start (default: defer, 2 MiB granularity, 1 GiB cap, overflow reject). */
  readonly policy?: Partial<Policy>;
  /** The caller (default: this process, not admin). */
  readonly identity?: FakeIdentity;
  /** The daemon's limit of arenas per process (default 64). */
  readonly arenasPerProcess?: number;
  /** Deadline of a stalled call when its options give none (default 30 s). */
  readonly deadlineMs?: number;
}

/** Everything the fake holds, every owner's, for assertions. */
export interface FakePoolSnapshot {
  readonly status: PoolStatus;
  /** Sorted by arena id. */
  readonly arenas: readonly Arena[];
  /** Sorted by arena id, then offset. */
  readonly leases: readonly Lease[];
  readonly policy: PolicyView;
  readonly unitMaps: readonly ArenaUnitMap[];
  readonly reserve: ReserveMap;
  /** Every event committed since the start (or the last simulated restart), all owners. */
  readonly events: readonly PoolEvent[];
}

export const DEFAULT_FAKE_POLICY: Policy = {
  discardPolicy: "defer",
  punchGranularityBytes: UNIT_BYTES,
  deferredCapBytes: 1024n * 1024n * 1024n,
  deferredOverflowPolicy: "reject",
};

/** Units a call hands out of / takes back into the reserve, applied when it succeeds. */
interface ReserveTally {
  out: number;
  back: number;
}

/** Made by `as()` only: a view of an existing fake. */
class ViewSeed {
  readonly root: FakePoolClient;
  readonly state: FakePoolState;
  readonly identity: Identity;
  readonly admin: boolean;
  readonly deadlineMs: number;
  constructor(root: FakePoolClient, state: FakePoolState, identity: Identity, admin: boolean, deadlineMs: number) {
    this.root = root;
    this.state = state;
    this.identity = identity;
    this.admin = admin;
    this.deadlineMs = deadlineMs;
  }
}

export class FakePoolClient implements Pool {
  readonly #state: FakePoolState;
  readonly #identity: Identity;
  readonly #ownerKey: string;
  readonly #admin: boolean;
  readonly #deadlineMs: number;
  /** The client made with `new`: closing it closes its views and the fake's kept fds. */
  readonly #root: FakePoolClient;
  /** The root's views (made by `as()` on it or on any of its views). */
  readonly #views = new Set<FakePoolClient>();
  readonly #faults = new FaultPlan();
  readonly #streams = new Set<FakeWatchStream>();
  /** Rejecters of stalled calls, for close(). */
  readonly #stalled = new Set<(error: PoolError) => void>();
  #closed = false;

  constructor(options: FakePoolClientOptions = {}, seed?: ViewSeed) {
    if (seed !== undefined) {
      this.#state = seed.state;
      this.#identity = seed.identity;
      this.#admin = seed.admin;
      this.#deadlineMs = seed.deadlineMs;
      this.#root = seed.root;
    } else {
      const capacity = options.capacityUnitCount ?? 128;
      if (!Number.isSafeInteger(capacity) || capacity < 1) throw new RangeError(`capacityUnitCount must be a positive integer, got ${capacity}`);
      const policy = { ...DEFAULT_FAKE_POLICY, ...options.policy };
      this.#state = new FakePoolState(
        {
          capacityUnitCount: capacity,
          reserveMode: options.reserveMode ?? "none",
          guestMemfd: options.guestMemfd ?? true,
          inPlaceConversion: options.inPlaceConversion ?? false,
          arenasPerProcess: options.arenasPerProcess ?? 64,
          daemonVersion: "fake",
        },
        policy,
      );
      this.#identity = { ...thisProcessIdentity(), ...withoutAdmin(options.identity) };
      this.#admin = options.identity?.admin ?? false;
      this.#deadlineMs = options.deadlineMs ?? 30_000;
      this.#root = this;
      // A daemon that starts serving publishes a pool-status (sequence 1) before any Watch.
      this.#state.events.publish({ kind: "pool-status", status: poolStatusView(this.#state) }, { ownerKey: undefined, arenaId: undefined });
    }
    this.#ownerKey = this.#state.ownerKeyOf(this.#identity);
  }

  // =============================================================================== test helpers

  /** The caller this client is (as GetCapabilities reports it). */
  get identity(): Identity {
    return this.#identity;
  }

  /** Another caller of the same fake: fields not given are this client's (admin: false). */
  as(identity: FakeIdentity): FakePoolClient {
    const seed = new ViewSeed(this.#root, this.#state, { ...this.#identity, ...withoutAdmin(identity) }, identity.admin ?? false, this.#deadlineMs);
    const view = new FakePoolClient({}, seed);
    this.#root.#views.add(view);
    return view;
  }

  /** The next `times` calls of `method` on this client reject with `error` and change nothing. */
  failNext(method: FaultableMethod, error: PoolError | (() => PoolError), options: { readonly times?: number } = {}): void {
    this.#faults.add(method, { kind: "fail", error }, options.times ?? 1);
  }

  /** The next `times` calls of `method` never answer: they reject with DeadlineExceededError at
   * their deadline, or CancelledError when cancelled or closed; they change nothing. A stalled
   * watch() yields nothing until cancelled. */
  stallNext(method: FaultableMethod, options: { readonly times?: number } = {}): void {
    this.#faults.add(method, { kind: "stall" }, options.times ?? 1);
  }

  /** Injected faults not used yet, by method. */
  pendingFaults(): Partial<Record<FaultableMethod, number>> {
    return this.#faults.pending();
  }

  clearFaults(): void {
    this.#faults.clear();
  }

  /** Throws an Error naming the first broken invariant (conservation, overlap, ownership). */
  assertConservation(): void {
    this.#state.assertConservation();
  }

  snapshot(): FakePoolSnapshot {
    const state = this.#state;
    const arenas = [...state.arenas.values()].sort(byId);
    return {
      status: poolStatusView(state),
      arenas: arenas.map((a) => arenaView(state, a)),
      leases: arenas.flatMap((a) => sortedLeases(a).map((l) => leaseView(state, l))),
      policy: { poolPolicy: state.policy, arenaOverrides: arenas.filter(hasOverride).map(arenaOverrideView) },
      unitMaps: arenas.map(unitMapView),
      reserve: reserveMapView(state),
      events: [...state.events.published],
    };
  }

  /** Publishes a pool-status event now (the daemon does so at most once a second on changes). */
  publishPoolStatus(): void {
    const status = poolStatusView(this.#state);
    this.#publish({ kind: "pool-status", status: { ...status, lastEventSequence: status.lastEventSequence + 1n } }, undefined);
  }

  /** "starting" or "draining": mutating calls answer UnavailableError, as the daemon does. */
  setServingState(servingState: ServingState): void {
    this.#state.servingState = servingState;
  }

  /**
   * The owner process exits (the daemon sees its pidfd): its arenas are deleted and their
   * leases released with reason "owner-exited", then Watch gets owner-exited.
   */
  simulateOwnerExit(identity: FakeIdentity = {}): { readonly deletedArenaCount: number; readonly releasedLeaseCount: number; readonly releasedUnitCount: number } {
    const owner: Identity = { ...this.#identity, ...withoutAdmin(identity) };
    const ownerKey = this.#state.ownerKeyOf(owner);
    const arenas = [...this.#state.arenas.values()].filter((a) => a.ownerKey === ownerKey).sort(byId);
    for (const arena of arenas) this.#markDeleting(arena);
    let leases = 0;
    let units = 0;
    for (const arena of arenas) {
      const r = this.#deleteArenaNow(arena, "owner-exited");
      leases += r.releasedLeaseCount;
      units += r.releasedUnitCount;
    }
    if (arenas.length > 0) {
      this.#publish({ kind: "owner-exited", owner: arenas[0]!.owner, deletedArenaCount: arenas.length, releasedLeaseCount: leases, releasedUnitCount: units }, { ownerKey, arenaId: undefined });
    }
    return { deletedArenaCount: arenas.length, releasedLeaseCount: leases, releasedUnitCount: units };
  }

  /**
   * The daemon restarts: Watch streams end with UnavailableError, event numbering starts again,
   * leases and request ids survive (the journal). Without the systemd fd store (`keepFiles`
   * false, the default) the daemon lost its arena files: every arena is DETACHED until its owner
   * calls reattachArena, and the fake closes its kept memfd dups.
   */
  simulateDaemonRestart(options: { readonly keepFiles?: boolean } = {}): void {
    const state = this.#state;
    state.events.endAll(new UnavailableError("the daemon is draining; reconnect with backoff", { operation: "Watch" }));
    for (const arena of state.arenas.values()) {
      if (options.keepFiles === true) {
        arena.state = "active";
        continue;
      }
      closeKeptFds(arena);
      arena.state = "detached";
    }
    state.events.reset();
    state.startTime = new Date();
    state.servingState = "serving";
    state.deferredCapReached = false;
    this.#publish({ kind: "pool-status", status: poolStatusView(state) }, undefined);
  }

  /**
   * A memfd that stands in for a guest_memfd where there is no /dev/kvm: the fake accepts it
   * wherever a guest_memfd is expected (when `guestMemfd` is on). `sizeBytes` long,
   * close-on-exec; the caller owns it.
   */
  static createStandInGuestMemfd(sizeBytes: bigint): number {
    return memfdCreate(STAND_IN_GUEST_MEMFD_NAME, sizeBytes);
  }

  // =============================================================================== Pool: reads

  getCapabilities(options?: CallOptions): Promise<Capabilities> {
    return this.#call("getCapabilities", "GetCapabilities", options, () => capabilitiesView(this.#state, this.#identity, this.#admin));
  }

  getPoolStatus(options?: CallOptions): Promise<PoolStatus> {
    return this.#call("getPoolStatus", "GetPoolStatus", options, () => poolStatusView(this.#state));
  }

  getArena(arenaId: string, options?: CallOptions): Promise<Arena> {
    return this.#call("getArena", "GetArena", options, () => {
      if (arenaId === "") throw new InvalidArgumentError("arena_id is empty");
      return arenaView(this.#state, this.#visibleArena(arenaId));
    });
  }

  listArenas(request: ListRequest = {}, options?: CallOptions): Promise<Arena[]> {
    return this.#call("listArenas", "ListArenas", options, () => {
      const allOwners = request.allOwners === true;
      this.#requireAdminFor(allOwners);
      return this.#arenasOf(allOwners).map((a) => arenaView(this.#state, a));
    });
  }

  getLease(leaseId: string, options?: CallOptions): Promise<Lease> {
    return this.#call("getLease", "GetLease", options, () => {
      if (leaseId === "") throw new InvalidArgumentError("lease_id is empty");
      return leaseView(this.#state, this.#visibleLease(leaseId));
    });
  }

  listLeases(request: ListLeasesRequest = {}, options?: CallOptions): Promise<Lease[]> {
    return this.#call("listLeases", "ListLeases", options, () => {
      const allOwners = request.allOwners === true;
      this.#requireAdminFor(allOwners);
      const arenas = (request.arenaId ?? "") === "" ? this.#arenasOf(allOwners) : [this.#visibleArena(request.arenaId!)];
      return arenas.flatMap((a) => sortedLeases(a).map((l) => leaseView(this.#state, l)));
    });
  }

  getFragmentationMap(request: FragmentationMapRequest = {}, options?: CallOptions): Promise<FragmentationMap> {
    return this.#call("getFragmentationMap", "GetFragmentationMap", options, () => {
      const allOwners = request.allOwners === true;
      this.#requireAdminFor(allOwners);
      const arenas = (request.arenaId ?? "") === "" ? this.#arenasOf(allOwners) : [this.#visibleArena(request.arenaId!)];
      return { arenas: arenas.map(unitMapView), reserve: reserveMapView(this.#state), kernelBuddyZones: [], time: new Date() };
    });
  }

  getPolicy(options?: CallOptions): Promise<PolicyView> {
    return this.#call("getPolicy", "GetPolicy", options, () => ({
      poolPolicy: this.#state.policy,
      arenaOverrides: this.#arenasOf(this.#admin).filter(hasOverride).map(arenaOverrideView),
    }));
  }

  watch(request: WatchRequest = {}, options: Pick<CallOptions, "signal"> = {}): WatchStream {
    const stream = this.#openWatch(request);
    this.#streams.add(stream);
    const signal = options.signal;
    if (signal?.aborted === true) stream.cancel();
    signal?.addEventListener("abort", () => stream.cancel(), { once: true });
    return stream;
  }

  #openWatch(request: WatchRequest): FakeWatchStream {
    const failed = (error: PoolError): FakeWatchStream => EventLog.failed(withOperation(error, "Watch"));
    if (this.#closed) return failed(new CancelledError("the client is closed"));
    const fault = this.#faults.take("watch");
    if (fault?.kind === "fail") return EventLog.failed(typeof fault.error === "function" ? fault.error() : fault.error);
    if (fault?.kind === "stall") return EventLog.silent();
    try {
      const kinds = request.kinds ?? [];
      for (const kind of kinds) {
        if (!POOL_EVENT_KINDS.includes(kind)) throw new InvalidArgumentError(`${kind} is not a PoolEventKind (one of ${POOL_EVENT_KINDS.join(", ")})`);
      }
      const allOwners = request.allOwners === true;
      this.#requireAdminFor(allOwners);
      const arenaId = request.arenaId ?? "";
      if (arenaId !== "") this.#visibleArena(arenaId);
      if (this.#state.servingState === "draining") throw new UnavailableError("the daemon is draining; reconnect with backoff");
      return this.#state.events.open({ viewerKey: this.#ownerKey, arenaId: arenaId === "" ? undefined : arenaId, kinds, allOwners }, poolStatusView(this.#state));
    } catch (error) {
      if (error instanceof PoolError) return failed(error);
      throw error;
    }
  }

  // =============================================================================== Pool: arenas

  registerGuestMemfdArena(gmemFd: number, request: RegisterGuestMemfdArenaRequest, options?: CallOptions): Promise<Arena> {
    return this.#call("registerGuestMemfdArena", "RegisterGuestMemfdArena", options, () => {
      const file = this.#receivedGuestMemfd(gmemFd);
      const fields = { sizeBytes: request.sizeBytes, initialVisibility: request.initialVisibility, name: request.name ?? "" };
      return this.#mutate("RegisterGuestMemfdArena", options, fields, () => {
        const unitCount = arenaUnits(request.sizeBytes);
        requireVisibility(request.initialVisibility, "initial_visibility");
        checkName(fields.name, "name");
        this.#checkArenaLimit();
        this.#checkGuestMemfd(file, request.sizeBytes);
        return this.#createArena({ name: fields.name, kind: "guest_memfd", unitCount, initialVisibility: request.initialVisibility, gmem: file, memfdType: undefined }).arena;
      }).result;
    });
  }

  createMemfdArena(request: CreateMemfdArenaRequest, options?: CallOptions): Promise<MemfdArena> {
    return this.#call("createMemfdArena", "CreateMemfdArena", options, () => {
      const fields = { sizeBytes: request.sizeBytes, backing: request.backing ?? "shmem", name: request.name ?? "" };
      const { result, replayed } = this.#mutate("CreateMemfdArena", options, fields, () => {
        const unitCount = arenaUnits(request.sizeBytes);
        const memfdType = this.#memfdType(fields.backing, "backing");
        checkName(fields.name, "name");
        this.#checkArenaLimit();
        return this.#createArena({ name: fields.name, kind: "memfd", unitCount, initialVisibility: "shared", gmem: undefined, memfdType });
      });
      return replayed ? this.#redeliver(result.arena) : { arena: result.arena, memfd: result.memfd! };
    });
  }

  createArenaPair(gmemFd: number, request: CreateArenaPairRequest, options?: CallOptions): Promise<ArenaPair> {
    return this.#call("createArenaPair", "CreateArenaPair", options, () => {
      const file = this.#receivedGuestMemfd(gmemFd);
      const fields = { sizeBytes: request.sizeBytes, sharedBacking: request.sharedBacking ?? "shmem", initialVisibility: request.initialVisibility, name: request.name ?? "" };
      const { result, replayed } = this.#mutate("CreateArenaPair", options, fields, () => {
        const unitCount = arenaUnits(request.sizeBytes);
        const memfdType = this.#memfdType(fields.sharedBacking, "shared_backing");
        requireVisibility(request.initialVisibility, "initial_visibility");
        checkName(fields.name, "name");
        this.#checkArenaLimit();
        this.#checkGuestMemfd(file, request.sizeBytes);
        return this.#createArena({ name: fields.name, kind: "pair", unitCount, initialVisibility: request.initialVisibility, gmem: file, memfdType });
      });
      return replayed ? this.#redeliver(result.arena) : { arena: result.arena, memfd: result.memfd! };
    });
  }

  reattachArena(arenaId: string, fds: ReattachFds, options?: CallOptions): Promise<Arena> {
    return this.#call("reattachArena", "ReattachArena", options, () => {
      // The fd channel step (SEND_FD): each fd must be an open file.
      const gmem = fds.gmemFd === undefined ? undefined : requireOpenFd(fds.gmemFd);
      const memfd = fds.memfd === undefined ? undefined : requireOpenFd(fds.memfd);
      return this.#mutate("ReattachArena", options, { arenaId, gmem: gmem !== undefined, memfd: memfd !== undefined }, () => {
        // The daemon's PoolManager.reattachArena.
        const arena = this.#ownedArena(arenaId);
        if (arena.state !== "detached") throw new FailedPreconditionError(`arena "${arena.id}" is ${arena.state.toUpperCase()}, not DETACHED`);
        const needsGmem = arena.files.some((f) => f.fdType === "guest_memfd");
        const needsMemfd = arena.files.some((f) => f.fdType !== "guest_memfd");
        if (needsGmem !== (gmem !== undefined)) throw new InvalidArgumentError(needsGmem ? `arena "${arena.id}" (${arena.kind}) needs gmem_fd_token` : `arena "${arena.id}" (${arena.kind}) has no guest_memfd: gmem_fd_token must be empty`);
        if (needsMemfd !== (memfd !== undefined)) throw new InvalidArgumentError(needsMemfd ? `arena "${arena.id}" (${arena.kind}) needs memfd_fd_token` : `arena "${arena.id}" (${arena.kind}) has no memfd: memfd_fd_token must be empty`);
        const received = arena.files.map((f) => (f.fdType === "guest_memfd" ? gmem! : memfd!));
        arena.files.forEach((f, side) => checkReattachedFile(arena, f, received[side]!));
        arena.keptFds = arena.files.map((f) => (f.fdType === "guest_memfd" ? undefined : dupCloexec(fds.memfd!)));
        arena.state = "active";
        const view = arenaView(this.#state, arena);
        this.#publish({ kind: "arena-state-changed", arena: view }, arena);
        return view;
      }).result;
    });
  }

  deleteArena(arenaId: string, request: { readonly releaseLeases?: boolean } = {}, options?: CallOptions): Promise<DeleteArenaResult> {
    return this.#call("deleteArena", "DeleteArena", options, () => {
      const releaseLeases = request.releaseLeases === true;
      return this.#mutate("DeleteArena", options, { arenaId, releaseLeases }, () => {
        const arena = this.#ownedArena(arenaId);
        if (arena.leases.size > 0 && !releaseLeases) throw new FailedPreconditionError(`arena "${arena.id}" still has ${arena.leases.size} lease(s); set release_leases to release them`);
        if (arena.state === "detached" && arena.leases.size > 0) throw new FailedPreconditionError(`arena "${arena.id}" is DETACHED: its leases cannot be punched without its file (ReattachArena first)`);
        this.#markDeleting(arena);
        return this.#deleteArenaNow(arena, "client");
      }).result;
    });
  }

  // =============================================================================== Pool: leases

  allocate(arenaId: string, request: AllocateRequest, options?: CallOptions): Promise<Lease> {
    return this.#call("allocate", "Allocate", options, () => {
      const label = request.label ?? "";
      const fields = { arenaId, unitCount: request.unitCount, label, ...(request.offsetBytes === undefined ? {} : { offsetBytes: request.offsetBytes }) };
      return this.#mutate("Allocate", options, fields, () => {
        // The daemon's PoolManager.allocate, then its pool core's Pool.allocate.
        const arena = this.#ownedArena(arenaId);
        this.#requireActive(arena);
        const { unitCount } = request;
        if (!Number.isSafeInteger(unitCount) || unitCount < 1 || unitCount > 0xffffffff) throw new InvalidArgumentError(`unit_count must be at least 1, got ${unitCount}`);
        checkName(label, "label");
        let offsetUnits: number | undefined;
        if (request.offsetBytes !== undefined) {
          const offset = requireUint64(request.offsetBytes, "offset_bytes");
          if (offset % UNIT_BYTES !== 0n) throw new InvalidArgumentError(`offset_bytes ${offset} is not a multiple of 2 MiB`);
          const end = offset + BigInt(unitCount) * UNIT_BYTES;
          const size = BigInt(arena.unitCount) * UNIT_BYTES;
          if (end > size) throw new InvalidArgumentError(`placement [${offset}, ${end}) passes the end of arena "${arena.id}" (${size} bytes)`);
          offsetUnits = Number(offset / UNIT_BYTES);
        }
        const granularity = this.#state.granularityOf(arena);
        const blockUnits = this.#state.blockUnitsOf(arena);
        if (unitCount % blockUnits !== 0) throw new InvalidArgumentError(`unit_count ${unitCount} is not a multiple of arena "${arena.id}"'s punch granularity ${exactSize(granularity)} (${blockUnits} units)`);
        if (unitCount > arena.unitCount) throw new InvalidArgumentError(`unit_count ${unitCount} is larger than arena "${arena.id}" (${arena.unitCount} units)`);
        const firstUnit = offsetUnits === undefined ? findPlacement(arena, unitCount, blockUnits) : checkPlacement(arena, offsetUnits, unitCount, blockUnits);
        const free = this.#state.reserve.freeUnitCount;
        if (unitCount > free) throw new ExhaustedError(`requested ${unitCount} units, ${free} free in the pool of ${this.#state.reserve.capacity}`);

        const lease: FakeLease = {
          id: this.#state.freshId("lease"), arenaId: arena.id, ownerKey: arena.ownerKey, firstUnit, unitCount, label,
          pages: new PageMap(unitCount, arena.initialVisibility === "private" ? PRIVATE : 0), createTime: new Date(),
        };
        const change = reconcileBacking(lease.pages, arena.layout, granularity, 0, unitCount);
        this.#state.reserve.apply(change.unitsTaken, 0);
        arena.leases.set(lease.id, lease);
        this.#state.leases.set(lease.id, lease);
        const view = leaseView(this.#state, lease);
        this.#publish({ kind: "lease-allocated", lease: view }, arena);
        return view;
      }).result;
    });
  }

  release(leaseId: string, options?: CallOptions): Promise<ReleaseResult> {
    return this.#call("release", "Release", options, () =>
      this.#mutate("Release", options, { leaseId }, () => {
        if (leaseId === "") throw new InvalidArgumentError("lease_id is empty");
        const lease = this.#ownedLease(leaseId);
        this.#requireActive(this.#state.arenaOf(lease));
        return { releasedUnitCount: this.#releaseLease(lease, "client") };
      }).result,
    );
  }

  /**
   * The daemon's Discard: whole punch granules inside the range are discarded and punched; the
   * sub-granule head and tail follow the arena's discard policy (reject / zero / defer; defer
   * past the pool's deferred cap uses the overflow policy). A `reject` error names the enclosing
   * 2 MiB (granule) boundaries.
   */
  discard(arenaId: string, range: ByteRange, options?: CallOptions): Promise<DiscardResult> {
    return this.#call("discard", "Discard", options, () =>
      this.#mutate("Discard", options, { arenaId, ...rangeFields(range) }, () => {
        const { arena, segments } = this.#segments(arenaId, range, "discard");
        const outcomes = this.#inTransaction(segments, (tally) => {
          try {
            return planningOrder(segments).map((segment) => ({ index: segments.indexOf(segment), outcome: this.#discardSegment(arena, segment, tally) }));
          } catch (error) {
            throw explainReject(arena, range, this.#state.granularityOf(arena), error);
          }
        }).sort((a, b) => a.index - b.index).map((o) => o.outcome);
        const result: DiscardResult = {
          punchedBytes: sumBig(outcomes.map((o) => o.punchedBytes)),
          releasedUnitCount: sum(outcomes.map((o) => o.releasedUnitCount)),
          zeroedBytes: sumBig(outcomes.map((o) => o.zeroedBytes)),
          deferredBytes: sumBig(outcomes.map((o) => o.deferredBytes)),
          appliedPolicy: outcomes.map((o) => o.appliedPolicy).find((p) => p !== undefined),
        };
        this.#publish({ kind: "range-discarded", arenaId: arena.id, offsetBytes: range.offsetBytes, lengthBytes: range.lengthBytes, punchedBytes: result.punchedBytes, releasedUnitCount: result.releasedUnitCount, zeroedBytes: result.zeroedBytes, deferredBytes: result.deferredBytes }, arena);
        this.#checkDeferredCap();
        return result;
      }).result,
    );
  }

  /** The daemon's Populate: discarded pages become live; units discarded whole come back. */
  populate(arenaId: string, range: ByteRange, options?: CallOptions): Promise<PopulateResult> {
    return this.#call("populate", "Populate", options, () =>
      this.#mutate("Populate", options, { arenaId, ...rangeFields(range) }, () => {
        const { arena, segments } = this.#segments(arenaId, range, "populate");
        const restoredPages = sum(segments.map((s) => s.lease.pages.count(s.startPage, s.endPage, (f) => (f & DISCARDED) !== 0)));
        const taken = this.#inTransaction(segments, (tally) =>
          planningOrder(segments).map((s) => this.#changePages(arena, s, tally, (f) => f & ~DISCARDED).unitsTaken),
        );
        const result: PopulateResult = { populatedUnitCount: sum(taken), restoredBytes: BigInt(restoredPages) * PAGE_BYTES };
        this.#publish({ kind: "range-populated", arenaId: arena.id, offsetBytes: range.offsetBytes, lengthBytes: range.lengthBytes, populatedUnitCount: result.populatedUnitCount }, arena);
        this.#checkDeferredCap();
        return result;
      }).result,
    );
  }

  /**
   * The daemon's Convert. "notify" records the new visibility and, in a pair, populates the
   * target side where it has no unit yet and punches the stale side a whole block at a time.
   * "in-place" needs KVM_SET_MEMORY_ATTRIBUTES2 (`inPlaceConversion`) and a one-file
   * guest_memfd arena.
   */
  convert(arenaId: string, request: ConvertRequest, options?: CallOptions): Promise<ConvertResult> {
    return this.#call("convert", "Convert", options, () => {
      const fields = { arenaId, ...rangeFields(request), toVisibility: request.toVisibility, mode: request.mode, ...(request.contentIntent === undefined ? {} : { contentIntent: request.contentIntent }) };
      return this.#mutate("Convert", options, fields, () => {
        if (!isVisibility(request.toVisibility)) throw new InvalidArgumentError("to_visibility is unspecified");
        const mode: string = request.mode;
        if (mode !== "in-place" && mode !== "notify") throw new InvalidArgumentError("mode is unspecified");
        const { arena, segments } = this.#segments(arenaId, request, "convert");
        if (arena.kind === "memfd") throw new FailedPreconditionError(`arena "${arena.id}" is a memfd arena: it has no private pages`);
        if (request.mode === "in-place") {
          if (arena.kind === "pair") throw new FailedPreconditionError(`arena "${arena.id}" is a guest_memfd + memfd pair: it converts out of place (mode notify), not in place`);
          if (!this.#state.settings.inPlaceConversion) throw new UnimplementedError("in-place conversion needs KVM_SET_MEMORY_ATTRIBUTES2, which this kernel lacks (ENOTTY, or gmem_in_place_conversion off); use mode notify");
        }
        if (request.contentIntent === "preserve" && arena.kind === "pair") {
          throw new FailedPreconditionError(`arena "${arena.id}" converts out of place: page contents are not carried between its guest_memfd and its memfd (content_intent PRESERVE cannot be honoured)`);
        }
        const toPrivate = request.toVisibility === "private";
        const setVisibility = (f: number): number => (toPrivate ? f | PRIVATE : f & ~PRIVATE);
        const convertedPages = sum(segments.map((s) => s.lease.pages.count(s.startPage, s.endPage, (f) => ((f & PRIVATE) !== 0) !== toPrivate)));
        const collapsible: number[] = [];
        const changes = this.#inTransaction(segments, (tally) =>
          planningOrder(segments).map((s) => {
            const candidates = toPrivate ? unitsNotAllPrivate(s) : [];
            let change: ReturnType<typeof reconcileBacking> | undefined;
            if (request.mode === "in-place") s.lease.pages.update(s.startPage, s.endPage, setVisibility);
            else change = this.#changePages(arena, s, tally, setVisibility);
            for (const u of candidates) if (s.lease.pages.countInUnit(u, (f) => (f & PRIVATE) !== 0) === PAGES_PER_UNIT) collapsible.push(s.lease.firstUnit + u);
            return change;
          }),
        );
        const result: ConvertResult = {
          convertedBytes: BigInt(convertedPages) * PAGE_BYTES,
          populatedUnitCount: sum(changes.map((c) => c?.unitsTaken ?? 0)),
          stalePunchedBytes: sumBig(changes.map((c) => c?.punchedBytes ?? 0n)),
          staleReleasedUnitCount: sum(changes.map((c) => c?.unitsReturned ?? 0)),
          collapsibleUnits: spans(collapsible),
        };
        this.#publish({ kind: "range-converted", arenaId: arena.id, offsetBytes: request.offsetBytes, lengthBytes: request.lengthBytes, toVisibility: request.toVisibility, mode: request.mode }, arena);
        this.#checkDeferredCap();
        return result;
      }).result;
    });
  }

  // =============================================================================== Admin

  setPolicy(request: SetPolicyRequest, options?: CallOptions): Promise<SetPolicyResult> {
    return this.#call("setPolicy", "Admin.SetPolicy", options, () => {
      // The daemon's admin handler decodes the fields (admin callers only), then refuses a
      // non-admin before looking at anything else.
      if (this.#admin) decodePolicyFields(request);
      this.#requireAdmin();
      const arenaId = request.arenaId ?? "";
      const clear = request.clearArenaOverride === true;
      const fields = { arenaId, clearArenaOverride: clear, ...policyFields(request) };
      return this.#mutate("SetPolicy", options, fields, () => {
        if (arenaId === "") {
          if (clear) throw new InvalidArgumentError("clear_arena_override needs an arena_id");
          const poolPolicy = this.#applyPoolPolicy(request);
          this.#publish({ kind: "policy-changed", poolPolicy, arenaOverride: undefined, source: "admin" }, undefined);
          return { poolPolicy, arenaOverride: undefined };
        }
        if (request.deferredCapBytes !== undefined || request.deferredOverflowPolicy !== undefined) {
          throw new InvalidArgumentError("deferred_cap_bytes and deferred_overflow_policy are pool-wide: leave arena_id empty");
        }
        const arena = this.#visibleArena(arenaId);
        const base = clear ? {} : arena.policy;
        const granularity = request.punchGranularityBytes === undefined ? base.punchGranularityBytes : safeNumber(request.punchGranularityBytes, "punch_granularity_bytes");
        const discardPolicy = request.discardPolicy ?? base.discardPolicy;
        if (granularity !== undefined) validateGranularity(granularity);
        requireFitsGranularity(arena, granularity ?? this.#state.policy.punchGranularityBytes);
        arena.policy = { ...(discardPolicy === undefined ? {} : { discardPolicy }), ...(granularity === undefined ? {} : { punchGranularityBytes: granularity }) };
        const arenaOverride = arenaOverrideView(arena);
        const result = { poolPolicy: this.#state.policy, arenaOverride };
        this.#publish({ kind: "policy-changed", poolPolicy: result.poolPolicy, arenaOverride, source: "admin" }, arena);
        this.#publish({ kind: "arena-state-changed", arena: arenaView(this.#state, arena) }, arena);
        return result;
      }).result;
    });
  }

  forceRelease(target: ForceReleaseTarget, options?: CallOptions): Promise<ForceReleaseResult> {
    return this.#call("forceRelease", "Admin.ForceRelease", options, () => {
      this.#requireAdmin();
      return this.#mutate("ForceRelease", options, { ...target }, () => {
        if ("leaseId" in target) {
          const lease = this.#visibleLease(target.leaseId);
          const arena = this.#state.arenaOf(lease);
          if (arena.state === "detached") throw new FailedPreconditionError(`arena "${arena.id}" of lease "${lease.id}" is DETACHED: its file must be reattached before the lease can be punched`);
          return { releasedLeaseCount: 1, deletedArenaCount: 0, releasedUnitCount: this.#releaseLease(lease, "force-release") };
        }
        let arenas: FakeArena[];
        if ("arenaId" in target) arenas = [this.#visibleArena(target.arenaId)];
        else if ("ownerPid" in target) arenas = [...this.#state.arenas.values()].filter((a) => a.owner.pid === target.ownerPid).sort(byId);
        else throw new InvalidArgumentError("no target set (lease_id, arena_id or owner_pid)");
        if (arenas.length === 0) throw new NotFoundError(`no arena is owned by process ${"ownerPid" in target ? target.ownerPid : "?"}`);
        for (const arena of arenas) {
          if (arena.state === "detached" && arena.leases.size > 0) throw new FailedPreconditionError(`arena "${arena.id}" is DETACHED: its file must be reattached before its leases can be punched`);
        }
        let leases = 0;
        let units = 0;
        for (const arena of arenas) {
          this.#markDeleting(arena);
          const r = this.#deleteArenaNow(arena, "force-release");
          leases += r.releasedLeaseCount;
          units += r.releasedUnitCount;
        }
        return { releasedLeaseCount: leases, deletedArenaCount: arenas.length, releasedUnitCount: units };
      }).result;
    });
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const stream of this.#streams) stream.cancel();
    this.#streams.clear();
    for (const reject of this.#stalled) reject(new CancelledError("the client is closed"));
    this.#stalled.clear();
    if (this.#root !== this) return;
    for (const view of this.#views) view.close();
    for (const arena of this.#state.arenas.values()) closeKeptFds(arena);
  }

  // =============================================================================== calls

  /**
   * One call: refused when closed or already cancelled; an injected fault if one is queued;
   * else `run` after a turn of the event loop's microtasks (answers are asynchronous, as over
   * a socket). Errors thrown by `run` get the RPC's name as their `operation`.
   */
  async #call<T>(method: FaultableMethod, rpc: string, options: CallOptions | undefined, run: () => T): Promise<T> {
    this.#throwIfClosed(rpc);
    if (options?.signal?.aborted === true) throw new CancelledError("the call was cancelled", { operation: rpc });
    const fault = this.#faults.take(method);
    if (fault?.kind === "fail") throw typeof fault.error === "function" ? fault.error() : fault.error;
    if (fault?.kind === "stall") return this.#stall(rpc, options);
    await Promise.resolve();
    this.#throwIfClosed(rpc);
    try {
      return run();
    } catch (error) {
      throw error instanceof PoolError ? withOperation(error, rpc) : error;
    }
  }

  #throwIfClosed(rpc: string): void {
    if (this.#closed) throw new CancelledError("the client is closed", { operation: rpc });
  }

  #stall(rpc: string, options: CallOptions | undefined): Promise<never> {
    return new Promise<never>((_resolve, reject) => {
      const deadlineMs = options?.deadlineMs ?? this.#deadlineMs;
      const finish = (error: PoolError): void => {
        clearTimeout(timer);
        options?.signal?.removeEventListener("abort", onAbort);
        this.#stalled.delete(finish);
        reject(error);
      };
      const onAbort = (): void => finish(new CancelledError("the call was cancelled", { operation: rpc }));
      const timer = setTimeout(() => finish(new DeadlineExceededError(`the deadline of ${deadlineMs} ms passed`, { operation: rpc })), deadlineMs);
      options?.signal?.addEventListener("abort", onAbort, { once: true });
      this.#stalled.add(finish);
    });
  }

  /**
   * A mutating call as the daemon runs it: serving check, request id check, then either the
   * first result of an earlier call with the same request id, or `run` (recorded on success).
   */
  #mutate<R>(rpc: string, options: CallOptions | undefined, fields: object, run: () => R): { readonly result: R; readonly replayed: boolean } {
    this.#requireServing();
    const requestId = options?.requestId ?? "";
    RequestIdRecords.validate(requestId);
    if (requestId === "") return { result: run(), replayed: false };
    const key = `${this.#ownerKey}|${rpc}|${requestId}`;
    const fingerprint = RequestIdRecords.fingerprint(rpc, fields);
    const recorded = this.#state.requestIds.lookup(key, fingerprint, rpc, requestId);
    if (recorded !== undefined) return { result: recorded as R, replayed: true };
    const result = run();
    this.#state.requestIds.record(key, fingerprint, result);
    return { result, replayed: false };
  }

  // =============================================================================== rules

  #requireServing(): void {
    const state = this.#state;
    if (state.servingState === "starting") throw new UnavailableError(`the daemon is starting (reserve ${poolStatusView(state).reservePopulatedUnitCount} of ${state.reserve.capacity} units populated); retry with backoff`);
    if (state.servingState === "draining") throw new UnavailableError("the daemon is draining (shutting down); retry with backoff");
  }

  #requireAdmin(): void {
    if (!this.#admin) throw new PermissionDeniedError(`uid ${this.#identity.uid} gid ${this.#identity.gid} is not the configured admin identity`);
  }

  #requireAdminFor(allOwners: boolean): void {
    if (allOwners && !this.#admin) throw new PermissionDeniedError(`all_owners needs the admin identity; uid ${this.#identity.uid} gid ${this.#identity.gid} is not`);
  }

  /** An arena the caller may read: its own, or any for the admin. Another's is not-found. */
  #visibleArena(arenaId: string): FakeArena {
    const arena = this.#state.arenas.get(arenaId);
    if (arena === undefined || (!this.#admin && arena.ownerKey !== this.#ownerKey)) throw new NotFoundError(`arena "${arenaId}" does not exist`);
    return arena;
  }

  /** An arena the caller may change: its own only (the admin too uses the Admin service). */
  #ownedArena(arenaId: string): FakeArena {
    if (arenaId === "") throw new InvalidArgumentError("arena_id is empty");
    const arena = this.#state.arenas.get(arenaId);
    if (arena?.ownerKey !== this.#ownerKey) throw new NotFoundError(`arena "${arenaId}" does not exist`);
    return arena;
  }

  #visibleLease(leaseId: string): FakeLease {
    const lease = this.#state.leases.get(leaseId);
    if (lease === undefined || (!this.#admin && lease.ownerKey !== this.#ownerKey)) throw new NotFoundError(`lease "${leaseId}" does not exist`);
    return lease;
  }

  #ownedLease(leaseId: string): FakeLease {
    const lease = this.#state.leases.get(leaseId);
    if (lease?.ownerKey !== this.#ownerKey) throw new NotFoundError(`lease "${leaseId}" does not exist`);
    return lease;
  }

  #requireActive(arena: FakeArena): void {
    if (arena.state === "deleting") throw new FailedPreconditionError(`arena "${arena.id}" is DELETING`);
    if (arena.state === "detached") throw new FailedPreconditionError(`arena "${arena.id}" is DETACHED since the daemon restarted: send its file(s) again with ReattachArena`);
  }

  /** The caller's arenas, or every owner's, sorted by id. */
  #arenasOf(allOwners: boolean): FakeArena[] {
    return [...this.#state.arenas.values()].filter((a) => allOwners || a.ownerKey === this.#ownerKey).sort(byId);
  }

  #checkArenaLimit(): void {
    const limit = this.#state.settings.arenasPerProcess;
    const owned = [...this.#state.arenas.values()].filter((a) => a.ownerKey === this.#ownerKey).length;
    if (owned >= limit) throw new ExhaustedError(`process ${this.#identity.pid} has reached the limit of ${limit} arenas`);
  }

  #memfdType(backing: MemfdBacking, field: string): FdType {
    const name: string = backing;
    if (name !== "shmem" && name !== "hugetlb") throw new InvalidArgumentError(`${name} is not a MemfdBacking (one of shmem, hugetlb)`);
    const mode = this.#state.settings.reserveMode;
    if (backing === "hugetlb" && mode !== "hugetlb") throw new FailedPreconditionError(`${field} HUGETLB needs reserve mode hugetlb; this daemon's reserve mode is ${mode}`);
    return backing === "hugetlb" ? "memfd_hugetlb" : "memfd_shmem";
  }

  /**
   * The fd channel step of a guest_memfd (SEND_FD, then the daemon's inspectFd): the fd must be
   * open and a guest_memfd — a real one, or a stand-in from `createStandInGuestMemfd` — on a
   * host with guest_memfd. Borrowed: nothing is kept.
   */
  #receivedGuestMemfd(fd: number): FdInspection {
    const file = requireOpenFd(fd);
    const standIn = file.kind === "guest_memfd" && file.link.startsWith("/memfd:");
    if (file.kind === "guest_memfd" && (this.#state.settings.guestMemfd || !standIn)) return file;
    const seen = standIn ? { ...file, kind: "memfd" as const } : file;
    throw new InvalidArgumentError(`the fd is ${describeFd(seen)}, not the claimed guest_memfd`, { operation: SEND_FD });
  }

  /** The daemon's checks of a received guest_memfd against the request, and the proto's
   * "already an arena" (same device and inode). */
  #checkGuestMemfd(file: FdInspection, sizeBytes: bigint): void {
    if (file.sizeBytes !== sizeBytes) throw new InvalidArgumentError(`size_bytes ${sizeBytes} differs from the fd's size ${file.sizeBytes}`);
    for (const arena of this.#state.arenas.values()) {
      const same = arena.files.find((f) => f.fdType === "guest_memfd" && f.device === file.device && f.inode === file.inode);
      if (same !== undefined) throw new FailedPreconditionError(`this guest_memfd (device ${file.device}, inode ${file.inode}) is already an arena (one file backs at most one arena)`);
    }
  }

  /** Makes an arena: the memfd side (if any) created and kept, the guest_memfd side recorded. */
  #createArena(spec: { name: string; kind: ArenaKind; unitCount: number; initialVisibility: PageVisibility; gmem: FdInspection | undefined; memfdType: FdType | undefined }): { arena: Arena; memfd: number | undefined } {
    const state = this.#state;
    const sizeBytes = BigInt(spec.unitCount) * UNIT_BYTES;
    const granularity = state.policy.punchGranularityBytes;
    const block = granularity > UNIT_BYTES ? granularity : UNIT_BYTES;
    if (sizeBytes % block !== 0n) throw new InvalidArgumentError(`size_bytes ${sizeBytes} is not a multiple of the punch granularity ${exactSize(block)}`);
    const id = state.freshId("arena");
    const files: FakeArenaFile[] = [];
    if (spec.gmem !== undefined) files.push({ fdType: "guest_memfd", memfdName: "", device: spec.gmem.device, inode: spec.gmem.inode });
    let memfd: number | undefined;
    let kept: number | undefined;
    if (spec.memfdType !== undefined) {
      const memfdName = `gmempool:${id}`;
      memfd = memfdCreate(memfdName, sizeBytes);
      try {
        kept = dupCloexec(memfd);
      } catch (error) {
        closeQuietly(memfd);
        throw new InternalError(`could not keep a copy of the memfd: ${error instanceof Error ? error.message : String(error)}`);
      }
      const file = inspectFd(memfd)!;
      files.push({ fdType: spec.memfdType, memfdName, device: file.device, inode: file.inode });
    }
    const arena: FakeArena = {
      id, name: spec.name, kind: spec.kind, layout: spec.kind === "pair" ? "pair" : "single", owner: this.#identity, ownerKey: this.#ownerKey,
      unitCount: spec.unitCount, initialVisibility: spec.initialVisibility, files, state: "active", policy: {},
      keptFds: files.map((f) => (f.fdType === "guest_memfd" ? undefined : kept)), leases: new Map(), createTime: new Date(),
    };
    state.arenas.set(id, arena);
    const view = arenaView(state, arena);
    this.#publish({ kind: "arena-created", arena: view }, arena);
    return { arena: view, memfd };
  }

  /** An idempotent retry of a create: the arena as first created, and its memfd again. */
  #redeliver(arena: Arena): { arena: Arena; memfd: number } {
    const record = this.#state.arenas.get(arena.arenaId);
    const kept = record?.keptFds.find((fd) => fd !== undefined);
    if (kept === undefined) throw new FailedPreconditionError(`the memfd could not be delivered on the fd channel: arena "${arena.arenaId}" no longer holds it`);
    return { arena, memfd: dupCloexec(kept) };
  }

  #markDeleting(arena: FakeArena): void {
    if (arena.state === "deleting") return;
    arena.state = "deleting";
    this.#publish({ kind: "arena-state-changed", arena: arenaView(this.#state, arena) }, arena);
  }

  /** The daemon's #deleteArena after DELETING: its leases released one by one, its files closed. */
  #deleteArenaNow(arena: FakeArena, reason: ReleaseReason): DeleteArenaResult {
    let leases = 0;
    let units = 0;
    for (const lease of [...arena.leases.values()]) {
      units += this.#releaseLease(lease, reason);
      leases++;
    }
    closeKeptFds(arena);
    this.#state.arenas.delete(arena.id);
    this.#publish({ kind: "arena-deleted", arenaId: arena.id, owner: arena.owner, releasedLeaseCount: leases, releasedUnitCount: units, reason }, arena);
    return { releasedLeaseCount: leases, releasedUnitCount: units };
  }

  /** Punches every populated side-unit of a lease back into the reserve and forgets the lease. */
  #releaseLease(lease: FakeLease, reason: ReleaseReason): number {
    const arena = this.#state.arenaOf(lease);
    const change = reconcileBacking(lease.pages, arena.layout, this.#state.granularityOf(arena), 0, lease.unitCount, true);
    this.#state.reserve.apply(0, change.unitsReturned);
    arena.leases.delete(lease.id);
    this.#state.leases.delete(lease.id);
    this.#publish({ kind: "lease-released", leaseId: lease.id, arenaId: arena.id, releasedUnitCount: change.unitsReturned, reason }, arena);
    return change.unitsReturned;
  }

  /** The caller's leases covering a range of one of its active arenas (the daemon's #rangeSegments). */
  #segments(arenaId: string, range: ByteRange, what: string): { arena: FakeArena; segments: Segment[] } {
    const arena = this.#ownedArena(arenaId);
    this.#requireActive(arena);
    return { arena, segments: rangeSegments(arena, range, what) };
  }

  /** Runs a range call's segments all or nothing: page states and the reserve come back on error. */
  #inTransaction<T>(segments: readonly Segment[], run: (tally: ReserveTally) => T): T {
    const saved = segments.map((s) => [s.lease, s.lease.pages.clone()] as const);
    const tally: ReserveTally = { out: 0, back: 0 };
    try {
      const result = run(tally);
      this.#state.reserve.apply(tally.out, tally.back);
      return result;
    } catch (error) {
      for (const [lease, pages] of saved) lease.pages = pages;
      throw error;
    }
  }

  /**
   * Changes page flags of a segment, then its backing over the enclosing blocks; the reserve
   * must hold the units the change needs (the daemon's mutatePagesThenPlan).
   */
  #changePages(arena: FakeArena, segment: Segment, tally: ReserveTally, change: (flags: number) => number): ReturnType<typeof reconcileBacking> {
    const { lease } = segment;
    segment.lease.pages.update(segment.startPage, segment.endPage, change);
    const blockUnits = this.#state.blockUnitsOf(arena);
    const startUnit = Math.floor(segment.startPage / PAGES_PER_UNIT / blockUnits) * blockUnits;
    const endUnit = Math.ceil(segment.endPage / PAGES_PER_UNIT / blockUnits) * blockUnits;
    const backing = reconcileBacking(lease.pages, arena.layout, this.#state.granularityOf(arena), startUnit, endUnit);
    const free = this.#state.reserve.freeUnitCount - tally.out;
    if (backing.unitsTaken > free) throw new ExhaustedError(`lease "${lease.id}" needs ${backing.unitsTaken} more units, ${free} free in the pool of ${this.#state.reserve.capacity}`);
    tally.out += backing.unitsTaken;
    tally.back += backing.unitsReturned;
    return backing;
  }

  /** One segment of a Discard (fake/discard-decision.ts). */
  #discardSegment(arena: FakeArena, segment: Segment, tally: ReserveTally): DiscardResult {
    return discardSegment(segment, {
      arena,
      granularityBytes: this.#state.granularityOf(arena),
      arenaPolicy: this.#state.discardPolicyOf(arena),
      poolPolicy: this.#state.policy,
      deferredPagesNow: this.#state.deferredPages(),
      updateBacking: (s) => this.#changePages(arena, s, tally, (f) => f),
    });
  }

  #applyPoolPolicy(request: SetPolicyRequest): Policy {
    this.#state.policy = nextPoolPolicy(this.#state, request);
    this.#checkDeferredCap();
    return this.#state.policy;
  }

  #checkDeferredCap(): void {
    const state = this.#state;
    if (!state.deferredCapCrossed()) return;
    this.#publish({ kind: "deferred-cap-reached", deferredBytes: BigInt(state.deferredPages()) * PAGE_BYTES, deferredCapBytes: state.policy.deferredCapBytes, overflowPolicy: state.policy.deferredOverflowPolicy }, undefined);
  }

  /** Publishes an event scoped to an arena's owner, or pool-wide. */
  #publish(body: PoolEventBody, arena: FakeArena | undefined | { readonly ownerKey: string; readonly arenaId: undefined }): void {
    if (arena === undefined) this.#state.events.publish(body, { ownerKey: undefined, arenaId: undefined });
    else if ("id" in arena) this.#state.events.publish(body, { ownerKey: arena.ownerKey, arenaId: arena.id });
    else this.#state.events.publish(body, arena);
  }
}

// =============================================================================== small helpers

function withoutAdmin(identity: FakeIdentity | undefined): Partial<Identity> {
  if (identity === undefined) return {};
  return {
    ...(identity.uid === undefined ? {} : { uid: identity.uid }),
    ...(identity.gid === undefined ? {} : { gid: identity.gid }),
    ...(identity.pid === undefined ? {} : { pid: identity.pid }),
    ...(identity.startTimeTicks === undefined ? {} : { startTimeTicks: identity.startTimeTicks }),
  };
}

function sum(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0);
}

function sumBig(values: readonly bigint[]): bigint {
  return values.reduce((a, b) => a + b, 0n);
}
