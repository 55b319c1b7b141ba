/**
 * `FakePoolClient`: the test double VMM authors run their unit tests on — the REAL daemon in the
 * test's process, reached through the REAL client. It is a PoolClient (so it implements `Pool`,
 * pool.ts, with PoolClient's own deadlines, request ids, error classes and automatic reattach)
 * whose transport is in-process: the daemon's gRPC handlers and fd tokens are called with the
 * serialized bytes a socket would carry (src/server/in-process/), in front of the daemon's
 * PoolManager on the fake kernel port (src/kvm/fake/). No rule of the daemon is copied, so the
 * double cannot drift from it; the parity test (pool-parity.test.ts) compares it with a client
 * on the real sockets of a spawned daemon and so checks the transport only.
 *
 *   const pool = new FakePoolClient();                 // 256 MiB, reserve "none"
 *   const { arena, memfd } = await pool.createMemfdArena({ sizeBytes: 64n << 20n });
 *   ...
 *   await pool.shutdown();                             // or close(), without waiting
 *
 * The host it models: the fake kernel of this project's machine (KERNEL.md §1: guest_memfd with
 * MMAP and INIT_SHARED, no private memory), or without /dev/kvm (`guestMemfd: false`), or with
 * the proposed in-place conversion (`inPlaceConversion: true`) — never the host the test runs
 * on, so a test gets the same answers on every machine.
 *
 * File descriptors: fds are real on the test's side. A memfd arena's fd is a real memfd of the
 * arena's size (mmap it); a guest_memfd passed in may be real or a stand-in from
 * `createStandInGuestMemfd`. The fake kernel counts the daemon's populated pages; it does not
 * see what the test writes into its real memfds (fd-bridge.ts).
 *
 * Identities: this client is one caller (default: this process's pid, uid and gid, not admin).
 * `as(identity)` is another caller of the same daemon: a second VMM (another pid) or the
 * operator (`{ admin: true }`: the daemon's admin group, ADMIN_GID).
 *
 * Test helpers: `identity`, `as`, `failNext`, `stallNext`, `pendingFaults`, `clearFaults` (the
 * call's answer, before it reaches the daemon), `failKernelCall` (the daemon's kernel port:
 * errno for its next syscalls), `assertConservation`, `snapshot`, `drain`,
 * `simulateOwnerExit`, `simulateDaemonRestart`, `shutdown`, `FakePoolClient.createStandInGuestMemfd`.
 */
import type { FakeOp } from "../../../../src/kvm/fake/fake-kernel.ts";
import type { KernelErrno } from "@gmempool/sys";
import { readProcessStartTime } from "../../../../src/daemon/process-start-time.ts";
import { PoolClient, DEFAULT_DEADLINE_MS } from "../pool-client.ts";
import type { PoolError } from "../pool-errors.ts";
import type { Arena, FragmentationMap, Identity, Lease, PageVisibility, Policy, PolicyView, PoolEvent, PoolStatus, ReserveMode } from "../resources.ts";
import { FaultPlan, type FaultableMethod } from "./fault-plan.ts";
import { ConnectionLink } from "./connection-link.ts";
import { ADMIN_GID, InProcessDaemon, type CallerCredentials } from "./in-process-daemon.ts";
import { memfdCreate, STAND_IN_GUEST_MEMFD_NAME, STAND_IN_PRIVATE_GUEST_MEMFD_NAME } from "./real-fds.ts";

/** A caller of the double; every field not given is the creating client's. */
export interface FakeIdentity {
  readonly uid?: number;
  readonly gid?: number;
  readonly pid?: number;
  readonly startTimeTicks?: bigint;
  /** The daemon counts this caller as its admin (its gid is ADMIN_GID). Default false. */
  readonly admin?: boolean;
}

export interface FakePoolClientOptions {
  /** Pool capacity in 2 MiB units (default 128 = 256 MiB, as SpawnedDaemon's testConfig). */
  readonly capacityUnitCount?: number;
  /** The reserve (default "none"); "gmem" and "hugetlb" run the daemon's reserve on the fake kernel. */
  readonly reserveMode?: ReserveMode;
  /** The host has /dev/kvm with guest_memfd (default true): guest_memfd and pair arenas are served. */
  readonly guestMemfd?: boolean;
  /** The kernel has KVM_SET_MEMORY_ATTRIBUTES2 (default false): Convert "in-place" works. */
  readonly inPlaceConversion?: boolean;
  /** The pool policy at start (default: the daemon's configuration default). */
  readonly policy?: Partial<Policy>;
  /** The caller (default: this process, not admin). */
  readonly identity?: FakeIdentity;
  /** The daemon's limit of arenas per process (default: the daemon's, 64). */
  readonly arenasPerProcess?: number;
  /** Every call's deadline unless the call gives its own (default 30 s). */
  readonly deadlineMs?: number;
  /** PoolClient's automatic reattach after a (simulated) daemon restart (default true). */
  readonly autoReattach?: boolean;
}

/** Everything the daemon holds, every owner's, as the admin reads it. */
export interface FakePoolSnapshot {
  readonly status: PoolStatus;
  /** Sorted by arena id. */
  readonly arenas: readonly Arena[];
  /** Sorted by arena id, then offset. */
  readonly leases: readonly Lease[];
  readonly policy: PolicyView;
  readonly fragmentation: FragmentationMap;
  /** Every event since the start (or the last simulated restart), all owners, in order. */
  readonly events: readonly PoolEvent[];
}

export interface OwnerExitReport {
  readonly deletedArenaCount: number;
  readonly releasedLeaseCount: number;
  readonly releasedUnitCount: number;
}

/** What the root client and its views share: one daemon, and the admin's event log. */
interface Shared {
  readonly daemon: InProcessDaemon;
  readonly views: Set<FakePoolClient>;
  readonly events: PoolEvent[];
  readonly base: Required<Pick<FakeIdentity, "uid" | "gid" | "pid">> & { readonly startTimeTicks: bigint | undefined };
  readonly tuning: { readonly deadlineMs: number; readonly autoReattach: boolean };
  recorder: { cancel(): void } | undefined;
}

function newShared(options: FakePoolClientOptions): Shared {
  const capacity = options.capacityUnitCount ?? 128;
  if (!Number.isSafeInteger(capacity) || capacity < 1) throw new RangeError(`capacityUnitCount must be a positive integer, got ${capacity}`);
  const policy = options.policy;
  const daemon = new InProcessDaemon({
    capacityUnitCount: capacity,
    reserveMode: options.reserveMode ?? "none",
    guestMemfd: options.guestMemfd ?? true,
    inPlaceConversion: options.inPlaceConversion ?? false,
    arenasPerProcess: options.arenasPerProcess,
    configure:
      policy === undefined
        ? undefined
        : (config) => ({
            ...config,
            policy: {
              ...config.policy,
              ...(policy.discardPolicy === undefined ? {} : { discard: policy.discardPolicy }),
              ...(policy.punchGranularityBytes === undefined ? {} : { punchGranularityBytes: Number(policy.punchGranularityBytes) }),
              ...(policy.deferredCapBytes === undefined ? {} : { deferredCapBytes: Number(policy.deferredCapBytes) }),
              ...(policy.deferredOverflowPolicy === undefined ? {} : { deferredOverflow: policy.deferredOverflowPolicy as "reject" | "zero" }),
            },
          }),
  });
  const given = options.identity ?? {};
  return {
    daemon,
    views: new Set(),
    events: [],
    base: {
      uid: given.uid ?? process.getuid?.() ?? 0,
      gid: given.gid ?? process.getgid?.() ?? 0,
      pid: given.pid ?? process.pid,
      startTimeTicks: given.startTimeTicks ?? (given.pid === undefined ? readProcessStartTime(process.pid) : undefined),
    },
    tuning: { deadlineMs: options.deadlineMs ?? DEFAULT_DEADLINE_MS, autoReattach: options.autoReattach ?? true },
    recorder: undefined,
  };
}

export class FakePoolClient extends PoolClient {
  readonly #shared: Shared;
  readonly #identity: FakeIdentity;
  readonly #faults: FaultPlan;
  readonly #link: ConnectionLink;
  readonly #root: boolean;

  constructor(options: FakePoolClientOptions = {}, view?: { readonly shared: Shared; readonly identity: FakeIdentity }) {
    const shared = view?.shared ?? newShared(options);
    const identity: FakeIdentity = view?.identity ?? { admin: options.identity?.admin ?? false };
    const faults = new FaultPlan();
    const link = new ConnectionLink(shared.daemon, () => credentialsOf(shared, identity), faults);
    super(link.transport(), shared.tuning);
    this.#shared = shared;
    this.#identity = identity;
    this.#faults = faults;
    this.#link = link;
    this.#root = view === undefined;
    shared.views.add(this);
    if (this.#root) this.#record();
  }

  /** A stand-in guest_memfd for tests on hosts without /dev/kvm: a memfd the double treats as a
   * guest_memfd of `sizeBytes` (created with INIT_SHARED unless `initialVisibility` is "private"). The caller owns it. */
  static createStandInGuestMemfd(sizeBytes: bigint, options: { readonly initialVisibility?: PageVisibility } = {}): number {
    return memfdCreate(options.initialVisibility === "private" ? STAND_IN_PRIVATE_GUEST_MEMFD_NAME : STAND_IN_GUEST_MEMFD_NAME, sizeBytes);
  }

  /** Where the in-process daemon keeps its journal (removed by shutdown). */
  get journalDir(): string {
    return this.#shared.daemon.journalDir;
  }

  /** The caller this client is, as the daemon identifies it (GetCapabilities' `caller`). */
  get identity(): Identity {
    const { uid, gid, pid, startTimeTicks } = credentialsOf(this.#shared, this.#identity);
    return { uid, gid, pid, startTimeTicks };
  }

  /** Another caller of the same daemon: fields not given are this client's (admin: false). */
  as(identity: FakeIdentity): FakePoolClient {
    const { admin: _admin, ...mine } = this.#identity;
    return new FakePoolClient({}, { shared: this.#shared, identity: { ...mine, ...identity } });
  }

  /** The next `times` calls of `method` on this client reject with `error` (as the daemon's
   * status) without reaching the daemon, so they change nothing. */
  failNext(method: FaultableMethod, error: PoolError | (() => PoolError), options: { readonly times?: number } = {}): void {
    this.#faults.add(method, { kind: "fail", error }, options.times ?? 1);
  }

  /** The next `times` calls of `method` never reach the daemon nor answer: they end at their
   * deadline (DeadlineExceededError), or when cancelled or closed (CancelledError). */
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

  /** The daemon's next `times` kernel calls `op` fail with `errno` (the fake kernel port's fault
   * injection): what the daemon does then is the daemon's own handling. */
  async failKernelCall(op: FakeOp, errno: KernelErrno, options: { readonly times?: number } = {}): Promise<void> {
    const { daemon } = await this.#shared.daemon.serving();
    daemon.kernel.failNext(op, errno, options.times ?? 1);
  }

  /** Throws an Error naming the first broken invariant: the daemon's (conservation of units,
   * no overlap), the kernel's populated bytes against the pool's records, the fd tokens'. */
  async assertConservation(): Promise<void> {
    const { daemon, server } = await this.#shared.daemon.serving();
    daemon.assertConservation();
    server.handlers.tokens.assertInvariants();
  }

  /** Everything the daemon holds, read as the admin reads it. */
  async snapshot(): Promise<FakePoolSnapshot> {
    const admin = this.#admin();
    try {
      const all = { allOwners: true };
      const [status, arenas, leases, policy, fragmentation] = await Promise.all([admin.getPoolStatus(), admin.listArenas(all), admin.listLeases(all), admin.getPolicy(), admin.getFragmentationMap(all)]);
      const byArena = (a: Arena, b: Arena): number => (a.arenaId < b.arenaId ? -1 : a.arenaId > b.arenaId ? 1 : 0);
      const byPlace = (a: Lease, b: Lease): number => (a.arenaId !== b.arenaId ? (a.arenaId < b.arenaId ? -1 : 1) : a.offsetBytes < b.offsetBytes ? -1 : a.offsetBytes > b.offsetBytes ? 1 : 0);
      return { status, arenas: arenas.sort(byArena), leases: leases.sort(byPlace), policy, fragmentation, events: [...this.#shared.events] };
    } finally {
      admin.close();
    }
  }

  /** SIGTERM's first half: the daemon drains (mutations answer UnavailableError, Watch streams end). */
  async drain(): Promise<void> {
    const { daemon } = await this.#shared.daemon.serving();
    await daemon.manager.drain();
  }

  /**
   * The owner process exits (default: this client's): the daemon sees its pidfd fire, deletes its
   * arenas and releases their leases (reason "owner-exited"); resolves with what it reported.
   * A later call by that identity is a new process with the same pid.
   */
  async simulateOwnerExit(identity: FakeIdentity = {}): Promise<OwnerExitReport> {
    const owner = credentialsOf(this.#shared, { ...this.#identity, ...identity });
    const admin = this.#admin();
    try {
      const owned = (await admin.listArenas({ allOwners: true })).filter((a) => a.owner.pid === owner.pid && a.owner.startTimeTicks === owner.startTimeTicks);
      const seen = this.#shared.events.length;
      for (const view of this.#shared.views) if (view.identity.pid === owner.pid) view.#link.dropConnection();
      this.#shared.daemon.exitProcess(owner.pid);
      if (owned.length === 0) return { deletedArenaCount: 0, releasedLeaseCount: 0, releasedUnitCount: 0 };
      const event = await this.#nextEvent(seen, (e) => e.kind === "owner-exited" && e.owner.pid === owner.pid);
      if (event.kind !== "owner-exited") throw new Error("unreachable");
      return { deletedArenaCount: event.deletedArenaCount, releasedLeaseCount: event.releasedLeaseCount, releasedUnitCount: event.releasedUnitCount };
    } finally {
      admin.close();
    }
  }

  /**
   * kill -9 of the daemon and a restart on the same journal. `keepFiles`: the arena files
   * survive (the systemd fd store), so arenas come back ACTIVE; otherwise they are DETACHED
   * until reattached (PoolClient's autoReattach does it for the arenas this client made).
   */
  async simulateDaemonRestart(options: { readonly keepFiles?: boolean } = {}): Promise<void> {
    this.#shared.recorder?.cancel();
    this.#shared.events.length = 0;
    await this.#shared.daemon.restart(options.keepFiles ?? false);
    this.#record();
  }

  /** Closes this client; the root client (made with `new`) also closes its views and stops the daemon. */
  override close(): void {
    this.#shared.views.delete(this);
    super.close();
    this.#link.close();
    if (!this.#root) return;
    this.#shared.recorder?.cancel();
    for (const view of [...this.#shared.views]) view.close();
    void this.#shared.daemon.close();
  }

  /** `close()`, then waits until the in-process daemon has stopped and its journal is gone. */
  async shutdown(): Promise<void> {
    this.close();
    await this.#shared.daemon.close();
  }

  #admin(): FakePoolClient {
    return this.as({ admin: true });
  }

  /** The admin's Watch of every owner, kept for `snapshot().events` and owner exits. */
  #record(): void {
    const admin = this.#admin();
    const stream = admin.watch({ allOwners: true });
    const events = this.#shared.events;
    this.#shared.recorder = {
      cancel: () => {
        stream.cancel();
        admin.close();
      },
    };
    void (async () => {
      try {
        for await (const event of stream) events.push(event);
      } catch {
        // Ended by a restart or by close.
      }
    })();
  }

  async #nextEvent(from: number, match: (event: PoolEvent) => boolean, timeoutMs = 10_000): Promise<PoolEvent> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const found = this.#shared.events.slice(from).find(match);
      if (found !== undefined) return found;
      if (Date.now() > until) throw new Error(`the in-process daemon reported no matching event within ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }
}

/** A caller's credentials now (its pid's current start time: a pid that exited is a new process). */
function credentialsOf(shared: Shared, identity: FakeIdentity): CallerCredentials {
  const base = shared.base;
  const pid = identity.pid ?? base.pid;
  const requested = identity.startTimeTicks ?? (pid === base.pid ? base.startTimeTicks : undefined);
  return {
    uid: identity.uid ?? base.uid,
    gid: identity.admin === true ? ADMIN_GID : (identity.gid ?? base.gid),
    pid,
    startTimeTicks: shared.daemon.startTimeFor(pid, requested),
  };
}
