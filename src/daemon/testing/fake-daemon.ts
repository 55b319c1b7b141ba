/**
 * A PoolManager on the fake kernel, for tests (STYLE.md rule 6: substitute only at the kernel
 * port). The daemon is one fake process, each VMM another, on one FakeHost, so fds cross
 * between them as they would over SCM_RIGHTS, process exits close fds and fire pidfds, and a
 * "kill -9" of the daemon drops exactly what the kernel would drop.
 *
 * `assertConservation()` is the check the tests run after every step: the pool's invariants,
 * and the kernel's populated bytes per file equal to what the pool records for it (arena sides
 * and the reserve file), i.e. no unit lost and none counted twice, in the books AND in memory.
 */
import { pino } from "pino";
import type { Clock } from "../../kvm/clock.ts";
import { PVM_6_18, type FakeCapabilities } from "../../kvm/fake/fake-capabilities.ts";
import { FakeHost } from "../../kvm/fake/fake-host.ts";
import type { FakeKernel } from "../../kvm/fake/fake-kernel.ts";
import { type Fd, GUEST_MEMFD_FLAG_INIT_SHARED, GUEST_MEMFD_FLAG_MMAP, KVM_X86_DEFAULT_VM } from "@gmempool/sys";
import type { KernelPort } from "../../kvm/kernel-port.ts";
import { PAGE_BYTES, UNIT_BYTES } from "../../pool/index.ts";
import { populatedPredicate } from "../../pool/population-planner.ts";
import { DEFAULT_CONFIG, type DaemonConfig } from "../config.ts";
import { PoolManager } from "../pool-manager.ts";
import { testTempDir } from "./test-temp-dir.ts";
import type { ArenaFdStore, Caller, ReserveMode } from "../pool-service.ts";

export interface FakeDaemonOptions {
  readonly capabilities?: FakeCapabilities;
  readonly host?: FakeHost;
  readonly reserveMode?: ReserveMode;
  readonly capacityUnits?: number;
  readonly journalDir?: string;
  /** Changes to the default configuration. */
  readonly configure?: (config: DaemonConfig) => DaemonConfig;
  /** Wraps the daemon's kernel port (fault injection by call count). */
  readonly wrapKernel?: (kernel: FakeKernel) => KernelPort;
  /** Do not call start(). */
  readonly noStart?: boolean;
  /** The systemd fd store the daemon pushes arena files to. */
  readonly fdStore?: ArenaFdStore;
  /** Fds the new daemon process inherits (LISTEN_FDS), made in its fake process. */
  readonly inheritFds?: (kernel: FakeKernel) => ReadonlyMap<string, Fd>;
  /** The daemon's clock (a ManualClock to age request ids without sleeping); default: real. */
  readonly clock?: Clock;
  /** Field 22 of /proc/PID/stat of a running process (default 1000 + pid). */
  readonly startTimeOf?: (pid: number) => bigint | undefined;
}

export class FakeDaemon {
  readonly host: FakeHost;
  readonly kernel: FakeKernel;
  readonly manager: PoolManager;
  readonly journalDir: string;
  readonly options: FakeDaemonOptions;

  private constructor(host: FakeHost, kernel: FakeKernel, manager: PoolManager, journalDir: string, options: FakeDaemonOptions) {
    this.host = host;
    this.kernel = kernel;
    this.manager = manager;
    this.journalDir = journalDir;
    this.options = options;
  }

  static async start(options: FakeDaemonOptions = {}): Promise<FakeDaemon> {
    const host = options.host ?? new FakeHost(options.capabilities ?? PVM_6_18);
    const kernel = host.process({ uid: 0, gid: 0 });
    const journalDir = options.journalDir ?? (await testTempDir("journal-"));
    const base: DaemonConfig = {
      ...DEFAULT_CONFIG,
      // Inline reserve punches by default: `assertConservation` can then check the reserve
      // file at any quiescent moment (background mode: `settle()` first).
      pool: { ...DEFAULT_CONFIG.pool, capacityUnits: options.capacityUnits ?? 64, maxStepUnits: 4, reservePunch: "inline" },
      journal: { ...DEFAULT_CONFIG.journal, fsync: false },
    };
    const config = options.configure?.(base) ?? base;
    const manager = new PoolManager({
      config,
      kernel: options.wrapKernel?.(kernel) ?? kernel,
      logger: pino({ level: process.env["GMEMPOOL_TEST_LOG"] ?? "silent" }),
      journalDir,
      reserveMode: options.reserveMode ?? "gmem",
      processStartTime: options.startTimeOf ?? ((pid) => (host.isRunning(pid) ? 1000n + BigInt(pid) : undefined)),
      daemonVersion: "test",
      ...(options.fdStore === undefined ? {} : { fdStore: options.fdStore }),
      ...(options.inheritFds === undefined ? {} : { inheritedFds: options.inheritFds(kernel) }),
      ...(options.clock === undefined ? {} : { clock: options.clock }),
    });
    const daemon = new FakeDaemon(host, kernel, manager, journalDir, options);
    if (options.noStart !== true) await manager.start();
    return daemon;
  }

  /** A VMM process on the same host. */
  vmm(options: { uid?: number; gid?: number } = {}): FakeVmm {
    return new FakeVmm(this, this.host.process({ uid: options.uid ?? 1000, gid: options.gid ?? 1000 }));
  }

  /** kill -9 of the daemon, then a new daemon on the same journal (and host). */
  async crashAndRestart(overrides: Partial<FakeDaemonOptions> = {}): Promise<FakeDaemon> {
    await this.manager.simulateCrash();
    this.host.exitProcess(this.kernel.pid);
    return FakeDaemon.start({ ...this.options, ...overrides, host: this.host, journalDir: this.journalDir });
  }

  async close(): Promise<void> {
    await this.manager.close();
  }

  /** Waits for background reserve punches (config `pool.reserve_punch = "background"`). */
  async settle(): Promise<void> {
    await this.manager.reserveIdle();
  }

  /**
   * Everything a client or the host can observe of this daemon, as the admin sees it: the pool
   * status, every arena and lease, the policy, the fragmentation map (without its time and the
   * host's buddyinfo, which change by themselves), and in the kernel the daemon's open fds and
   * the populated ranges of every arena file and of the reserve. A refused call must leave it
   * deep-equal (pool.proto: every mutating RPC completes or changes nothing).
   */
  observableState(): unknown {
    const admin = this.manager.identify(this.kernel.credentials);
    const all = { allOwners: true };
    const { time: _time, kernelBuddyZones: _zones, ...map } = this.manager.getFragmentationMap(admin, { arenaId: "", ...all });
    const arenas = this.manager.listArenas(admin, all);
    const reserveFd = this.manager.reserveFd;
    return {
      status: this.manager.getPoolStatus(admin),
      arenas,
      leases: this.manager.listLeases(admin, { arenaId: "", ...all }),
      policy: this.manager.getPolicy(admin),
      map,
      kernel: {
        openFds: this.kernel.openFds(),
        arenaFiles: arenas.map((a) => [a.arenaId, (this.manager.arenaFds(a.arenaId) ?? []).map((fd) => this.kernel.populatedRanges(fd))]),
        reserve: reserveFd === undefined ? [] : this.kernel.populatedRanges(reserveFd),
      },
    };
  }

  /** Invariants plus: kernel populated bytes per file == the pool's record (when quiescent). */
  assertConservation(): void {
    this.manager.assertInvariants();
    this.host.assertInvariants();
    const pool = this.manager.pool;
    if (pool.pendingPlanCount > 0) return;
    for (const arena of pool.arenas()) {
      const fds = this.manager.arenaFds(arena.id);
      if (fds === undefined) continue;
      for (let side = 0 as 0 | 1; side < arena.sides; side++) {
        let pages = 0;
        for (const lease of arena.leases.values()) pages += lease.pages.count(0, lease.unitCount * 512, populatedPredicate(side));
        const actual = this.kernel.populatedBytes(fds[side]!);
        const expected = BigInt(pages) * BigInt(PAGE_BYTES);
        if (actual !== expected) throw new Error(`arena "${arena.id}" side ${side}: kernel holds ${actual} bytes, the pool records ${expected}`);
      }
    }
    const reserveFd = this.manager.reserveFd;
    if (reserveFd !== undefined) {
      const actual = this.kernel.populatedBytes(reserveFd);
      // Reserved units (claims' reservations) are held in the reserve file like free ones.
      const held = pool.reserve.freeUnits + pool.reserve.reservedUnits;
      const expected = BigInt(held + this.manager.reserveHeldTwiceUnits) * BigInt(UNIT_BYTES);
      if (actual !== expected) throw new Error(`reserve file holds ${actual} bytes, the pool counts ${pool.reserve.freeUnits} free + ${pool.reserve.reservedUnits} reserved units (${expected} bytes)`);
    }
  }
}

/** A VMM: its own process, VM and guest_memfds. */
export class FakeVmm {
  readonly daemon: FakeDaemon;
  readonly kernel: FakeKernel;
  #vm: Fd | undefined;

  constructor(daemon: FakeDaemon, kernel: FakeKernel) {
    this.daemon = daemon;
    this.kernel = kernel;
  }

  get pid(): number {
    return this.kernel.pid;
  }

  /** The Caller the server would make from this process's SO_PEERCRED, with `daemon`'s manager. */
  caller(daemon: FakeDaemon = this.daemon): Caller {
    return daemon.manager.identify(this.kernel.credentials);
  }

  /** KVM_CREATE_VM (once) + KVM_CREATE_GUEST_MEMFD of `units` units. */
  createGuestMemfd(units: number, flags: bigint = GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_INIT_SHARED, vmType = KVM_X86_DEFAULT_VM): Fd {
    this.#vm ??= this.kernel.createVm(vmType);
    return this.kernel.createGuestMemfd(this.#vm, BigInt(units) * BigInt(UNIT_BYTES), flags);
  }

  /**
   * Sends `fd` to the daemon as SCM_RIGHTS would and runs `call` with the daemon's copy; the
   * copy is then closed, as the server closes a token's fd once the call is over.
   */
  async withSentFd<T>(fd: Fd, call: (daemonFd: Fd) => Promise<T>, daemon: FakeDaemon = this.daemon): Promise<T> {
    const copy = daemon.kernel.adoptFile(this.kernel.fileForFd(fd, "sendmsg").get(), this.kernel.accessOf(fd));
    try {
      return await call(copy);
    } finally {
      daemon.kernel.close(copy);
    }
  }

  /** The VMM process exits (its fds close, pidfds fire). */
  exit(): void {
    this.kernel.exit();
  }
}
