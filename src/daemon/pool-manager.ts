/**
 * The pool manager: the daemon's implementation of `PoolDaemon` (pool-service.ts), a thin
 * facade over the files that do the work, one concept each:
 *
 * - daemon-context.ts    the parts (pool core, registry, reserve, journal, events, peers ...)
 * - daemon-startup.ts    start-up and recovery
 * - transaction-runner.ts the one mutation path: claim -> kernel -> commit/abort -> journal ->
 *                        publish, tracked whole (plan-transaction.ts builds the plan-shaped ones)
 * - mutating-call.ts     the gate of every mutating RPC (serving, request id, replay)
 * - arena-lifecycle.ts   register / create / pair / reattach / delete
 * - lease-operations.ts  allocate / release / discard / populate / convert
 * - admin-operations.ts  set policy, force release, SIGHUP reload
 * - owner-reaper.ts      an owner's exit
 * - access-checks.ts     who may see and change what; request-rules.ts: the daemon's request rules
 * - arena-files.ts       fds, file identities and claims, reconcile; arena-registry.ts: the records
 * - pool-queries.ts      reads, views and metrics
 *
 * Invariants (checked by `assertInvariants`, called by tests after every step):
 * - the pool's own invariants (conservation, alignment, partition, ownership);
 * - the registry's (arena-registry.ts): ACTIVE has fds, DETACHED none, no file twice;
 * - every pool arena has a record and every record a pool arena, with one fd per side;
 * - every owner with an arena is tracked by the peer tracker, or known to be gone.
 */
import type { DurableState } from "./durable-state.ts";
import { callerIdentity } from "./caller-identity.ts";
import type { Fd } from "@gmempool/sys";
import type { Pool } from "../pool/index.ts";
import { forceRelease, reloadPolicy, setPolicy } from "./admin-operations.ts";
import { listReservations, reserve, unreserve, type ReserveRequest, type ReserveResult, type UnreserveResult } from "./reservation-operations.ts";
import type { Reservation } from "@gmempool/contract";
import { createArenaPair, createMemfdArena, deleteArena, reattachArena, registerGuestMemfdArena } from "./arena-lifecycle.ts";
import { handOverArena } from "./arena-handover.ts";
import { DaemonContext, type PoolManagerOptions } from "./daemon-context.ts";
import { startDaemon } from "./daemon-startup.ts";
import { allocate, convert, discard, populate, release } from "./lease-operations.ts";
import { OwnerReaper } from "./owner-reaper.ts";
import * as queries from "./pool-queries.ts";
import type {
  AllocateRequest,
  AllocateResult,
  ArenaInfo,
  ArenaRangeRequest,
  ArenaResult,
  Caller,
  DaemonCapabilities,
  ConvertRequest,
  ConvertResult,
  CreateArenaPairRequest,
  CreateMemfdArenaRequest,
  DaemonMetrics,
  DeleteArenaRequest,
  HandOverArenaRequest,
  DeleteArenaResult,
  DiscardResult,
  FdInspection,
  FdType,
  ForceReleaseRequest,
  ForceReleaseResult,
  FragmentationMap,
  GetFragmentationMapRequest,
  KernelCallObserver,
  LeaseInfo,
  ListLeasesRequest,
  ListRequest,
  PeerCredentials,
  Policy,
  PolicyUpdate,
  PolicyView,
  PoolDaemon,
  PoolStatus,
  QuotaUsage,
  PopulateResult,
  ReattachArenaRequest,
  RegisterGuestMemfdArenaRequest,
  ReleaseRequest,
  ReleaseResult,
  ServingState,
  SetPolicyRequest,
  SetPolicyResult,
  WatchRequest,
  WatchStream,
} from "./pool-service.ts";

export type { PoolManagerOptions } from "./daemon-context.ts";

export class PoolManager implements PoolDaemon {
  readonly #ctx: DaemonContext;
  readonly #reaper: OwnerReaper;
  #started: Promise<void> | undefined;

  constructor(options: PoolManagerOptions) {
    this.#ctx = new DaemonContext(options);
    this.#reaper = new OwnerReaper(this.#ctx, () => this.#started);
  }

  // ---- lifecycle

  start(): Promise<void> {
    this.#started ??= startDaemon(this.#ctx, this.#reaper);
    return this.#started;
  }

  reloadPolicy(update: PolicyUpdate): Promise<Policy> {
    return reloadPolicy(this.#ctx, update);
  }

  /** New mutations answer unavailable; Watch streams end; every transaction in flight finishes. */
  async drain(): Promise<void> {
    const ctx = this.#ctx;
    if (ctx.servingState === "draining") return;
    ctx.servingState = "draining";
    ctx.events.drain();
    await ctx.transactions.idle();
    await ctx.journal.journal?.flush();
  }

  async close(): Promise<void> {
    await this.drain();
    const ctx = this.#ctx;
    ctx.events.close();
    ctx.peers.close();
    ctx.files.closeAll(ctx.registry.takeAllFds());
    await ctx.deferredPunch?.idle();
    await ctx.reserve.close();
    await ctx.journal.journal?.close();
  }

  // ---- identity and the fd channel

  identify(peer: PeerCredentials): Caller {
    const admin = this.#ctx.config.admin;
    const startTimeTicks = this.#ctx.startTimeOf(peer.pid) ?? 0n;
    const isAdmin = admin.uids.includes(peer.uid) || admin.gids.includes(peer.gid);
    return { uid: peer.uid, gid: peer.gid, pid: peer.pid, startTimeTicks, identity: callerIdentity(peer.uid, peer.pid, startTimeTicks), isAdmin };
  }

  inspectFd(fd: Fd, claimed: FdType): FdInspection {
    return this.#ctx.files.inspect(fd, claimed);
  }

  // ---- reads

  getCapabilities(caller: Caller): DaemonCapabilities {
    return queries.getCapabilities(this.#ctx, caller);
  }

  getPoolStatus(_caller: Caller): PoolStatus {
    return this.#ctx.status();
  }

  getQuotaUsage(caller: Caller): QuotaUsage[] {
    return this.#ctx.quotas.report(caller);
  }

  getArena(caller: Caller, arenaId: string): ArenaInfo {
    return queries.getArena(this.#ctx, caller, arenaId);
  }

  listArenas(caller: Caller, request: ListRequest): ArenaInfo[] {
    return queries.listArenas(this.#ctx, caller, request);
  }

  getLease(caller: Caller, leaseId: string): LeaseInfo {
    return queries.getLease(this.#ctx, caller, leaseId);
  }

  listLeases(caller: Caller, request: ListLeasesRequest): LeaseInfo[] {
    return queries.listLeases(this.#ctx, caller, request);
  }

  getFragmentationMap(caller: Caller, request: GetFragmentationMapRequest): FragmentationMap {
    return queries.getFragmentationMap(this.#ctx, caller, request);
  }

  getPolicy(caller: Caller): PolicyView {
    return queries.getPolicy(this.#ctx, caller);
  }

  watch(caller: Caller, request: WatchRequest): WatchStream {
    return queries.watch(this.#ctx, caller, request);
  }

  servingState(): ServingState {
    return this.#ctx.servingState;
  }

  metrics(): DaemonMetrics {
    return queries.metrics(this.#ctx);
  }

  observeKernelCalls(observer: KernelCallObserver): () => void {
    return this.#ctx.timer.observe(observer);
  }

  // ---- mutations

  registerGuestMemfdArena(caller: Caller, request: RegisterGuestMemfdArenaRequest): Promise<ArenaResult> {
    return registerGuestMemfdArena(this.#ctx, caller, request);
  }

  createMemfdArena(caller: Caller, request: CreateMemfdArenaRequest): Promise<ArenaResult> {
    return createMemfdArena(this.#ctx, caller, request);
  }

  createArenaPair(caller: Caller, request: CreateArenaPairRequest): Promise<ArenaResult> {
    return createArenaPair(this.#ctx, caller, request);
  }

  reattachArena(caller: Caller, request: ReattachArenaRequest): Promise<ArenaResult> {
    return reattachArena(this.#ctx, caller, request);
  }

  deleteArena(caller: Caller, request: DeleteArenaRequest): Promise<DeleteArenaResult> {
    return deleteArena(this.#ctx, caller, request);
  }

  handOverArena(caller: Caller, request: HandOverArenaRequest): Promise<ArenaResult> {
    return handOverArena(this.#ctx, caller, request);
  }

  allocate(caller: Caller, request: AllocateRequest): Promise<AllocateResult> {
    return allocate(this.#ctx, caller, request);
  }

  release(caller: Caller, request: ReleaseRequest): Promise<ReleaseResult> {
    return release(this.#ctx, caller, request);
  }

  discard(caller: Caller, request: ArenaRangeRequest): Promise<DiscardResult> {
    return discard(this.#ctx, caller, request);
  }

  populate(caller: Caller, request: ArenaRangeRequest): Promise<PopulateResult> {
    return populate(this.#ctx, caller, request);
  }

  convert(caller: Caller, request: ConvertRequest): Promise<ConvertResult> {
    return convert(this.#ctx, caller, request);
  }

  setPolicy(caller: Caller, request: SetPolicyRequest): Promise<SetPolicyResult> {
    return setPolicy(this.#ctx, caller, request);
  }

  forceRelease(caller: Caller, request: ForceReleaseRequest): Promise<ForceReleaseResult> {
    return forceRelease(this.#ctx, caller, request);
  }

  reserve(caller: Caller, request: ReserveRequest): Promise<ReserveResult> {
    return reserve(this.#ctx, caller, request);
  }

  unreserve(caller: Caller, claimUid: string): Promise<UnreserveResult> {
    return unreserve(this.#ctx, caller, claimUid);
  }

  listReservations(caller: Caller): Reservation[] {
    return listReservations(this.#ctx, caller);
  }

  // ---- invariants and test hooks

  /** The invariants of the header comment; tests call this after every step. */
  assertInvariants(): void {
    const ctx = this.#ctx;
    ctx.pool.assertInvariants();
    ctx.registry.assertInvariants();
    for (const arena of ctx.pool.arenas()) {
      const record = ctx.registry.find(arena.id);
      if (record === undefined) throw new Error(`arena "${arena.id}" has no record`);
      if (record.fds !== undefined && record.fds.length !== arena.sides) throw new Error(`arena "${arena.id}" has ${record.fds.length} fds for ${arena.sides} side(s)`);
      if (!ctx.peers.isTracked(arena.owner) && !ctx.registry.isGone(arena.owner) && ctx.servingState === "serving") throw new Error(`owner ${arena.owner} of arena "${arena.id}" is not watched`);
    }
    for (const { meta } of ctx.registry.records()) if (ctx.pool.findArena(meta.id) === undefined) throw new Error(`record of a missing arena "${meta.id}"`);
  }

  /**
   * Tests only: the daemon is killed now (kill -9). The journal takes no more writes; nothing
   * is closed or flushed; work still in flight finds its fds gone once the test ends the fake
   * daemon process. Build a new manager on the same journal directory to "restart".
   */
  async simulateCrash(): Promise<void> {
    this.#ctx.servingState = "draining";
    this.#ctx.peers.close();
    await this.#ctx.journal.journal?.simulateCrash();
  }

  /** For tests: the pool core (read-only use). */
  get pool(): Pool {
    return this.#ctx.pool;
  }

  /** Units whose reserve slot still holds memory after they went to an arena (background punches pending). */
  get reserveHeldTwiceUnits(): number {
    return this.#ctx.reserveHeldTwiceUnits;
  }

  /** Resolves when no background reserve punch is pending (tests, benchmarks). */
  reserveIdle(): Promise<void> {
    return this.#ctx.deferredPunch?.idle() ?? Promise.resolve();
  }

  /** For tests and diagnostics: the reserve file (borrowed), undefined in mode none. */
  get reserveFd(): Fd | undefined {
    return this.#ctx.reserve.fileFd;
  }

  /** For tests: the daemon's fds of an arena (undefined when detached). */
  arenaFds(arenaId: string): readonly Fd[] | undefined {
    return this.#ctx.registry.find(arenaId)?.fds;
  }

  /** Undo failures so far (kernel state drift, see plan-executor.ts). */
  get driftCount(): number {
    return this.#ctx.executor.driftCount;
  }

  /** For tests: the state the journal's next snapshot would hold. */
  durableState(): DurableState {
    return this.#ctx.journal.durableState();
  }

  /** For tests: transactions in flight. */
  get transactionsInFlight(): number {
    return this.#ctx.transactions.inflightCount;
  }
}
