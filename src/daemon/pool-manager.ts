/**
 * The pool manager: the daemon's implementation of `PoolService` / `PoolDaemon`
 * (pool-service.ts). It owns the pool core, the reserve, the arena files, the journal and the
 * peer watches, and runs every mutation as claim -> kernel -> commit / abort (DESIGN.md §5):
 *
 *   1. validate (early returns that throw a GmempoolError naming the bad value; nothing changed);
 *   2. ask the pool for a plan: its units and reserve slots are now claimed, so no other request
 *      can touch them while the kernel works (no lock is held across an await);
 *   3. run the plan's kernel steps (plan-executor.ts), in parallel, off the event loop;
 *   4. commit the plan with the steps that failed; in the SAME tick, build the journal record
 *      of everything the commit changed (durable-state.ts) and append it;
 *   5. await the record's fsync (group commit), publish the Watch event, return.
 *
 * Ownership (STYLE.md rule 7):
 * - `#arenaFds` holds the daemon's own dups of arena files (F_DUPFD_CLOEXEC), one per side,
 *   closed when the arena is deleted (DeleteArena, ForceRelease, owner exit) or at `close()`.
 *   An arena without an entry is DETACHED (restored from the journal, waiting for
 *   ReattachArena). Fds passed in by the server are borrowed and never closed here.
 * - memfds the daemon creates are the arena's side files from birth; the server only sends them.
 * - a file is at most one arena's (pool.proto): each arena's metadata journals its files'
 *   (st_dev, st_ino), and `#fileClaims` holds the files a registration or reattach in flight
 *   is making an arena's, from their check until that arena's metadata records them.
 * - the reserve backend owns the reserve file; the peer tracker owns its pidfds.
 *
 * Invariants (checked by `assertInvariants`, called by tests after every step):
 * - the pool's own invariants (conservation, alignment, partition, ownership);
 * - every pool arena has metadata, and every arena with fds has one fd per side;
 * - every owner with an arena is tracked by the peer tracker, or known to be gone;
 * - no two arenas record the same file identity.
 */
import { randomUUID } from "node:crypto";
import type { Logger } from "pino";
import type { Clock } from "../kvm/clock.ts";
import type { Fd } from "../kvm/fd.ts";
import { FALLOCATE_POPULATE, FALLOCATE_PUNCH, HUGETLB_PAGE_BYTES } from "../kvm/kernel-constants.ts";
import { KernelError } from "../kvm/kernel-error.ts";
import type { KernelPort, KvmCapabilities } from "../kvm/kernel-port.ts";
import { Pool, PAGE_BYTES, UNIT_BYTES, type Arena, type FileKind, type Lease, type Plan, type PlanResult, type Side } from "../pool/index.ts";
import { exportSnapshot } from "../pool/snapshot.ts";
import { populatedPredicate } from "../pool/population-planner.ts";
import { PolicyRejectError } from "../pool/discard-decision.ts";
import type { DaemonConfig } from "./config.ts";
import { DURABLE_STATE_VERSION, leaseSnapshot, populatedUnitsOf, rebuild, type ArenaEntry, type ArenaFileMeta, type ArenaMeta, type DurableState, type FileIdentity, type JournalRecord, type LeaseEntry, type LeaseMeta } from "./durable-state.ts";
import { classifyKernelError, toGmempoolError } from "./error-classification.ts";
import { DeferredReservePunch } from "./deferred-reserve-punch.ts";
import { EventHub } from "./event-hub.ts";
import { GmemReserve } from "./gmem-reserve.ts";
import { HugetlbReserve } from "./hugetlb-reserve.ts";
import { IdempotencyStore, type IdempotencyEntry } from "./idempotency.ts";
import { Journal } from "./journal.ts";
import { KernelTimer } from "./kernel-timer.ts";
import { PeerTracker } from "./peer-tracker.ts";
import { PlanExecutor, type ExecutionResult, type StepEnvironment } from "./plan-executor.ts";
import { arenaFdName, type ArenaFdStore, type AllocateRequest, type AllocateResult, type ArenaInfo, type ArenaKind, type ArenaRangeRequest, type ArenaResult, type ArenaState, type Caller, type Capabilities, type ConvertRequest, type ConvertResult, type CreateArenaPairRequest, type CreateMemfdArenaRequest, type DaemonMetrics, type DeleteArenaRequest, type DeleteArenaResult, type DiscardResult, type FdDelivery, type FdInspection, type FdType, type ForceReleaseRequest, type ForceReleaseResult, type FragmentationMap, type GetFragmentationMapRequest, type KernelCallObserver, type KernelFeature, type LeaseInfo, type ListLeasesRequest, type ListRequest, type MemfdBacking, type MutatingRequest, type MutatingResult, type PeerCredentials, type PoolDaemon, type PolicyInfo, type PolicyUpdate, type PolicyView, type PoolStatus, type PopulateResult, type ReattachArenaRequest, type RegisterGuestMemfdArenaRequest, type ReleaseReason, type ReleaseRequest, type ReleaseResult, type ReserveMode, type ServingState, type SetPolicyRequest, type SetPolicyResult, type UnitSpan, type Visibility, type WatchRequest, type WatchStream } from "./pool-service.ts";
import { GmempoolError } from "../pool/errors.ts";
import { readProcessStartTime } from "./process-start-time.ts";
import { NoReserve, type ReserveBackend } from "./reserve-backend.ts";
import { arenaInfo, arenaOverride, leaseInfo, policyInfo, readBuddyInfo, reserveMap, unitMaps } from "./resource-views.ts";
import { decodeTagged } from "./tagged-json.ts";

const UNIT = BigInt(UNIT_BYTES);
const PAGE = BigInt(PAGE_BYTES);
const MAX_ARENA_UNITS = 2n ** 32n;
const MAX_NAME_BYTES = 64;
/** How long an owner's cleanup waits before retrying a release that failed in the kernel. */
const OWNER_CLEANUP_RETRY_MS = 1000;

export interface PoolManagerOptions {
  readonly config: DaemonConfig;
  readonly kernel: KernelPort;
  readonly logger: Logger;
  /** The journal directory (config `paths.journal_dir`, else `<runtime dir>/journal`). */
  readonly journalDir: string;
  /** Forces the reserve mode (tests); otherwise config `pool.reserve`, `auto` probed. */
  readonly reserveMode?: ReserveMode;
  /** /proc/PID/stat start time (tests inject one for fake pids). */
  readonly processStartTime?: (pid: number) => bigint | undefined;
  readonly daemonVersion?: string;
  /** Whether the daemon runs as root (for `auto`); default: process.getuid() === 0. */
  readonly isRoot?: boolean;
  /** The systemd fd store, when running under systemd with FDSTORE (see `ArenaFdStore`). */
  readonly fdStore?: ArenaFdStore;
  /**
   * Fds handed back by the fd store at start-up (LISTEN_FDS / LISTEN_FDNAMES), by FDNAME. The
   * manager takes ownership of all of them: it keeps those that are its arenas' files (checked
   * like a reattach) and closes the rest.
   */
  readonly inheritedFds?: ReadonlyMap<string, Fd>;
  /** Ages the idempotency entries (default: the real clock; tests pass a ManualClock). */
  readonly clock?: Clock;
}

/** Which arenas and leases a change touched: their current state goes into the record. */
interface Changes {
  readonly arenas?: readonly string[];
  readonly leases?: readonly string[];
  readonly policy?: boolean;
}

/** The idempotency slot of one call: turns its result into the entry journaled with it. */
interface IdemSlot {
  entry(result: object): IdempotencyEntry | undefined;
}

const NO_IDEM: IdemSlot = { entry: () => undefined };

function fileKindOf(fdType: FdType): FileKind {
  return fdType === "guest_memfd" ? "guest_memfd" : fdType === "memfd-hugetlb" ? "memfd-hugetlb" : "memfd";
}

function byteLength(text: string): number {
  return Buffer.byteLength(text, "utf8");
}

function sum(values: Iterable<number>): number {
  let total = 0;
  for (const v of values) total += v;
  return total;
}

export class PoolManager implements PoolDaemon {
  readonly #config: DaemonConfig;
  readonly #kernel: KernelPort;
  readonly #logger: Logger;
  readonly #journalDir: string;
  readonly #timer = new KernelTimer();
  readonly #startTimeOf: (pid: number) => bigint | undefined;
  readonly #version: string;
  readonly #reserve: ReserveBackend;
  readonly #executor: PlanExecutor;
  readonly #deferredPunch: DeferredReservePunch | undefined;
  readonly #idempotency: IdempotencyStore;
  readonly #events: EventHub;
  readonly #peers: PeerTracker;
  readonly #arenaMeta = new Map<string, ArenaMeta>();
  readonly #leaseMeta = new Map<string, LeaseMeta>();
  readonly #arenaFds = new Map<string, Fd[]>();
  /** `fileKey(identity)` -> the arena a call in flight is making that file's (see the header). */
  readonly #fileClaims = new Map<string, string>();
  readonly #deleting = new Set<string>();
  readonly #goneOwners = new Set<string>();
  readonly #inflight = new Map<string, Set<Promise<unknown>>>();
  readonly #startTime = new Date();
  readonly #fdStore: ArenaFdStore | undefined;
  readonly #inheritedFds: ReadonlyMap<string, Fd>;
  #pool: Pool;
  #journal: Journal<DurableState, JournalRecord> | undefined;
  #state: ServingState = "starting";
  #started: Promise<void> | undefined;
  #compacting = false;
  #deferredCapReached = false;
  #kvmCaps: KvmCapabilities | null | undefined;

  constructor(options: PoolManagerOptions) {
    const { config, kernel, logger } = options;
    this.#config = config;
    this.#kernel = kernel;
    this.#logger = logger;
    this.#journalDir = options.journalDir;
    this.#startTimeOf = options.processStartTime ?? readProcessStartTime;
    this.#version = options.daemonVersion ?? "0.0.0";
    this.#fdStore = options.fdStore;
    this.#inheritedFds = options.inheritedFds ?? new Map();
    this.#pool = new Pool({ capacityUnits: config.pool.capacityUnits, maxStepUnits: config.pool.maxStepUnits, policy: this.#configPolicy() });
    const mode = options.reserveMode ?? this.#resolveReserveMode(options.isRoot ?? process.getuid?.() === 0);
    const capacity = config.pool.capacityUnits;
    this.#reserve = mode === "gmem" ? new GmemReserve(kernel, this.#timer, logger, capacity) : mode === "hugetlb" ? new HugetlbReserve(kernel, this.#timer, logger, capacity) : new NoReserve();
    const reserve = this.#reserve;
    if (config.pool.reservePunch === "background" && reserve.mode !== "none" && reserve.handOutOrder === "arena-first") {
      this.#deferredPunch = new DeferredReservePunch((slots) => reserve.punchSlots(slots), logger, config.limits.kernelParallelism);
    }
    this.#executor = new PlanExecutor(kernel, reserve, this.#timer, logger, {
      parallelism: config.limits.kernelParallelism,
      conversionRetries: config.limits.conversionRetries,
      ...(this.#deferredPunch === undefined ? {} : { deferredPunch: this.#deferredPunch }),
    });
    this.#idempotency = new IdempotencyStore({ maxEntries: config.limits.requestIdEntries, retentionMs: config.limits.requestIdRetentionMs, clock: options.clock });
    this.#events = new EventHub({ bufferEvents: config.limits.watchBufferEvents, maxStreams: config.limits.watchStreams, statusIntervalMs: 1000, status: () => this.#status() });
    this.#peers = new PeerTracker(kernel, logger, (owner) => this.#ownerExited(owner));
  }

  // =============================================================================== lifecycle

  start(): Promise<void> {
    this.#started ??= this.#start();
    return this.#started;
  }

  async #start(): Promise<void> {
    const { journal, recovered } = await Journal.open<DurableState, JournalRecord>({ dir: this.#journalDir, fsync: this.#config.journal.fsync, logger: this.#logger });
    this.#journal = journal;
    try {
      const rebuilt = rebuild(recovered.snapshot, recovered.records, {
        capacityUnits: this.#config.pool.capacityUnits,
        maxStepUnits: this.#config.pool.maxStepUnits,
        initialPolicy: this.#pool.policy,
      });
      this.#pool = rebuilt.pool;
      for (const [id, meta] of rebuilt.arenas) this.#arenaMeta.set(id, meta);
      for (const [id, meta] of rebuilt.leases) this.#leaseMeta.set(id, meta);
      this.#idempotency.load(rebuilt.results);
      this.#logger.info({ arenas: this.#arenaMeta.size, leases: this.#leaseMeta.size, records: recovered.records.length, leasedUnits: this.#pool.reserve.leasedUnits, capacityUnits: this.#pool.capacityUnits }, "journal recovered");
      try {
        await this.#reserve.start(this.#pool.reserve.heldRuns());
      } catch (error) {
        throw new GmempoolError("failed-precondition", `cannot back the pool of ${this.#pool.capacityUnits} units with reserve "${this.#reserve.mode}": ${toGmempoolError(error, { what: `populate the ${this.#reserve.mode} reserve`, offset: 0n, length: BigInt(this.#pool.capacityUnits) * UNIT }).message}`, { cause: error });
      }
      await this.#adoptInheritedFds();
      // Owners recorded in the journal: still the same process? Otherwise their arenas go.
      for (const meta of this.#arenaMeta.values()) {
        if (this.#peers.isTracked(meta.ownerKey) || this.#goneOwners.has(meta.ownerKey)) continue;
        const now = this.#startTimeOf(meta.owner.pid);
        if (now === undefined || (meta.owner.startTimeTicks !== 0n && now !== meta.owner.startTimeTicks)) this.#ownerExited(meta.ownerKey);
        else this.#peers.track(meta.ownerKey, meta.owner.pid);
      }
      await journal.compact(() => this.#durableState());
    } catch (error) {
      await journal.close().catch(() => undefined);
      await this.#reserve.close().catch(() => undefined);
      throw error;
    }
    this.#state = "serving";
    this.#logger.info({ reserve: this.#reserve.mode, capacityUnits: this.#pool.capacityUnits }, "pool serving");
    this.#events.publish({ kind: "pool-status", status: this.#status() }, { owner: undefined, arenaId: undefined });
  }

  /**
   * Arena files the systemd fd store gave back: each is checked like a reattach (type, size,
   * memfd name, journaled identity), made close-on-exec (LISTEN_FDS fds are not), and the
   * kernel made to match the journal. An arena whose files do not all check out stays
   * DETACHED; leftovers are closed.
   */
  async #adoptInheritedFds(): Promise<void> {
    const remaining = new Map(this.#inheritedFds);
    for (const meta of this.#arenaMeta.values()) {
      const names = meta.files.map((_, side) => arenaFdName(meta.id, side));
      const fds = names.map((n) => remaining.get(n));
      for (const n of names) remaining.delete(n);
      if (fds.every((fd) => fd === undefined)) continue;
      const arena = this.#pool.arena(meta.id);
      const owned: Fd[] = [];
      try {
        if (fds.some((fd) => fd === undefined)) throw new GmempoolError("failed-precondition", `the fd store holds only some of arena "${meta.id}"'s files`);
        const files = this.#checkReattachedFds(meta, fds as Fd[], BigInt(arena.sizeUnits) * UNIT);
        await this.#withFilesClaimed(meta.id, files, meta.id, async () => {
          for (const fd of fds) owned.push(this.#kernel.dupCloexec(fd!));
          await this.#reconcile(arena, owned);
          this.#arenaMeta.set(meta.id, { ...meta, files });
          this.#arenaFds.set(meta.id, owned);
        });
        this.#logger.info({ arenaId: meta.id }, "arena reattached from the systemd fd store");
      } catch (error) {
        for (const fd of owned) this.#closeQuietly(fd);
        this.#logger.warn({ err: error, arenaId: meta.id }, "fd store: arena files not usable; the arena stays DETACHED");
        for (const name of names) this.#fdStore?.remove(name);
      } finally {
        for (const fd of fds) if (fd !== undefined) this.#closeQuietly(fd);
      }
    }
    for (const [name, fd] of remaining) {
      this.#logger.warn({ name }, "fd store: an fd that is no arena's file; closed");
      this.#closeQuietly(fd);
      this.#fdStore?.remove(name);
    }
  }

  #storeFds(arenaId: string, fds: readonly Fd[]): void {
    fds.forEach((fd, side) => this.#fdStore?.store(arenaFdName(arenaId, side), fd));
  }

  async reloadPolicy(update: PolicyUpdate): Promise<PolicyInfo> {
    this.#requireServing();
    const policy = this.#applyPoolPolicy(update);
    await this.#persist({ policy: true });
    this.#events.publish({ kind: "policy-changed", poolPolicy: policy, arenaOverride: undefined, source: "config" }, { owner: undefined, arenaId: undefined });
    this.#logger.info({ policy }, "policy reloaded from the configuration");
    return policy;
  }

  async drain(): Promise<void> {
    if (this.#state === "draining") return;
    this.#state = "draining";
    this.#events.drain();
    await Promise.allSettled([...this.#inflight.values()].flatMap((set) => [...set]));
    await this.#journal?.flush();
  }

  async close(): Promise<void> {
    await this.drain();
    this.#events.close();
    this.#peers.close();
    for (const fds of this.#arenaFds.values()) for (const fd of fds) this.#closeQuietly(fd);
    this.#arenaFds.clear();
    await this.#deferredPunch?.idle();
    await this.#reserve.close();
    await this.#journal?.close();
  }

  // =============================================================================== identity and fds

  identify(peer: PeerCredentials): Caller {
    const startTimeTicks = this.#startTimeOf(peer.pid) ?? 0n;
    const isAdmin = this.#config.admin.uids.includes(peer.uid) || this.#config.admin.gids.includes(peer.gid);
    return { uid: peer.uid, gid: peer.gid, pid: peer.pid, startTimeTicks, identity: `${peer.uid}:${peer.pid}:${startTimeTicks}`, isAdmin };
  }

  inspectFd(fd: Fd, claimed: FdType): FdInspection {
    const actual = this.#fdTypeOf(fd);
    if (actual.fdType !== claimed) throw new GmempoolError("invalid-argument", `the fd is ${actual.description}, not the claimed ${claimed}`);
    return { fdType: actual.fdType, sizeBytes: actual.size };
  }

  #fdTypeOf(fd: Fd): { fdType: FdType; size: bigint; link: string; description: string; file: FileIdentity } {
    let identity;
    try {
      identity = this.#kernel.identifyFd(fd);
    } catch (error) {
      throw toGmempoolError(error, { what: "identify the received fd", offset: 0n, length: 0n });
    }
    const file = { device: identity.device, inode: identity.inode };
    if (identity.kind === "guest_memfd") return { fdType: "guest_memfd", size: identity.size, link: identity.link, description: `a guest_memfd of ${identity.size} bytes`, file };
    if (identity.kind === "memfd") {
      const hugetlb = BigInt(identity.blockSize) === HUGETLB_PAGE_BYTES;
      return { fdType: hugetlb ? "memfd-hugetlb" : "memfd-shmem", size: identity.size, link: identity.link, description: `a ${hugetlb ? "hugetlb" : "shmem"} memfd of ${identity.size} bytes`, file };
    }
    throw new GmempoolError("invalid-argument", `the fd is not a guest_memfd or memfd (it is "${identity.link}")`);
  }

  // =============================================================================== reads

  getCapabilities(caller: Caller): Capabilities {
    const caps = this.#caps();
    const features: KernelFeature[] = [...this.#reserve.features];
    if (caps === undefined) {
      features.push({ name: "KVM_CAP_GUEST_MEMFD", available: false, detail: "/dev/kvm is not usable" });
    } else {
      features.push({ name: "KVM_CAP_GUEST_MEMFD", available: caps.guestMemfd, detail: `KVM_CHECK_EXTENSION = ${caps.guestMemfd ? 1 : 0}` });
      features.push({ name: "KVM_CAP_MEMORY_ATTRIBUTES", available: caps.memoryAttributes !== 0n, detail: `KVM_CHECK_EXTENSION = ${caps.memoryAttributes}` });
      features.push({ name: "GUEST_MEMFD_FLAG_MMAP", available: (caps.guestMemfdFlags & 1n) !== 0n, detail: `KVM_CAP_GUEST_MEMFD_FLAGS = ${caps.guestMemfdFlags}` });
      features.push({ name: "KVM_SET_MEMORY_ATTRIBUTES2", available: caps.inPlaceConversion.state === "usable", detail: caps.inPlaceConversion.state === "absent" ? "ENOTTY" : caps.inPlaceConversion.state === "unusable" ? "EINVAL on every VM type" : `VM types ${caps.inPlaceConversion.vmTypes.join(", ")}` });
    }
    const gmem = caps?.guestMemfd === true;
    return {
      daemonVersion: this.#version,
      unitBytes: UNIT,
      pageBytes: PAGE,
      reserveMode: this.#reserve.mode,
      arenaKinds: gmem ? ["guest_memfd", "memfd", "pair"] : ["memfd"],
      memfdBackings: this.#reserve.mode === "hugetlb" ? ["shmem", "hugetlb"] : ["shmem"],
      conversionModes: caps?.inPlaceConversion.state === "usable" ? ["in-place", "notify"] : ["notify"],
      kernelFeatures: features,
      requestIdRetentionMs: this.#idempotency.retentionMs,
      caller: { uid: caller.uid, gid: caller.gid, pid: caller.pid, startTimeTicks: caller.startTimeTicks },
      callerIsAdmin: caller.isAdmin,
    };
  }

  getPoolStatus(_caller: Caller): PoolStatus {
    return this.#status();
  }

  getArena(caller: Caller, arenaId: string): ArenaInfo {
    if (arenaId === "") throw new GmempoolError("invalid-argument", "arena_id is empty");
    return this.#arenaInfo(this.#visibleArena(caller, arenaId));
  }

  listArenas(caller: Caller, request: ListRequest): ArenaInfo[] {
    this.#requireAdminFor(caller, request.allOwners);
    return [...this.#pool.arenas()].filter((a) => request.allOwners || a.owner === caller.identity).sort(byId).map((a) => this.#arenaInfo(a));
  }

  getLease(caller: Caller, leaseId: string): LeaseInfo {
    if (leaseId === "") throw new GmempoolError("invalid-argument", "lease_id is empty");
    return this.#leaseInfo(this.#visibleLease(caller, leaseId));
  }

  listLeases(caller: Caller, request: ListLeasesRequest): LeaseInfo[] {
    this.#requireAdminFor(caller, request.allOwners);
    const arenas = request.arenaId === "" ? [...this.#pool.arenas()].filter((a) => request.allOwners || a.owner === caller.identity) : [this.#visibleArena(caller, request.arenaId)];
    return arenas.sort(byId).flatMap((a) => [...a.leases.values()].sort((x, y) => x.start - y.start).map((l) => this.#leaseInfo(l)));
  }

  getFragmentationMap(caller: Caller, request: GetFragmentationMapRequest): FragmentationMap {
    this.#requireAdminFor(caller, request.allOwners);
    const ids = request.arenaId === "" ? [...this.#pool.arenas()].filter((a) => request.allOwners || a.owner === caller.identity).map((a) => a.id) : [this.#visibleArena(caller, request.arenaId).id];
    return { arenas: unitMaps(this.#pool, new Set(ids)), reserve: reserveMap(this.#pool, this.#reserve.mode), kernelBuddyZones: readBuddyInfo(), time: new Date() };
  }

  getPolicy(caller: Caller): PolicyView {
    const overrides = [...this.#pool.arenas()]
      .filter((a) => (caller.isAdmin || a.owner === caller.identity) && (a.policy.discard !== undefined || a.policy.punchGranularityBytes !== undefined))
      .sort(byId)
      .map(arenaOverride);
    return { poolPolicy: policyInfo(this.#pool.policy), arenaOverrides: overrides };
  }

  watch(caller: Caller, request: WatchRequest): WatchStream {
    if (request.kinds.some((k) => k === undefined)) throw new GmempoolError("invalid-argument", "kinds contains POOL_EVENT_KIND_UNSPECIFIED");
    this.#requireAdminFor(caller, request.allOwners);
    if (request.arenaId !== "") this.#visibleArena(caller, request.arenaId);
    return this.#events.open(caller, request);
  }

  servingState(): ServingState {
    return this.#state;
  }

  metrics(): DaemonMetrics {
    const pool = this.#pool;
    return {
      capacityUnits: pool.capacityUnits,
      freeUnits: pool.reserve.freeUnits,
      claimedUnits: pool.reserve.claimedUnits,
      leasedUnits: pool.reserve.leasedUnits,
      splitUnits: pool.splitUnits,
      deferredBytes: BigInt(pool.deferredBytes),
      arenaCount: this.#arenaMeta.size,
      leaseCount: this.#leaseCount(),
      reserveHeldTwiceUnits: this.reserveHeldTwiceUnits,
      kernelDriftCount: this.#executor.driftCount,
      arenas: [...pool.arenas()].map((a) => {
        const info = this.#arenaInfo(a);
        return { arenaId: a.id, owner: a.owner, unitCount: a.sizeUnits, leasedUnitCount: info.leasedUnitCount, populatedUnitCount: sum(info.files.map((f) => f.populatedUnitCount)) };
      }),
    };
  }

  observeKernelCalls(observer: KernelCallObserver): () => void {
    return this.#timer.observe(observer);
  }

  // =============================================================================== arenas

  registerGuestMemfdArena(caller: Caller, request: RegisterGuestMemfdArenaRequest): Promise<ArenaResult> {
    const { gmemFd, ...fields } = request;
    return this.#mutate(caller, "RegisterGuestMemfdArena", request, fields, async (idem) => {
      const sizeUnits = this.#arenaSize(request.sizeBytes);
      if (request.initialVisibility === undefined) throw new GmempoolError("invalid-argument", "initial_visibility is unspecified");
      this.#checkName(request.name, "name");
      this.#checkArenaLimit(caller);
      const gmem: ArenaFileMeta = { fdType: "guest_memfd", memfdName: "", ...this.#checkReceivedFd(gmemFd, "guest_memfd", request.sizeBytes) };
      const { initialVisibility } = request;
      const id = freshId("arena");
      return this.#withFilesClaimed(id, [gmem], undefined, () => this.#createArena(caller, idem, {
        id, name: request.name, kind: "guest_memfd", sizeUnits, initialVisibility,
        files: [gmem], received: [gmemFd], deliver: undefined,
      }));
    });
  }

  createMemfdArena(caller: Caller, request: CreateMemfdArenaRequest): Promise<ArenaResult> {
    const { deliver, ...fields } = request;
    return this.#mutate(caller, "CreateMemfdArena", request, fields, async (idem) => {
      const sizeUnits = this.#arenaSize(request.sizeBytes);
      const fdType = this.#memfdType(request.backing, "backing");
      this.#checkName(request.name, "name");
      this.#checkArenaLimit(caller);
      const id = freshId("arena");
      return this.#createArena(caller, idem, {
        id, name: request.name, kind: "memfd", sizeUnits, initialVisibility: "shared",
        files: [{ fdType, memfdName: `gmempool:${id}` }], received: [], deliver,
      });
    }, (result) => this.#redeliver(result.arena.arenaId, deliver));
  }

  createArenaPair(caller: Caller, request: CreateArenaPairRequest): Promise<ArenaResult> {
    const { gmemFd, deliver, ...fields } = request;
    return this.#mutate(caller, "CreateArenaPair", request, fields, async (idem) => {
      const sizeUnits = this.#arenaSize(request.sizeBytes);
      const fdType = this.#memfdType(request.sharedBacking, "shared_backing");
      if (request.initialVisibility === undefined) throw new GmempoolError("invalid-argument", "initial_visibility is unspecified");
      this.#checkName(request.name, "name");
      this.#checkArenaLimit(caller);
      const gmem: ArenaFileMeta = { fdType: "guest_memfd", memfdName: "", ...this.#checkReceivedFd(gmemFd, "guest_memfd", request.sizeBytes) };
      const { initialVisibility } = request;
      const id = freshId("arena");
      return this.#withFilesClaimed(id, [gmem], undefined, () => this.#createArena(caller, idem, {
        id, name: request.name, kind: "pair", sizeUnits, initialVisibility,
        files: [gmem, { fdType, memfdName: `gmempool:${id}` }], received: [gmemFd], deliver,
      }));
    }, (result) => this.#redeliver(result.arena.arenaId, deliver));
  }

  /**
   * Makes an arena: dups the received fds, creates the daemon's memfd (if any), makes the kernel
   * match the record (nothing populated: a registered file is punched whole), delivers the
   * memfd, registers it in the pool, journals it. Any failure undoes all of it. The received
   * files come checked and claimed (`#withFilesClaimed`), their identity in `files`; the
   * memfd's identity is read here.
   */
  async #createArena(caller: Caller, idem: IdemSlot, spec: {
    id: string; name: string; kind: ArenaKind; sizeUnits: number; initialVisibility: Visibility;
    files: readonly ArenaFileMeta[]; received: Fd[]; deliver: FdDelivery | undefined;
  }): Promise<Omit<ArenaResult, "replayed">> {
    const sizeBytes = BigInt(spec.sizeUnits) * UNIT;
    const owned: Fd[] = [];
    let files = spec.files;
    let registered = false;
    try {
      for (const fd of spec.received) owned.push(this.#kernel.dupCloexec(fd));
      const memfdSpec = spec.files.find((f) => f.fdType !== "guest_memfd");
      let memfd: Fd | undefined;
      if (memfdSpec !== undefined) {
        memfd = this.#kernel.memfdCreate(memfdSpec.memfdName, memfdSpec.fdType === "memfd-hugetlb" ? "hugetlb-2m" : "shmem");
        owned.push(memfd);
        this.#kernel.ftruncate(memfd, sizeBytes);
        const { file } = this.#fdTypeOf(memfd);
        files = spec.files.map((f) => (f === memfdSpec ? { ...f, ...file } : f));
      }
      // A received file holds nothing the pool accounts for: make the kernel match.
      for (const fd of owned) await this.#fallocate(fd, FALLOCATE_PUNCH, 0n, sizeBytes);
      this.#pool.registerArena(caller.identity, { id: spec.id, sizeBytes: Number(sizeBytes), files: spec.files.map((f) => fileKindOf(f.fdType)) });
      registered = true;
      if (memfd !== undefined && spec.deliver !== undefined) {
        try {
          await spec.deliver(memfd, { fdType: memfdSpec!.fdType, sizeBytes });
        } catch (error) {
          throw new GmempoolError("failed-precondition", `the memfd could not be delivered on the fd channel: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
        }
      }
    } catch (error) {
      if (registered) this.#pool.unregisterArena(caller.identity, spec.id);
      for (const fd of owned) this.#closeQuietly(fd);
      throw toGmempoolError(error, { what: `prepare arena file for "${spec.id}"`, offset: 0n, length: sizeBytes });
    }
    const meta: ArenaMeta = {
      id: spec.id, name: spec.name, kind: spec.kind,
      owner: { uid: caller.uid, gid: caller.gid, pid: caller.pid, startTimeTicks: caller.startTimeTicks },
      ownerKey: caller.identity, initialVisibility: spec.initialVisibility, files, createTime: Date.now(),
    };
    this.#arenaMeta.set(spec.id, meta);
    this.#arenaFds.set(spec.id, owned);
    this.#storeFds(spec.id, owned);
    this.#peers.track(caller.identity, caller.pid);
    const arena = this.#arenaInfo(this.#pool.arena(spec.id));
    await this.#persist({ arenas: [spec.id] }, idem.entry({ arena }));
    this.#events.publish({ kind: "arena-created", arena }, { owner: caller.identity, arenaId: spec.id });
    this.#logger.info({ arenaId: spec.id, kind: spec.kind, units: spec.sizeUnits, owner: caller.identity }, "arena created");
    return { arena };
  }

  /** Idempotent replay of a create: the retrying client gets the memfd again on its new token. */
  async #redeliver(arenaId: string, deliver: FdDelivery): Promise<void> {
    const meta = this.#arenaMeta.get(arenaId);
    const fds = this.#arenaFds.get(arenaId);
    if (meta === undefined || fds === undefined) return;
    const side = meta.files.findIndex((f) => f.fdType !== "guest_memfd");
    if (side < 0) return;
    try {
      await deliver(fds[side]!, { fdType: meta.files[side]!.fdType, sizeBytes: BigInt(this.#pool.arena(arenaId).sizeUnits) * UNIT });
    } catch (error) {
      throw new GmempoolError("failed-precondition", `the memfd could not be delivered on the fd channel: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    }
  }

  reattachArena(caller: Caller, request: ReattachArenaRequest): Promise<ArenaResult> {
    const { gmemFd, memfdFd, ...fields } = request;
    return this.#mutate(caller, "ReattachArena", request, fields, async (idem) => {
      const arena = this.#ownedArena(caller, request.arenaId);
      const meta = this.#arenaMeta.get(arena.id)!;
      if (this.#deleting.has(arena.id) || this.#arenaFds.has(arena.id)) throw new GmempoolError("failed-precondition", `arena "${arena.id}" is ${this.#arenaState(arena.id).toUpperCase()}, not DETACHED`);
      const needsGmem = meta.files.some((f) => f.fdType === "guest_memfd");
      const needsMemfd = meta.files.some((f) => f.fdType !== "guest_memfd");
      if (needsGmem !== (gmemFd !== undefined)) throw new GmempoolError("invalid-argument", needsGmem ? `arena "${arena.id}" (${meta.kind}) needs gmem_fd_token` : `arena "${arena.id}" (${meta.kind}) has no guest_memfd: gmem_fd_token must be empty`);
      if (needsMemfd !== (memfdFd !== undefined)) throw new GmempoolError("invalid-argument", needsMemfd ? `arena "${arena.id}" (${meta.kind}) needs memfd_fd_token` : `arena "${arena.id}" (${meta.kind}) has no memfd: memfd_fd_token must be empty`);
      const sizeBytes = BigInt(arena.sizeUnits) * UNIT;
      const received = meta.files.map((f) => (f.fdType === "guest_memfd" ? gmemFd! : memfdFd!));
      const checked = this.#checkReattachedFds(meta, received, sizeBytes);
      if ([...this.#fileClaims.values()].includes(arena.id)) throw new GmempoolError("conflict", `arena "${arena.id}" is being reattached by a call in flight`);
      return this.#withFilesClaimed(arena.id, checked, arena.id, async () => {
        const owned: Fd[] = [];
        try {
          for (const fd of received) owned.push(this.#kernel.dupCloexec(fd));
          await this.#reconcile(arena, owned);
        } catch (error) {
          for (const fd of owned) this.#closeQuietly(fd);
          throw toGmempoolError(error, { what: `reattach arena "${arena.id}"`, offset: 0n, length: sizeBytes });
        }
        // Journaled with the reattach: an arena from an older journal learns its files' identity.
        this.#arenaMeta.set(arena.id, { ...meta, files: checked });
        this.#arenaFds.set(arena.id, owned);
        this.#storeFds(arena.id, owned);
        const info = this.#arenaInfo(arena);
        await this.#persist({ arenas: [arena.id] }, idem.entry({ arena: info }));
        this.#events.publish({ kind: "arena-state-changed", arena: info }, { owner: arena.owner, arenaId: arena.id });
        this.#logger.info({ arenaId: arena.id }, "arena reattached");
        return { arena: info };
      });
    });
  }

  /**
   * The files offered back to a DETACHED arena (reattach, systemd fd store; fds borrowed), side
   * by side: each must be the file the journal records — its type, its size, a memfd's
   * `gmempool:<id>` name, and its (st_dev, st_ino) when journaled. An arena journaled before
   * identities were recorded can only be given a file of the right type and size that is no
   * other arena's (`#withFilesClaimed`). Returns the sides with the received identities (to
   * journal).
   */
  #checkReattachedFds(meta: ArenaMeta, received: readonly Fd[], sizeBytes: bigint): ArenaFileMeta[] {
    return meta.files.map((f, side) => ({ ...f, ...this.#checkReceivedFd(received[side]!, f.fdType, sizeBytes, { arenaId: meta.id, file: f }) }));
  }

  /**
   * Runs `work` (making or reattaching arena `arenaId`) with `files` claimed: each must be no
   * other arena's (`except`: the arena being reattached) and in no other call's claim. The
   * claims go when `work` settles; by then the arena's metadata records the files (or the
   * call failed and they are nobody's). Claiming is synchronous, so two calls racing with one
   * file cannot both pass (no lock across an await: DESIGN.md §5).
   */
  async #withFilesClaimed<R>(arenaId: string, files: readonly ArenaFileMeta[], except: string | undefined, work: () => Promise<R>): Promise<R> {
    const keys: string[] = [];
    for (const f of files) {
      if (f.device === undefined || f.inode === undefined) continue;
      this.#checkFileIsFree(f.fdType, { device: f.device, inode: f.inode }, except);
      keys.push(fileKey({ device: f.device, inode: f.inode }));
    }
    for (const key of keys) this.#fileClaims.set(key, arenaId);
    try {
      return await work();
    } finally {
      for (const key of keys) this.#fileClaims.delete(key);
    }
  }

  /**
   * pool.proto: a file is at most one arena's. Every arena that records it counts, whoever owns
   * it (the caller holds the file itself, but is not told which arena has it): ACTIVE
   * (the daemon works in it), DELETING (its leases are still being punched in it) and DETACHED
   * (its owner still holds the file for ReattachArena; registering it again would punch the
   * pages the arena's leases hold). A DETACHED arena's identity could outlive a file its owner
   * closed, but inode numbers come from counters (alloc_anon_inode: get_next_ino(), 32 bits;
   * shmem_reserve_inode: the superblock's next_ino): another file gets the number only after
   * one wraps. A file a call in flight is making an arena's is a conflict.
   */
  #checkFileIsFree(fdType: FdType, file: FileIdentity, except?: string): void {
    const what = `this ${fdType === "guest_memfd" ? "guest_memfd" : "memfd"} (device ${file.device}, inode ${file.inode})`;
    for (const meta of this.#arenaMeta.values()) {
      if (meta.id !== except && meta.files.some((f) => f.device === file.device && f.inode === file.inode)) {
        // The message does not name the arena: it may be another owner's, and ids of other
        // owners' arenas are never told (invariant 5); the log tells the operator.
        this.#logger.info({ arenaId: meta.id, device: file.device, inode: file.inode }, "refused: the file is already this arena's");
        throw new GmempoolError("failed-precondition", `${what} is already an arena (one file backs at most one arena)`);
      }
    }
    const claimant = this.#fileClaims.get(fileKey(file));
    if (claimant !== undefined && claimant !== except) throw new GmempoolError("conflict", `${what} is being made an arena by a call in flight`);
  }

  /**
   * The "reattach" flow: after a restart the arena's files may hold more or less than the
   * journal says (a plan in flight at the crash). Populate what the record says is populated,
   * punch everything else, side by side.
   */
  async #reconcile(arena: Arena, fds: readonly Fd[]): Promise<void> {
    const sizeBytes = arena.sizeUnits * UNIT_BYTES;
    for (let side = 0 as Side; side < arena.sides; side++) {
      const fd = fds[side]!;
      const runs: [number, number][] = [];
      for (const lease of [...arena.leases.values()].sort((a, b) => a.start - b.start)) {
        const base = lease.start * UNIT_BYTES;
        for (const [s, e] of lease.pages.runs(0, lease.unitCount * 512, populatedPredicate(side))) runs.push([base + s * PAGE_BYTES, base + e * PAGE_BYTES]);
      }
      let cursor = 0;
      for (const [s, e] of [...runs, [sizeBytes, sizeBytes] as [number, number]]) {
        if (s > cursor) await this.#fallocate(fd, FALLOCATE_PUNCH, BigInt(cursor), BigInt(s - cursor));
        if (e > s) await this.#fallocate(fd, FALLOCATE_POPULATE, BigInt(s), BigInt(e - s));
        cursor = e;
      }
    }
  }

  deleteArena(caller: Caller, request: DeleteArenaRequest): Promise<DeleteArenaResult> {
    return this.#mutate(caller, "DeleteArena", request, request, async (idem) => {
      const arena = this.#ownedArena(caller, request.arenaId);
      if (arena.leases.size > 0 && !request.releaseLeases) {
        throw new GmempoolError("failed-precondition", `arena "${arena.id}" still has ${arena.leases.size} lease(s); set release_leases to release them`);
      }
      if (!this.#arenaFds.has(arena.id) && arena.leases.size > 0) {
        throw new GmempoolError("failed-precondition", `arena "${arena.id}" is DETACHED: its leases cannot be punched without its file (ReattachArena first)`);
      }
      const r = await this.#deleteArena(arena, "client", idem);
      return { releasedLeaseCount: r.leases, releasedUnitCount: r.units };
    });
  }

  /**
   * Deletes an arena: DELETING (no new mutations), waits for its plans in flight, releases its
   * leases one by one (each journaled), closes its fds, journals the deletion. A failed release
   * leaves the arena DELETING and throws; calling again continues.
   */
  async #deleteArena(arena: Arena, reason: ReleaseReason, idem: IdemSlot): Promise<{ leases: number; units: number }> {
    const id = arena.id;
    const meta = this.#arenaMeta.get(id)!;
    if (!this.#deleting.has(id)) {
      this.#deleting.add(id);
      this.#events.publish({ kind: "arena-state-changed", arena: this.#arenaInfo(arena) }, { owner: arena.owner, arenaId: id });
    }
    await this.#settled(id);
    let leases = 0;
    let units = 0;
    for (const lease of [...arena.leases.values()]) {
      const r = await this.#releaseLease(lease, reason, NO_IDEM);
      units += r.units;
      if (r.error !== undefined) throw new GmempoolError("internal", `deleting arena "${id}": ${r.error.message}; ${leases} lease(s) released before; retry to continue`, { cause: r.error });
      leases++;
    }
    const fds = this.#arenaFds.get(id) ?? [];
    this.#arenaFds.delete(id);
    for (const fd of fds) this.#closeQuietly(fd);
    meta.files.forEach((_, side) => this.#fdStore?.remove(arenaFdName(id, side)));
    this.#pool.unregisterArena(arena.owner, id);
    this.#arenaMeta.delete(id);
    this.#deleting.delete(id);
    this.#inflight.delete(id);
    const result = { releasedLeaseCount: leases, releasedUnitCount: units };
    const durable = this.#persist({ arenas: [id] }, idem.entry(result));
    if (![...this.#arenaMeta.values()].some((m) => m.ownerKey === meta.ownerKey)) {
      this.#peers.untrack(meta.ownerKey);
      this.#goneOwners.delete(meta.ownerKey);
    }
    await durable;
    this.#events.publish({ kind: "arena-deleted", arenaId: id, owner: meta.owner, releasedLeaseCount: leases, releasedUnitCount: units, reason }, { owner: meta.ownerKey, arenaId: id });
    this.#logger.info({ arenaId: id, leases, units, reason }, "arena deleted");
    return { leases, units };
  }

  // =============================================================================== leases

  allocate(caller: Caller, request: AllocateRequest): Promise<AllocateResult> {
    return this.#mutate(caller, "Allocate", request, request, async (idem) => {
      const arena = this.#ownedArena(caller, request.arenaId);
      this.#requireActive(arena);
      if (!Number.isSafeInteger(request.unitCount) || request.unitCount < 1 || request.unitCount > 0xffffffff) throw new GmempoolError("invalid-argument", `unit_count must be at least 1, got ${request.unitCount}`);
      this.#checkName(request.label, "label");
      let offsetUnits: number | undefined;
      if (request.offsetBytes !== undefined) {
        if (request.offsetBytes % UNIT !== 0n) throw new GmempoolError("invalid-argument", `offset_bytes ${request.offsetBytes} is not a multiple of 2 MiB`);
        const end = request.offsetBytes + BigInt(request.unitCount) * UNIT;
        if (end > BigInt(arena.sizeUnits) * UNIT) throw new GmempoolError("invalid-argument", `placement [${request.offsetBytes}, ${end}) passes the end of arena "${arena.id}" (${BigInt(arena.sizeUnits) * UNIT} bytes)`);
        offsetUnits = Number(request.offsetBytes / UNIT);
      }
      const meta = this.#arenaMeta.get(arena.id)!;
      const leaseId = freshId("lease");
      const plan = this.#poolCall(() => this.#pool.allocate(arena.owner, { arenaId: arena.id, unitCount: request.unitCount, initiallyPrivate: meta.initialVisibility === "private", ...(offsetUnits === undefined ? {} : { offsetUnits }) }, leaseId));
      this.#leaseMeta.set(leaseId, { id: leaseId, label: request.label, createTime: Date.now() });
      const outcome = await this.#track(arena.id, this.#executor.execute(plan, this.#environment(plan)));
      if (outcome.failed.length === 0) {
        let lease: LeaseInfo | undefined;
        const durable = this.#commit(plan, outcome, { leases: [leaseId] }, () => {
          lease = this.#leaseInfo(this.#pool.lease(leaseId));
          return idem.entry({ lease });
        });
        await durable;
        this.#events.publish({ kind: "lease-allocated", lease: lease! }, { owner: arena.owner, arenaId: arena.id });
        return { lease: lease! };
      }
      // All or nothing: give back what was populated before the error returns.
      const first = outcome.failures[0]!.error;
      const durable = this.#commit(plan, outcome, { leases: [leaseId] });
      await durable;
      const undo = await this.#releaseLease(this.#pool.lease(leaseId), "client", NO_IDEM, false);
      if (undo.error !== undefined) {
        throw new GmempoolError("internal", `${first.message}; undoing the allocation also failed (${undo.error.message}): lease "${leaseId}" is left FAILED holding its populated units, release it`, { cause: first });
      }
      throw first;
    });
  }

  release(caller: Caller, request: ReleaseRequest): Promise<ReleaseResult> {
    return this.#mutate(caller, "Release", request, request, async (idem) => {
      if (request.leaseId === "") throw new GmempoolError("invalid-argument", "lease_id is empty");
      const lease = this.#ownedLease(caller, request.leaseId);
      const arena = this.#pool.arena(lease.arenaId);
      this.#requireActive(arena);
      const r = await this.#releaseLease(lease, "client", idem);
      if (r.error !== undefined) throw r.error;
      return { releasedUnitCount: r.units };
    });
  }

  /**
   * Releases one lease: plan, kernel, commit, record. Units whose punch failed stay in the
   * lease (FAILED), and the error names them; what was punched is back in the reserve.
   */
  async #releaseLease(lease: Lease, reason: ReleaseReason, idem: IdemSlot, publish = true): Promise<{ units: number; error?: GmempoolError }> {
    const arena = this.#pool.arena(lease.arenaId);
    const plan = this.#poolCall(() => this.#pool.forceRelease(lease.id));
    const outcome = await this.#track(arena.id, this.#executor.execute(plan, this.#environment(plan)));
    const units = this.#unitsReturned(plan, outcome);
    const released = outcome.failed.length === 0;
    const durable = this.#commit(plan, outcome, { leases: [lease.id] }, () => (released ? idem.entry({ releasedUnitCount: units }) : undefined));
    if (released) this.#leaseMeta.delete(lease.id);
    await durable;
    if (!released) {
      const first = outcome.failures[0]!.error;
      return { units, error: new GmempoolError("internal", `release of lease "${lease.id}": ${first.message}; ${units} unit(s) returned before the failure, the lease keeps the rest; retry Release to continue`, { cause: first }) };
    }
    if (publish) this.#events.publish({ kind: "lease-released", leaseId: lease.id, arenaId: arena.id, releasedUnitCount: units, reason }, { owner: arena.owner, arenaId: arena.id });
    return { units };
  }

  discard(caller: Caller, request: ArenaRangeRequest): Promise<DiscardResult> {
    return this.#mutate(caller, "Discard", request, request, async (idem) => {
      const { arena, segments } = this.#rangeSegments(caller, request, "discard");
      let plans: Plan[];
      try {
        plans = this.#planSegments(segments, (s) => this.#pool.discard(arena.owner, s));
      } catch (error) {
        throw this.#explainReject(arena, request, error);
      }
      const outcomes = await this.#track(arena.id, Promise.all(plans.map((p) => this.#executor.execute(p, this.#environment(p)))));
      let result: Omit<DiscardResult, "replayed"> | undefined;
      const durable = this.#commitAll(plans, outcomes, () => {
        let punched = 0;
        plans.forEach((plan, i) => plan.steps.forEach((step, j) => {
          if (step.op === "punch" && !outcomes[i]!.failed.includes(j)) punched += step.bytes.end - step.bytes.start;
        }));
        const policies = plans.map((p) => p.discard?.policy).filter((p) => p !== undefined && p !== "none");
        result = {
          punchedBytes: BigInt(punched),
          releasedUnitCount: sum(plans.map((p, i) => this.#unitsReturned(p, outcomes[i]!))),
          zeroedBytes: BigInt(sum(plans.map((p) => p.discard?.zeroedBytes ?? 0))),
          deferredBytes: BigInt(sum(plans.map((p) => p.discard?.deferredBytes ?? 0))),
          appliedPolicy: policies[0],
        };
        return this.#failedOf(outcomes) === undefined ? idem.entry(result) : undefined;
      });
      await durable;
      this.#throwIfFailed(outcomes);
      const r = result!;
      this.#events.publish({ kind: "range-discarded", arenaId: arena.id, offsetBytes: request.offsetBytes, lengthBytes: request.lengthBytes, punchedBytes: r.punchedBytes, releasedUnitCount: r.releasedUnitCount, zeroedBytes: r.zeroedBytes, deferredBytes: r.deferredBytes }, { owner: arena.owner, arenaId: arena.id });
      this.#checkDeferredCap();
      return r;
    });
  }

  populate(caller: Caller, request: ArenaRangeRequest): Promise<PopulateResult> {
    return this.#mutate(caller, "Populate", request, request, async (idem) => {
      const { arena, segments } = this.#rangeSegments(caller, request, "populate");
      const restoredPages = sum(segments.map((s) => {
        const lease = this.#pool.lease(s.leaseId);
        const first = (s.offsetBytes - lease.start * UNIT_BYTES) / PAGE_BYTES;
        return lease.pages.count(first, first + s.lengthBytes / PAGE_BYTES, (_p, d) => d);
      }));
      const plans = this.#planSegments(segments, (s) => this.#pool.populate(arena.owner, s));
      const outcomes = await this.#track(arena.id, Promise.all(plans.map((p) => this.#executor.execute(p, this.#environment(p)))));
      let result: Omit<PopulateResult, "replayed"> | undefined;
      const durable = this.#commitAll(plans, outcomes, () => {
        result = { populatedUnitCount: sum(plans.map((p, i) => this.#unitsTaken(p, outcomes[i]!))), restoredBytes: BigInt(restoredPages) * PAGE };
        return this.#failedOf(outcomes) === undefined ? idem.entry(result) : undefined;
      });
      await durable;
      this.#throwIfFailed(outcomes);
      const r = result!;
      this.#events.publish({ kind: "range-populated", arenaId: arena.id, offsetBytes: request.offsetBytes, lengthBytes: request.lengthBytes, populatedUnitCount: r.populatedUnitCount }, { owner: arena.owner, arenaId: arena.id });
      this.#checkDeferredCap();
      return r;
    });
  }

  convert(caller: Caller, request: ConvertRequest): Promise<ConvertResult> {
    return this.#mutate(caller, "Convert", request, request, async (idem) => {
      if (request.toVisibility === undefined) throw new GmempoolError("invalid-argument", "to_visibility is unspecified");
      if (request.mode === undefined) throw new GmempoolError("invalid-argument", "mode is unspecified");
      const { arena, segments } = this.#rangeSegments(caller, request, "convert");
      const meta = this.#arenaMeta.get(arena.id)!;
      const toPrivate = request.toVisibility === "private";
      if (meta.kind === "memfd") throw new GmempoolError("failed-precondition", `arena "${arena.id}" is a memfd arena: it has no private pages`);
      if (request.mode === "in-place") {
        if (meta.kind === "pair") throw new GmempoolError("failed-precondition", `arena "${arena.id}" is a guest_memfd + memfd pair: it converts out of place (mode notify), not in place`);
        if (this.#caps()?.inPlaceConversion.state !== "usable" && this.#caps()?.inPlaceConversion.state !== "unusable") {
          throw new GmempoolError("unimplemented", "in-place conversion needs KVM_SET_MEMORY_ATTRIBUTES2, which this kernel lacks (ENOTTY, or gmem_in_place_conversion off); use mode notify");
        }
      }
      if (request.contentIntent === "preserve" && meta.kind === "pair") {
        throw new GmempoolError("failed-precondition", `arena "${arena.id}" converts out of place: page contents are not carried between its guest_memfd and its memfd (content_intent PRESERVE cannot be honoured)`);
      }
      const convertedPages = sum(segments.map((s) => {
        const lease = this.#pool.lease(s.leaseId);
        const first = (s.offsetBytes - lease.start * UNIT_BYTES) / PAGE_BYTES;
        return lease.pages.count(first, first + s.lengthBytes / PAGE_BYTES, toPrivate ? (p) => ~p : (p) => p);
      }));
      const plans = this.#planSegments(segments, (s) => this.#pool.convert(arena.owner, { ...s, toPrivate, mode: request.mode! }));
      const outcomes = await this.#track(arena.id, Promise.all(plans.map((p) => this.#executor.execute(p, this.#environment(p)))));
      let result: Omit<ConvertResult, "replayed"> | undefined;
      const durable = this.#commitAll(plans, outcomes, (settled) => {
        let stalePunched = 0;
        plans.forEach((plan, i) => plan.steps.forEach((step, j) => {
          if (step.op === "punch" && !outcomes[i]!.failed.includes(j)) stalePunched += step.bytes.end - step.bytes.start;
        }));
        result = {
          convertedBytes: BigInt(convertedPages) * PAGE,
          populatedUnitCount: sum(plans.map((p, i) => this.#unitsTaken(p, outcomes[i]!))),
          stalePunchedBytes: BigInt(stalePunched),
          staleReleasedUnitCount: sum(plans.map((p, i) => this.#unitsReturned(p, outcomes[i]!))),
          collapsibleUnits: spans(settled.flatMap((r) => r.collapsibleUnits)),
        };
        return this.#failedOf(outcomes) === undefined ? idem.entry(result) : undefined;
      });
      await durable;
      this.#throwIfFailed(outcomes);
      this.#events.publish({ kind: "range-converted", arenaId: arena.id, offsetBytes: request.offsetBytes, lengthBytes: request.lengthBytes, toVisibility: request.toVisibility, mode: request.mode }, { owner: arena.owner, arenaId: arena.id });
      this.#checkDeferredCap();
      return result!;
    });
  }

  // =============================================================================== admin

  async setPolicy(caller: Caller, request: SetPolicyRequest): Promise<SetPolicyResult> {
    this.#requireAdmin(caller);
    return this.#mutate(caller, "SetPolicy", request, request, async (idem) => {
      if (request.discardPolicy !== undefined && !["reject", "zero", "defer"].includes(request.discardPolicy)) throw new GmempoolError("invalid-argument", "discard_policy is unspecified");
      if (request.arenaId === "") {
        if (request.clearArenaOverride) throw new GmempoolError("invalid-argument", "clear_arena_override needs an arena_id");
        const policy = this.#applyPoolPolicy(request);
        const result = { poolPolicy: policy, arenaOverride: undefined };
        await this.#persist({ policy: true }, idem.entry(result));
        this.#events.publish({ kind: "policy-changed", poolPolicy: policy, arenaOverride: undefined, source: "admin" }, { owner: undefined, arenaId: undefined });
        return result;
      }
      if (request.deferredCapBytes !== undefined || request.deferredOverflowPolicy !== undefined) {
        throw new GmempoolError("invalid-argument", "deferred_cap_bytes and deferred_overflow_policy are pool-wide: leave arena_id empty");
      }
      const arena = this.#visibleArena(caller, request.arenaId);
      const base = request.clearArenaOverride ? {} : arena.policy;
      const granularity = request.punchGranularityBytes === undefined ? base.punchGranularityBytes : this.#safeNumber(request.punchGranularityBytes, "punch_granularity_bytes");
      const discard = request.discardPolicy ?? base.discard;
      this.#poolCall(() => this.#pool.setArenaPolicy(arena.id, { ...(discard === undefined ? {} : { discard }), ...(granularity === undefined ? {} : { punchGranularityBytes: granularity }) }));
      const override = arenaOverride(arena);
      const result = { poolPolicy: policyInfo(this.#pool.policy), arenaOverride: override };
      await this.#persist({ arenas: [arena.id] }, idem.entry(result));
      this.#events.publish({ kind: "policy-changed", poolPolicy: result.poolPolicy, arenaOverride: override, source: "admin" }, { owner: arena.owner, arenaId: arena.id });
      this.#events.publish({ kind: "arena-state-changed", arena: this.#arenaInfo(arena) }, { owner: arena.owner, arenaId: arena.id });
      return result;
    });
  }

  async forceRelease(caller: Caller, request: ForceReleaseRequest): Promise<ForceReleaseResult> {
    this.#requireAdmin(caller);
    return this.#mutate(caller, "ForceRelease", request, request, async (idem) => {
      const target = request.target;
      if (target === undefined) throw new GmempoolError("invalid-argument", "no target set (lease_id, arena_id or owner_pid)");
      if (target.kind === "lease") {
        const lease = this.#visibleLease(caller, target.leaseId);
        const arena = this.#pool.arena(lease.arenaId);
        if (!this.#arenaFds.has(arena.id) && !this.#goneOwners.has(arena.owner)) throw new GmempoolError("failed-precondition", `arena "${arena.id}" of lease "${lease.id}" is DETACHED: its file must be reattached before the lease can be punched`);
        const r = await this.#releaseLease(lease, "force-release", { entry: (res) => idem.entry({ releasedLeaseCount: 1, deletedArenaCount: 0, releasedUnitCount: (res as { releasedUnitCount: number }).releasedUnitCount }) });
        if (r.error !== undefined) throw r.error;
        return { releasedLeaseCount: 1, deletedArenaCount: 0, releasedUnitCount: r.units };
      }
      const arenas = target.kind === "arena"
        ? [this.#visibleArena(caller, target.arenaId)]
        : [...this.#pool.arenas()].filter((a) => this.#arenaMeta.get(a.id)?.owner.pid === target.pid).sort(byId);
      if (arenas.length === 0) throw new GmempoolError("not-found", `no arena is owned by process ${target.kind === "owner-pid" ? target.pid : "?"}`);
      for (const arena of arenas) {
        if (!this.#arenaFds.has(arena.id) && arena.leases.size > 0 && !this.#goneOwners.has(arena.owner)) {
          throw new GmempoolError("failed-precondition", `arena "${arena.id}" is DETACHED: its file must be reattached before its leases can be punched`);
        }
      }
      let leases = 0;
      let units = 0;
      for (const [i, arena] of arenas.entries()) {
        const last = i === arenas.length - 1;
        const r = await this.#deleteArena(arena, "force-release", last ? { entry: (res) => idem.entry({ releasedLeaseCount: leases + (res as DeleteArenaResult).releasedLeaseCount, deletedArenaCount: arenas.length, releasedUnitCount: units + (res as DeleteArenaResult).releasedUnitCount }) } : NO_IDEM);
        leases += r.leases;
        units += r.units;
      }
      return { releasedLeaseCount: leases, deletedArenaCount: arenas.length, releasedUnitCount: units };
    });
  }

  // =============================================================================== owners

  /** The owner process is gone: release its leases and delete its arenas (reason owner-exited). */
  #ownerExited(owner: string): void {
    this.#goneOwners.add(owner);
    void this.#reapOwner(owner);
  }

  async #reapOwner(owner: string): Promise<void> {
    if (this.#state === "starting") await this.#started?.catch(() => undefined);
    if (this.#state === "draining") return;
    const arenas = [...this.#pool.arenas()].filter((a) => a.owner === owner).sort(byId);
    for (const arena of arenas) {
      if (!this.#deleting.has(arena.id)) {
        this.#deleting.add(arena.id);
        this.#events.publish({ kind: "arena-state-changed", arena: this.#arenaInfo(arena) }, { owner, arenaId: arena.id });
      }
    }
    let leases = 0;
    let units = 0;
    let identity = this.#arenaMeta.get(arenas[0]?.id ?? "")?.owner;
    for (const arena of arenas) {
      identity ??= this.#arenaMeta.get(arena.id)?.owner;
      try {
        const r = await this.#deleteArena(arena, "owner-exited", NO_IDEM);
        leases += r.leases;
        units += r.units;
      } catch (error) {
        this.#logger.error({ err: error, arenaId: arena.id, owner }, "owner exited: releasing its arena failed; retrying");
        setTimeout(() => void this.#reapOwner(owner), OWNER_CLEANUP_RETRY_MS).unref();
        return;
      }
    }
    if (identity !== undefined) {
      this.#events.publish({ kind: "owner-exited", owner: identity, deletedArenaCount: arenas.length, releasedLeaseCount: leases, releasedUnitCount: units }, { owner, arenaId: undefined });
    }
  }

  // =============================================================================== plans

  /** The environment of one plan's kernel steps: its arena's fds and its lease's record. */
  #environment(plan: Plan): StepEnvironment {
    const arena = this.#pool.arena(plan.arenaId);
    const lease = this.#pool.lease(plan.leaseId);
    const fds = this.#arenaFds.get(arena.id);
    const gone = this.#goneOwners.has(arena.owner);
    return {
      file: (side) => {
        if (fds === undefined) {
          if (gone) return "skip";
          throw new GmempoolError("failed-precondition", `arena "${arena.id}" is DETACHED`);
        }
        return { fd: fds[side]!, kind: arena.files[side]! };
      },
      populatedRuns: (side, start, end) => {
        const base = lease.start * UNIT_BYTES;
        return lease.pages.runs((start - base) / PAGE_BYTES, (end - base) / PAGE_BYTES, populatedPredicate(side)).map(([s, e]) => [base + s * PAGE_BYTES, base + e * PAGE_BYTES] as const);
      },
    };
  }

  /** Commits one plan and, in the same tick, appends the record of what it changed. */
  #commit(plan: Plan, outcome: ExecutionResult, changes: Changes, result?: (settled: PlanResult) => IdempotencyEntry | undefined): Promise<void> {
    const settled = this.#pool.commit(plan.id, outcome.failed);
    for (const failure of outcome.failures) this.#logger.warn({ planId: plan.id, kind: plan.kind, step: failure.index, err: failure.error }, "kernel step failed; plan settled without it");
    return this.#persist(changes, result?.(settled));
  }

  /** Commits several plans (one call over several leases) with one record. */
  #commitAll(plans: readonly Plan[], outcomes: readonly ExecutionResult[], result: (settled: PlanResult[]) => IdempotencyEntry | undefined): Promise<void> {
    const settled = plans.map((plan, i) => this.#pool.commit(plan.id, outcomes[i]!.failed));
    for (const [i, outcome] of outcomes.entries()) {
      for (const failure of outcome.failures) this.#logger.warn({ planId: plans[i]!.id, step: failure.index, err: failure.error }, "kernel step failed; plan settled without it");
    }
    return this.#persist({ leases: plans.map((p) => p.leaseId) }, result(settled));
  }

  /**
   * Plans one call over several leases. The first and last segments (the only ones with
   * sub-granule edges, hence the only ones a discard policy can reject) are planned first; if
   * any planning throws, the plans made so far are cancelled (Pool.cancel: no step of theirs
   * reached the kernel, so their page marks go too, not only their reserve slots as with abort)
   * and the error returns: a refused call changes nothing (pool.proto).
   */
  #planSegments(segments: readonly { leaseId: string; offsetBytes: number; lengthBytes: number }[], plan: (s: { leaseId: string; offsetBytes: number; lengthBytes: number }) => Plan): Plan[] {
    const order = segments.length <= 2 ? segments.map((_, i) => i) : [0, segments.length - 1, ...segments.slice(1, -1).map((_, i) => i + 1)];
    const plans = new Array<Plan>(segments.length);
    const made: Plan[] = [];
    try {
      for (const i of order) {
        const p = this.#poolCall(() => plan(segments[i]!));
        plans[i] = p;
        made.push(p);
      }
    } catch (error) {
      for (const p of made) this.#pool.cancel(p.id);
      throw error;
    }
    return plans;
  }

  /**
   * A discard rejected by policy — the arena's REJECT, or the overflow policy REJECT past the
   * deferred cap — names the enclosing granule boundaries (pool.proto, Discard): "discard
   * [0x1000, 0x3000) is inside [0x0, 0x200000); policy reject: discard whole units". The core
   * marks exactly those refusals with PolicyRejectError.
   */
  #explainReject(arena: Arena, request: ArenaRangeRequest, error: unknown): unknown {
    if (!(error instanceof PolicyRejectError)) return error;
    const g = BigInt(Math.max(this.#pool.granularityOf(arena), UNIT_BYTES));
    const start = request.offsetBytes;
    const end = start + request.lengthBytes;
    const lo = (start / g) * g;
    const hi = ((end + g - 1n) / g) * g;
    const hex = (v: bigint): string => `0x${v.toString(16)}`;
    return new GmempoolError("failed-precondition", `discard [${hex(start)}, ${hex(end)}) of arena "${arena.id}" is inside [${hex(lo)}, ${hex(hi)}), which it does not cover whole; policy reject: discard whole ${g === UNIT ? "units" : "granules"} (${error.message})`, { cause: error });
  }

  /** The caller's leases covering [offset, offset + length) of an arena, as segments. */
  #rangeSegments(caller: Caller, request: ArenaRangeRequest, what: string): { arena: Arena; segments: { leaseId: string; offsetBytes: number; lengthBytes: number }[] } {
    const arena = this.#ownedArena(caller, request.arenaId);
    this.#requireActive(arena);
    const { offsetBytes: offset, lengthBytes: length } = request;
    if (offset % PAGE !== 0n || length % PAGE !== 0n) throw new GmempoolError("invalid-argument", `${what} offset ${offset} and length ${length} must be multiples of 4096`);
    if (length === 0n) throw new GmempoolError("invalid-argument", `${what} length is 0`);
    const size = BigInt(arena.sizeUnits) * UNIT;
    if (offset + length > size) throw new GmempoolError("invalid-argument", `${what} range [${offset}, ${offset + length}) passes the end of arena "${arena.id}" (${size} bytes)`);
    const start = Number(offset);
    const end = Number(offset + length);
    const segments: { leaseId: string; offsetBytes: number; lengthBytes: number }[] = [];
    let cursor = start;
    for (const lease of [...arena.leases.values()].sort((a, b) => a.start - b.start)) {
      const ls = lease.start * UNIT_BYTES;
      const le = lease.end * UNIT_BYTES;
      if (le <= cursor || ls >= end) continue;
      if (ls > cursor) break;
      const segEnd = Math.min(le, end);
      segments.push({ leaseId: lease.id, offsetBytes: cursor, lengthBytes: segEnd - cursor });
      cursor = segEnd;
      if (cursor >= end) break;
    }
    if (cursor < end) {
      const next = [...arena.leases.values()].map((l) => l.start * UNIT_BYTES).filter((s) => s > cursor).sort((a, b) => a - b)[0];
      const gapEnd = Math.min(next ?? end, end);
      throw new GmempoolError("failed-precondition", `${what} range [0x${cursor.toString(16)}, 0x${gapEnd.toString(16)}) of arena "${arena.id}" is not leased by the caller`);
    }
    return { arena, segments };
  }

  #unitsReturned(plan: Plan, outcome: ExecutionResult): number {
    return sum(plan.steps.map((s, i) => (s.op === "punch" && !outcome.failed.includes(i) ? s.unitsReturned : 0)));
  }

  #unitsTaken(plan: Plan, outcome: ExecutionResult): number {
    return sum(plan.steps.map((s, i) => (s.op === "populate" && !outcome.failed.includes(i) ? s.unitsTaken : 0)));
  }

  #failedOf(outcomes: readonly ExecutionResult[]): GmempoolError | undefined {
    return outcomes.flatMap((o) => o.failures)[0]?.error;
  }

  #throwIfFailed(outcomes: readonly ExecutionResult[]): void {
    const first = this.#failedOf(outcomes);
    if (first !== undefined) throw first;
  }

  /** Runs a pool call (its errors are GmempoolErrors already). */
  #poolCall<T>(call: () => T): T {
    return call();
  }

  /** Keeps `work` in the arena's in-flight set until it settles (drain and delete wait on it). */
  async #track<T>(arenaId: string, work: Promise<T>): Promise<T> {
    let set = this.#inflight.get(arenaId);
    if (set === undefined) {
      set = new Set();
      this.#inflight.set(arenaId, set);
    }
    set.add(work);
    try {
      return await work;
    } finally {
      set.delete(work);
    }
  }

  /** Waits until no kernel work of the arena is in flight. */
  async #settled(arenaId: string): Promise<void> {
    for (let set = this.#inflight.get(arenaId); set !== undefined && set.size > 0; set = this.#inflight.get(arenaId)) {
      await Promise.allSettled([...set]);
    }
  }

  // =============================================================================== journal

  /**
   * Runs one mutating call: serving check, request id check, idempotent replay, and the call
   * itself as the only one in flight for its request id.
   */
  async #mutate<R extends object>(caller: Caller, rpc: string, request: MutatingRequest, fields: object, run: (idem: IdemSlot) => Promise<R>, replay?: (result: R) => Promise<void>): Promise<R & MutatingResult> {
    this.#requireServing();
    IdempotencyStore.validateRequestId(request.requestId);
    if (request.requestId === "") return { ...(await this.#guard(run(NO_IDEM))), replayed: false };
    const key = IdempotencyStore.key(caller, rpc, request.requestId);
    const fingerprint = IdempotencyStore.fingerprint({ rpc, ...fields });
    return this.#idempotency.exclusive(key, async () => {
      const recorded = this.#idempotency.lookup(key, fingerprint, rpc, request.requestId);
      if (recorded !== undefined) {
        const result = decodeTagged(recorded.result) as R;
        await replay?.(result);
        return { ...result, replayed: true };
      }
      const slot: IdemSlot = {
        entry: (result) => {
          const entry = this.#idempotency.makeEntry(key, fingerprint, result);
          this.#idempotency.record(entry);
          return entry;
        },
      };
      return { ...(await this.#guard(run(slot))), replayed: false };
    });
  }

  /** Every error leaving a mutation is a GmempoolError. */
  async #guard<R>(work: Promise<R>): Promise<R> {
    try {
      return await work;
    } catch (error) {
      throw toGmempoolError(error);
    }
  }

  /**
   * Appends the record of `changes` (their state NOW) and returns its durability. Must be
   * called in the same tick as the in-memory change (durable-state.ts explains why).
   */
  #persist(changes: Changes, result?: IdempotencyEntry): Promise<void> {
    const journal = this.#journal;
    if (journal === undefined) return Promise.reject(new GmempoolError("unavailable", "the daemon is starting"));
    const arenas: ArenaEntry[] = [];
    const deletedArenas: string[] = [];
    const leases: LeaseEntry[] = [];
    const deletedLeases: string[] = [];
    for (const id of changes.arenas ?? []) {
      const meta = this.#arenaMeta.get(id);
      const arena = meta === undefined ? undefined : this.#poolArena(id);
      if (meta === undefined || arena === undefined) deletedArenas.push(id);
      else arenas.push({ meta, sizeUnits: arena.sizeUnits, files: arena.files, policy: arena.policy });
    }
    for (const id of new Set(changes.leases ?? [])) {
      const lease = this.#poolLease(id);
      if (lease === undefined) deletedLeases.push(id);
      else if (lease.state !== "allocating") leases.push({ arenaId: lease.arenaId, lease: leaseSnapshot(lease), meta: this.#leaseMeta.get(id) ?? { id, label: "", createTime: 0 } });
    }
    const record: JournalRecord = {
      t: Date.now(),
      populatedUnits: populatedUnitsOf(this.#pool),
      ...(changes.policy === true ? { policy: this.#pool.policy } : {}),
      ...(arenas.length > 0 ? { arenas } : {}),
      ...(deletedArenas.length > 0 ? { deletedArenas } : {}),
      ...(leases.length > 0 ? { leases } : {}),
      ...(deletedLeases.length > 0 ? { deletedLeases } : {}),
      ...(result === undefined ? {} : { results: [result] }),
    };
    const durable = journal.append(record).catch((error: unknown) => {
      throw new GmempoolError("internal", `the change was made but could not be journaled: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    });
    if (!this.#compacting && journal.recordsSinceSnapshot >= this.#config.journal.compactAfterRecords) {
      this.#compacting = true;
      journal.compact(() => this.#durableState())
        .catch((error: unknown) => this.#logger.error({ err: error }, "journal compaction failed"))
        .finally(() => (this.#compacting = false));
    }
    return durable;
  }

  #durableState(): DurableState {
    const pool = exportSnapshot(this.#pool);
    const leaseIds = new Set(pool.arenas.flatMap((a) => a.leases.map((l) => l.id)));
    return {
      version: DURABLE_STATE_VERSION,
      pool,
      arenas: pool.arenas.flatMap((a) => {
        const meta = this.#arenaMeta.get(a.id);
        return meta === undefined ? [] : [meta];
      }),
      leases: [...this.#leaseMeta.values()].filter((m) => leaseIds.has(m.id)),
      results: this.#idempotency.entries(),
    };
  }

  // =============================================================================== helpers

  #status(): PoolStatus {
    const pool = this.#pool;
    const reserve = pool.reserve;
    return {
      servingState: this.#state,
      reserveMode: this.#reserve.mode,
      capacityUnitCount: pool.capacityUnits,
      freeUnitCount: reserve.freeUnits,
      claimedUnitCount: reserve.claimedUnits,
      leasedUnitCount: reserve.leasedUnits,
      reservePopulatedUnitCount: this.#reserve.populatedUnits,
      splitUnitCount: pool.splitUnits,
      deferredBytes: BigInt(pool.deferredBytes),
      deferredCapBytes: BigInt(pool.policy.deferredCapBytes),
      arenaCount: this.#arenaMeta.size,
      leaseCount: this.#leaseCount(),
      largestFreeRunUnitCount: this.#reserve.mode === "none" ? reserve.freeUnits : reserve.largestFreeRun,
      startTime: this.#startTime,
      lastEventSequence: this.#events.lastSequence,
    };
  }

  #leaseCount(): number {
    let n = 0;
    for (const _ of this.#pool.leases()) n++;
    return n;
  }

  #arenaState(id: string): ArenaState {
    if (this.#deleting.has(id)) return "deleting";
    return this.#arenaFds.has(id) ? "active" : "detached";
  }

  #arenaInfo(arena: Arena): ArenaInfo {
    return arenaInfo(this.#pool, arena, this.#arenaMeta.get(arena.id)!, this.#arenaState(arena.id));
  }

  #leaseInfo(lease: Lease): LeaseInfo {
    const arena = this.#pool.arena(lease.arenaId);
    return leaseInfo(lease, arena.sides, this.#arenaMeta.get(arena.id)!.owner, this.#leaseMeta.get(lease.id));
  }

  #poolArena(id: string): Arena | undefined {
    return this.#pool.findArena(id);
  }

  #poolLease(id: string): Lease | undefined {
    // A lookup, not a throw-and-catch: this runs on every commit (a NotFoundError with its stack
    // cost ~24 µs per 1-unit Allocate/Release in a daemon profile).
    return this.#pool.findLease(id);
  }

  /** An arena the caller may read: its own, or any for the admin. Else not-found. */
  #visibleArena(caller: Caller, id: string): Arena {
    const arena = this.#poolArena(id);
    if (arena === undefined || (!caller.isAdmin && arena.owner !== caller.identity)) throw new GmempoolError("not-found", `arena "${id}" does not exist`);
    return arena;
  }

  /** An arena the caller may change: its own only (the admin uses the Admin service). */
  #ownedArena(caller: Caller, id: string): Arena {
    if (id === "") throw new GmempoolError("invalid-argument", "arena_id is empty");
    const arena = this.#poolArena(id);
    if (arena === undefined || arena.owner !== caller.identity) throw new GmempoolError("not-found", `arena "${id}" does not exist`);
    return arena;
  }

  #visibleLease(caller: Caller, id: string): Lease {
    const lease = this.#poolLease(id);
    if (lease === undefined || lease.state === "allocating" || (!caller.isAdmin && lease.owner !== caller.identity)) throw new GmempoolError("not-found", `lease "${id}" does not exist`);
    return lease;
  }

  #ownedLease(caller: Caller, id: string): Lease {
    const lease = this.#poolLease(id);
    if (lease === undefined || lease.state === "allocating" || lease.owner !== caller.identity) throw new GmempoolError("not-found", `lease "${id}" does not exist`);
    return lease;
  }

  #requireActive(arena: Arena): void {
    const state = this.#arenaState(arena.id);
    if (state === "deleting") throw new GmempoolError("failed-precondition", `arena "${arena.id}" is DELETING`);
    if (state === "detached") throw new GmempoolError("failed-precondition", `arena "${arena.id}" is DETACHED since the daemon restarted: send its file(s) again with ReattachArena`);
  }

  #requireServing(): void {
    if (this.#state === "starting") throw new GmempoolError("unavailable", `the daemon is starting (reserve ${this.#reserve.populatedUnits} of ${this.#pool.capacityUnits} units populated); retry with backoff`);
    if (this.#state === "draining") throw new GmempoolError("unavailable", "the daemon is draining (shutting down); retry with backoff");
    const broken = this.#journal?.broken;
    if (broken !== undefined) throw new GmempoolError("unavailable", `the journal cannot be written (${broken.message}); the daemon accepts no changes`);
  }

  #requireAdmin(caller: Caller): void {
    if (!caller.isAdmin) throw new GmempoolError("permission-denied", `uid ${caller.uid} gid ${caller.gid} is not the configured admin identity`);
  }

  #requireAdminFor(caller: Caller, allOwners: boolean): void {
    if (allOwners && !caller.isAdmin) throw new GmempoolError("permission-denied", `all_owners needs the admin identity; uid ${caller.uid} gid ${caller.gid} is not`);
  }

  #arenaSize(sizeBytes: bigint): number {
    if (sizeBytes <= 0n || sizeBytes % UNIT !== 0n) throw new GmempoolError("invalid-argument", `size_bytes ${sizeBytes} is not a positive multiple of 2 MiB`);
    if (sizeBytes / UNIT > MAX_ARENA_UNITS) throw new GmempoolError("invalid-argument", `size_bytes ${sizeBytes} is more than 2^32 units`);
    return Number(sizeBytes / UNIT);
  }

  #memfdType(backing: MemfdBacking | undefined, field: string): FdType {
    if (backing === undefined) throw new GmempoolError("invalid-argument", `${field} is unspecified`);
    if (backing === "hugetlb" && this.#reserve.mode !== "hugetlb") {
      throw new GmempoolError("failed-precondition", `${field} HUGETLB needs reserve mode hugetlb; this daemon's reserve mode is ${this.#reserve.mode}`);
    }
    return backing === "hugetlb" ? "memfd-hugetlb" : "memfd-shmem";
  }

  #checkName(name: string, field: string): void {
    if (byteLength(name) > MAX_NAME_BYTES) throw new GmempoolError("invalid-argument", `${field} is ${byteLength(name)} bytes, more than ${MAX_NAME_BYTES}`);
  }

  #checkArenaLimit(caller: Caller): void {
    let n = 0;
    for (const meta of this.#arenaMeta.values()) if (meta.ownerKey === caller.identity) n++;
    if (n >= this.#config.limits.arenasPerProcess) throw new GmempoolError("exhausted", `process ${caller.pid} has reached the limit of ${this.#config.limits.arenasPerProcess} arenas`);
  }

  /**
   * Checks a received fd (borrowed) and returns its file's identity (st_dev, st_ino): its type,
   * its size and, when it is offered back to a journaled arena file (`journaled`: reattach, fd
   * store), a memfd's name and the journaled identity. Whether the file is another arena's is
   * `#checkFileIsFree`'s question.
   */
  #checkReceivedFd(fd: Fd, expected: FdType, sizeBytes: bigint, journaled?: { arenaId: string; file: ArenaFileMeta }): FileIdentity {
    const actual = this.#fdTypeOf(fd);
    const kind = journaled === undefined ? "invalid-argument" : "failed-precondition";
    if (actual.fdType !== expected) throw new GmempoolError(kind, `the fd is ${actual.description}, not a ${expected}`);
    if (actual.size !== sizeBytes) throw new GmempoolError(kind, `size_bytes ${sizeBytes} differs from the fd's size ${actual.size}`);
    if (journaled === undefined) return actual.file;
    const { arenaId, file } = journaled;
    if (file.memfdName !== "" && !actual.link.startsWith(`/memfd:${file.memfdName}`)) {
      throw new GmempoolError("failed-precondition", `the memfd is "${actual.link}", not the arena's "/memfd:${file.memfdName}"`);
    }
    // Another file of the same type, size (and memfd name) would give the arena contents that
    // are not its leases': the inode is what tells them apart while the file lives.
    if (file.device !== undefined && file.inode !== undefined && (file.device !== actual.file.device || file.inode !== actual.file.inode)) {
      throw new GmempoolError("failed-precondition", `the fd is not arena "${arenaId}"'s file (journaled device ${file.device} inode ${file.inode}, received device ${actual.file.device} inode ${actual.file.inode})`);
    }
    return actual.file;
  }

  #safeNumber(value: bigint, field: string): number {
    if (value < 0n || value > BigInt(Number.MAX_SAFE_INTEGER)) throw new GmempoolError("invalid-argument", `${field} ${value} is out of range`);
    return Number(value);
  }

  #configPolicy(): { discard: "reject" | "zero" | "defer"; punchGranularityBytes: number; deferredCapBytes: number; deferOverflow: "reject" | "zero"; fit: "first-fit" | "best-fit" } {
    const p = this.#config.policy;
    return { discard: p.discard, punchGranularityBytes: p.punchGranularityBytes, deferredCapBytes: p.deferredCapBytes, deferOverflow: p.deferredOverflow, fit: p.fit };
  }

  #applyPoolPolicy(update: PolicyUpdate): PolicyInfo {
    const next = this.#poolCall(() => this.#pool.setPolicy({
      ...(update.discardPolicy === undefined ? {} : { discard: update.discardPolicy }),
      ...(update.punchGranularityBytes === undefined ? {} : { punchGranularityBytes: this.#safeNumber(update.punchGranularityBytes, "punch_granularity_bytes") }),
      ...(update.deferredCapBytes === undefined ? {} : { deferredCapBytes: this.#safeNumber(update.deferredCapBytes, "deferred_cap_bytes") }),
      ...(update.deferredOverflowPolicy === undefined ? {} : { deferOverflow: update.deferredOverflowPolicy }),
    }));
    this.#checkDeferredCap();
    return policyInfo(next);
  }

  #checkDeferredCap(): void {
    const pool = this.#pool;
    const reached = pool.policy.discard === "defer" || [...pool.arenas()].some((a) => a.policy.discard === "defer") ? pool.deferredBytes >= pool.policy.deferredCapBytes : false;
    if (reached && !this.#deferredCapReached) {
      this.#events.publish({ kind: "deferred-cap-reached", deferredBytes: BigInt(pool.deferredBytes), deferredCapBytes: BigInt(pool.policy.deferredCapBytes), overflowPolicy: pool.policy.deferOverflow }, { owner: undefined, arenaId: undefined });
    }
    this.#deferredCapReached = reached;
  }

  #resolveReserveMode(isRoot: boolean): ReserveMode {
    const setting = this.#config.pool.reserve;
    if (setting !== "auto") return setting;
    return isRoot && this.#caps()?.guestMemfd === true ? "gmem" : "none";
  }

  #caps(): KvmCapabilities | undefined {
    if (this.#kvmCaps === undefined) {
      try {
        this.#kvmCaps = this.#kernel.capabilities();
      } catch {
        this.#kvmCaps = null;
      }
    }
    return this.#kvmCaps ?? undefined;
  }

  #fallocate(fd: Fd, mode: number, offset: bigint, length: bigint): Promise<void> {
    if (length === 0n) return Promise.resolve();
    const call = mode === FALLOCATE_PUNCH ? "fallocate(PUNCH_HOLE)" : "fallocate(KEEP_SIZE)";
    return this.#timer.time(call, () => this.#kernel.fallocate(fd, mode, offset, length)).catch((error: unknown) => {
      throw error instanceof KernelError ? classifyKernelError(error, { what: call, offset, length }) : error;
    });
  }

  #closeQuietly(fd: Fd): void {
    try {
      this.#kernel.close(fd);
    } catch (error) {
      this.#logger.warn({ err: error, fd }, "close failed");
    }
  }

  // =============================================================================== invariants

  /** The invariants of the header comment; tests call this after every step. */
  assertInvariants(): void {
    this.#pool.assertInvariants();
    for (const arena of this.#pool.arenas()) {
      if (!this.#arenaMeta.has(arena.id)) throw new Error(`arena "${arena.id}" has no metadata`);
      const fds = this.#arenaFds.get(arena.id);
      if (fds !== undefined && fds.length !== arena.sides) throw new Error(`arena "${arena.id}" has ${fds.length} fds for ${arena.sides} side(s)`);
      if (!this.#peers.isTracked(arena.owner) && !this.#goneOwners.has(arena.owner) && this.#state === "serving") throw new Error(`owner ${arena.owner} of arena "${arena.id}" is not watched`);
    }
    for (const id of this.#arenaMeta.keys()) if (this.#poolArena(id) === undefined) throw new Error(`metadata of a missing arena "${id}"`);
    const files = new Map<string, string>();
    for (const meta of this.#arenaMeta.values()) {
      for (const f of meta.files) {
        if (f.device === undefined || f.inode === undefined) continue;
        const key = fileKey({ device: f.device, inode: f.inode });
        const other = files.get(key);
        if (other !== undefined) throw new Error(`arenas "${other}" and "${meta.id}" record the same file (device ${f.device}, inode ${f.inode})`);
        files.set(key, meta.id);
      }
    }
  }

  /**
   * Tests only: the daemon is killed now (kill -9). The journal takes no more writes; nothing
   * is closed or flushed; work still in flight finds its fds gone once the test ends the fake
   * daemon process. Build a new manager on the same journal directory to "restart".
   */
  async simulateCrash(): Promise<void> {
    this.#state = "draining";
    this.#peers.close();
    await this.#journal?.simulateCrash();
  }

  /** For tests: the pool core (read-only use). */
  get pool(): Pool {
    return this.#pool;
  }

  /**
   * Units whose reserve slot still holds memory after they went to an arena (background
   * reserve punches not done yet); 0 with inline punches.
   */
  get reserveHeldTwiceUnits(): number {
    return this.#deferredPunch?.heldTwiceUnits ?? 0;
  }

  /** Resolves when no background reserve punch is pending (tests, benchmarks). */
  reserveIdle(): Promise<void> {
    return this.#deferredPunch?.idle() ?? Promise.resolve();
  }

  /** For tests and diagnostics: the reserve file (borrowed), undefined in mode none. */
  get reserveFd(): Fd | undefined {
    return this.#reserve.fileFd;
  }

  /** For tests: the daemon's fds of an arena (undefined when detached). */
  arenaFds(arenaId: string): readonly Fd[] | undefined {
    return this.#arenaFds.get(arenaId);
  }

  /** Undo failures so far (kernel state drift, see plan-executor.ts). */
  get driftCount(): number {
    return this.#executor.driftCount;
  }
}

function byId(a: { id: string }, b: { id: string }): number {
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

function fileKey(file: FileIdentity): string {
  return `${file.device}:${file.inode}`;
}

/** "lease-3f9c0a1b2d4e": 48 random bits. randomUUID draws from a cached entropy pool;
 * randomBytes(6) cost ~36 µs per id in a daemon profile. The first 12 hex digits of a v4 UUID
 * are all random. */
function freshId(prefix: string): string {
  const uuid = randomUUID();
  return `${prefix}-${uuid.slice(0, 8)}${uuid.slice(9, 13)}`;
}

/** Sorted unit numbers as runs. */
function spans(unitsList: readonly number[]): UnitSpan[] {
  const sorted = [...new Set(unitsList)].sort((a, b) => a - b);
  const result: UnitSpan[] = [];
  for (const u of sorted) {
    const last = result[result.length - 1];
    if (last !== undefined && last.firstUnit + last.unitCount === u) result[result.length - 1] = { firstUnit: last.firstUnit, unitCount: last.unitCount + 1 };
    else result.push({ firstUnit: u, unitCount: 1 });
  }
  return result;
}
