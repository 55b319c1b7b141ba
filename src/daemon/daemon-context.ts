/**
 * The daemon's parts, built once from its options and shared by the operation files
 * (arena-lifecycle, lease-operations, admin-operations, owner-reaper, pool-queries, start-up).
 * Each part owns one thing:
 * - `pool`: the core's books (replaced once, by start-up recovery);
 * - `registry`: the arena records, lease labels, gone owners, file claims (arena-registry.ts);
 * - `reserve`: the reserve file (reserve-backend.ts); `peers`: the owners' pidfds;
 * - `journal`: the journal and its records (journal-writer.ts);
 * - `transactions`: the one mutation path (transaction-runner.ts);
 * - `events`: Watch; `idempotency`: request ids; `files`: arena files (arena-files.ts).
 */
import { TenantQuotas, type QuotaArena } from "./tenant-quotas.ts";
import type { Logger } from "pino";
import { REAL_CLOCK, type Clock } from "../kvm/clock.ts";
import type { Fd } from "@gmempool/sys";
import type { KernelPort, KvmCapabilities } from "../kvm/kernel-port.ts";
import { Pool, type Plan } from "../pool/index.ts";
import { populatedByteRuns } from "../pool/population-planner.ts";
import { GmempoolError } from "../pool/errors.ts";
import { ArenaFiles } from "./arena-files.ts";
import { ArenaRegistry } from "./arena-registry.ts";
import type { DaemonConfig } from "./config.ts";
import { DeferredReservePunch } from "./deferred-reserve-punch.ts";
import { EventHub } from "./event-hub.ts";
import { GmemReserve } from "./gmem-reserve.ts";
import { HugetlbReserve } from "./hugetlb-reserve.ts";
import { IdempotencyStore } from "./idempotency.ts";
import { processOfIdentity } from "./caller-identity.ts";
import { JournalWriter } from "./journal-writer.ts";
import { KernelTimer } from "./kernel-timer.ts";
import { PeerTracker } from "./peer-tracker.ts";
import { PlanExecutor, type StepEnvironment } from "./plan-executor.ts";
import type { PlanTransactionParts } from "./plan-transaction.ts";
import type { ArenaFdStore, PoolStatus, ReserveMode, ServingState } from "./pool-service.ts";
import { readProcessStartTime } from "./process-start-time.ts";
import { NoReserve, type ReserveBackend } from "./reserve-backend.ts";
import { TransactionRunner } from "./transaction-runner.ts";

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

export class DaemonContext {
  readonly config: DaemonConfig;
  readonly kernel: KernelPort;
  readonly logger: Logger;
  readonly journalDir: string;
  readonly timer = new KernelTimer();
  readonly startTimeOf: (pid: number) => bigint | undefined;
  /** Times the daemon's own timers (request ids, the lost-file sweep); tests pass a ManualClock. */
  readonly clock: Clock;
  readonly version: string;
  readonly startTime = new Date();
  readonly fdStore: ArenaFdStore | undefined;
  readonly inheritedFds: ReadonlyMap<string, Fd>;
  readonly registry = new ArenaRegistry();
  /** Claim UIDs an arena creation in flight is binding (one arena per reservation). */
  readonly reservationsBinding = new Set<string>();
  readonly reserve: ReserveBackend;
  readonly deferredPunch: DeferredReservePunch | undefined;
  readonly executor: PlanExecutor;
  readonly idempotency: IdempotencyStore;
  readonly events: EventHub;
  readonly peers: PeerTracker;
  readonly files: ArenaFiles;
  readonly journal: JournalWriter;
  readonly transactions: TransactionRunner;
  readonly quotas: TenantQuotas;
  /** What plan transactions need (plan-transaction.ts). */
  readonly plans: PlanTransactionParts;
  pool: Pool;
  servingState: ServingState = "starting";
  /** Whether the last check found the deferred cap reached (its event fires on the edge). */
  deferredCapReached = false;
  /** Called when an owner's process is gone (the owner reaper sets it). */
  onOwnerExited: (owner: string) => void = () => undefined;
  #kvmCaps: KvmCapabilities | null | undefined;

  constructor(options: PoolManagerOptions) {
    const { config, kernel, logger } = options;
    this.config = config;
    this.kernel = kernel;
    this.logger = logger;
    this.journalDir = options.journalDir;
    this.startTimeOf = options.processStartTime ?? readProcessStartTime;
    this.clock = options.clock ?? REAL_CLOCK;
    this.version = options.daemonVersion ?? "0.0.0";
    this.fdStore = options.fdStore;
    this.inheritedFds = options.inheritedFds ?? new Map();
    const p = config.policy;
    this.pool = new Pool({
      capacityUnits: config.pool.capacityUnits,
      maxStepUnits: config.pool.maxStepUnits,
      policy: { discard: p.discard, punchGranularityBytes: p.punchGranularityBytes, deferredCapBytes: p.deferredCapBytes, deferOverflow: p.deferredOverflow, fit: p.fit },
    });
    const mode = options.reserveMode ?? this.#resolveReserveMode(options.isRoot ?? process.getuid?.() === 0);
    const capacity = config.pool.capacityUnits;
    const reserve = mode === "gmem" ? new GmemReserve(kernel, this.timer, logger, capacity) : mode === "hugetlb" ? new HugetlbReserve(kernel, this.timer, logger, capacity) : new NoReserve();
    this.reserve = reserve;
    if (config.pool.reservePunch === "background" && reserve.mode !== "none" && reserve.handOutOrder === "arena-first") {
      this.deferredPunch = new DeferredReservePunch((slots) => reserve.punchSlots(slots), logger, config.limits.kernelParallelism);
    }
    this.executor = new PlanExecutor(kernel, reserve, this.timer, logger, {
      parallelism: config.limits.kernelParallelism,
      conversionRetries: config.limits.conversionRetries,
      ...(this.deferredPunch === undefined ? {} : { deferredPunch: this.deferredPunch }),
    });
    this.idempotency = new IdempotencyStore({
      maxEntries: config.limits.requestIdEntries,
      maxEntriesPerIdentity: config.limits.requestIdEntriesPerIdentity,
      retentionMs: config.limits.requestIdRetentionMs,
      clock: options.clock,
      isLive: (identity) => this.#identityIsLive(identity),
    });
    this.events = new EventHub({ bufferEvents: config.limits.watchBufferEvents, maxStreams: config.limits.watchStreams, maxStreamsPerUid: config.limits.watchStreamsPerUid, statusIntervalMs: 1000, status: () => this.status() });
    this.peers = new PeerTracker(kernel, logger, (owner) => this.onOwnerExited(owner));
    this.files = new ArenaFiles({ kernel, timer: this.timer, logger, registry: this.registry, fdStore: this.fdStore });
    this.journal = new JournalWriter({ pool: () => this.pool, registry: this.registry, idempotency: this.idempotency, logger, compactAfterRecords: config.journal.compactAfterRecords });
    this.transactions = new TransactionRunner({ journal: this.journal, events: this.events, logger });
    this.quotas = new TenantQuotas(config.quotas, () => this.#quotaArenas());
    this.plans = { pool: () => this.pool, executor: this.executor, environment: (plan) => this.#environment(plan), logger };
  }

  /** Every arena with its owner and leased units, for the quotas. */
  *#quotaArenas(): Generator<QuotaArena> {
    for (const { meta } of this.registry.records()) {
      const arena = this.pool.findArena(meta.id);
      if (arena !== undefined) yield { holder: meta.owner, leasedUnits: arena.leasedUnits };
    }
  }

  /** Whether the process an identity (caller-identity.ts) names still runs. */
  #identityIsLive(identity: string): boolean {
    const process = processOfIdentity(identity);
    return process === undefined || this.startTimeOf(process.pid) === process.startTimeTicks;
  }

  /** What /dev/kvm can do, probed once; undefined when it is not usable. */
  caps(): KvmCapabilities | undefined {
    if (this.#kvmCaps === undefined) {
      try {
        this.#kvmCaps = this.kernel.capabilities();
      } catch {
        this.#kvmCaps = null;
      }
    }
    return this.#kvmCaps ?? undefined;
  }

  /** GetPoolStatus, and Watch's pool-status events. */
  status(): PoolStatus {
    const pool = this.pool;
    const reserve = pool.reserve;
    return {
      servingState: this.servingState,
      reserveMode: this.reserve.mode,
      capacityUnitCount: pool.capacityUnits,
      freeUnitCount: reserve.freeUnits,
      claimedUnitCount: reserve.claimedUnits,
      leasedUnitCount: reserve.leasedUnits,
      reservePopulatedUnitCount: this.reserve.populatedUnits,
      splitUnitCount: pool.splitUnits,
      deferredBytes: BigInt(pool.deferredBytes),
      deferredCapBytes: BigInt(pool.policy.deferredCapBytes),
      arenaCount: this.registry.size,
      leaseCount: this.leaseCount(),
      largestFreeRunUnitCount: this.reserve.mode === "none" ? reserve.freeUnits : reserve.largestFreeRun,
      startTime: this.startTime,
      lastEventSequence: this.events.lastSequence,
      reservedUnitCount: reserve.reservedUnits,
      reservationCount: pool.reservationCount,
    };
  }

  /** Units whose reserve slot still holds memory after they went to an arena (background punches pending). */
  get reserveHeldTwiceUnits(): number {
    return this.deferredPunch?.heldTwiceUnits ?? 0;
  }

  leaseCount(): number {
    let n = 0;
    for (const _ of this.pool.leases()) n++;
    return n;
  }

  /** The deferred cap's event fires when pool-wide deferred bytes reach it. */
  checkDeferredCap(): void {
    const pool = this.pool;
    const defers = pool.policy.discard === "defer" || [...pool.arenas()].some((a) => a.policy.discard === "defer");
    const reached = defers && pool.deferredBytes >= pool.policy.deferredCapBytes;
    if (reached && !this.deferredCapReached) {
      this.events.publish({ kind: "deferred-cap-reached", deferredBytes: BigInt(pool.deferredBytes), deferredCapBytes: BigInt(pool.policy.deferredCapBytes), overflowPolicy: pool.policy.deferOverflow }, { owner: undefined, arenaId: undefined });
    }
    this.deferredCapReached = reached;
  }

  /** The environment of one plan's kernel steps: its arena's fds and its lease's page state. */
  #environment(plan: Plan): StepEnvironment {
    const arena = this.pool.arena(plan.arenaId);
    const lease = this.pool.lease(plan.leaseId);
    const record = this.registry.get(arena.id);
    const gone = this.registry.isGone(arena.owner);
    return {
      file: (side) => {
        const fds = record.fds;
        if (fds === undefined) {
          // No file to punch: the owner is gone, or so is the arena's only file.
          if (gone || record.fileLost === true) return "skip";
          throw new GmempoolError("failed-precondition", `arena "${arena.id}" is DETACHED`, { resource: "arena", id: arena.id });
        }
        return { fd: fds[side]!, kind: arena.files[side]! };
      },
      populatedRuns: (side, start, end) => populatedByteRuns(lease, side, start, end),
    };
  }

  #resolveReserveMode(isRoot: boolean): ReserveMode {
    const setting = this.config.pool.reserve;
    if (setting !== "auto") return setting;
    return isRoot && this.caps()?.guestMemfd === true ? "gmem" : "none";
  }
}
