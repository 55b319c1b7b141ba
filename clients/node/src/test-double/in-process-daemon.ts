/**
 * The real daemon, in the test's process: the daemon's PoolManager on the fake kernel port
 * (FakeDaemon: one fake host, the daemon one fake process, each caller another), behind the
 * daemon's own handlers (InProcessServer), with its journal in a temporary directory removed on
 * close. Nothing of the daemon's logic is copied here: this file only starts, restarts and
 * stops it, and gives each caller identity its fake process and its connection.
 *
 * Identities are whatever the test says (SO_PEERCRED cannot lie, but here nothing is checked
 * against the real process): each distinct pid is one fake process on the host; the admin is
 * the caller whose gid is ADMIN_GID, the only admin group of this daemon's configuration, so
 * that being admin never depends on the uid the tests run as.
 */
import { rmSync } from "node:fs";
import type { DaemonConfig } from "../../../../src/daemon/config.ts";
import type { ArenaFdStore, PeerCredentials, ReserveMode } from "../../../../src/daemon/pool-service.ts";
import { FakeDaemon } from "../../../../src/daemon/testing/fake-daemon.ts";
import { testTempDirSync } from "../../../../src/daemon/testing/test-temp-dir.ts";
import { IN_PLACE_CONVERSION_V8, PVM_6_18, type FakeCapabilities } from "../../../../src/kvm/fake/fake-capabilities.ts";
import { FakeHost } from "../../../../src/kvm/fake/fake-host.ts";
import type { FakeKernel } from "../../../../src/kvm/fake/fake-kernel.ts";
import type { Fd } from "@gmempool/sys";
import { InProcessServer, type InProcessConnection } from "../../../../src/server/in-process/in-process-server.ts";
import { pino } from "pino";
import { FdBridge } from "./fd-bridge.ts";

/** The one admin group of the in-process daemon (`as({ admin: true })` calls with it). */
export const ADMIN_GID = 4_000_000_000;

export interface InProcessDaemonSettings {
  readonly capacityUnitCount: number;
  readonly reserveMode: ReserveMode;
  readonly guestMemfd: boolean;
  readonly inPlaceConversion: boolean;
  readonly arenasPerProcess: number | undefined;
  readonly configure: ((config: DaemonConfig) => DaemonConfig) | undefined;
}

/** A caller: its credentials and the start time its /proc/PID/stat would show. */
export interface CallerCredentials extends PeerCredentials {
  readonly startTimeTicks: bigint;
}

function capabilitiesOf(settings: InProcessDaemonSettings): FakeCapabilities {
  const base = settings.inPlaceConversion ? IN_PLACE_CONVERSION_V8 : PVM_6_18;
  return settings.guestMemfd ? base : { ...base, noDevKvm: true };
}

/** A systemd fd store that keeps the daemon's arena files across a restart (keepFiles). */
class KeptFiles implements ArenaFdStore {
  readonly #holder: FakeKernel;
  readonly #stored = new Map<string, Fd>();
  daemon: FakeKernel | undefined;

  constructor(holder: FakeKernel) {
    this.#holder = holder;
  }

  store(name: string, fd: Fd): void {
    this.remove(name);
    this.#stored.set(name, this.#holder.adoptFile(this.daemon!.fileForFd(fd, "sendmsg").get()));
  }

  remove(name: string): void {
    const fd = this.#stored.get(name);
    this.#stored.delete(name);
    if (fd !== undefined) this.#holder.close(fd);
  }

  /** What a new daemon inherits (LISTEN_FDS); `keep` false: nothing (the store was lost). */
  inherit(kernel: FakeKernel, keep: boolean): ReadonlyMap<string, Fd> {
    this.daemon = kernel;
    if (!keep) {
      for (const name of [...this.#stored.keys()]) this.remove(name);
      return new Map();
    }
    return new Map([...this.#stored].map(([name, fd]) => [name, kernel.adoptFile(this.#holder.fileForFd(fd, "sendmsg").get())]));
  }
}

export class InProcessDaemon {
  readonly host: FakeHost;
  readonly bridge = new FdBridge();
  readonly journalDir: string;
  readonly #settings: InProcessDaemonSettings;
  readonly #startTimes = new Map<number, bigint>();
  readonly #keptFiles: KeptFiles;
  #daemon: FakeDaemon | undefined;
  #server: InProcessServer | undefined;
  /** Serving now, or undefined while (re)starting; `#up` resolves when it serves again. */
  #up: Promise<void>;
  #generation = 0;
  readonly #restartListeners = new Set<() => void>();
  #closing: Promise<void> | undefined;
  #restarting = false;

  constructor(settings: InProcessDaemonSettings) {
    this.#settings = settings;
    this.host = new FakeHost(capabilitiesOf(settings));
    this.#keptFiles = new KeptFiles(this.host.process({ pid: 1 }));
    // Removed by close(); a test that never closes its double still leaves /tmp as it found it.
    this.journalDir = testTempDirSync("double-");
    this.#up = this.#start(false);
  }

  /** Bumped by each restart: connections of an older generation are gone. */
  get generation(): number {
    return this.#generation;
  }

  /** The daemon now serving (after start-up). Rejects if it failed to start. */
  async serving(): Promise<{ readonly daemon: FakeDaemon; readonly server: InProcessServer }> {
    await this.#up;
    if (this.#daemon === undefined || this.#server === undefined) throw new Error("the in-process daemon is not serving");
    return { daemon: this.#daemon, server: this.#server };
  }

  /** A restart is under way (the first start is not one: calls wait for it). */
  get restarting(): boolean {
    return this.#restarting;
  }

  /**
   * The start time of the process `pid` now: `requested` (or 1000 + pid) when first seen, one
   * more after each exit, since a new process with the same pid is another process.
   */
  startTimeFor(pid: number, requested: bigint | undefined): bigint {
    let ticks = this.#startTimes.get(pid);
    if (ticks === undefined) {
      ticks = requested ?? 1000n + BigInt(pid);
      this.#startTimes.set(pid, ticks);
    }
    return ticks;
  }

  /** The fake process of a caller (made when first seen, or again after it exited). */
  processOf(caller: CallerCredentials): FakeKernel {
    return this.host.isRunning(caller.pid) ? this.host.processById(caller.pid) : this.host.process({ pid: caller.pid, uid: caller.uid, gid: caller.gid });
  }

  /** A connection of `caller` to the daemon now serving. */
  async connect(caller: CallerCredentials): Promise<InProcessConnection> {
    const { server } = await this.serving();
    this.processOf(caller);
    return server.connect({ pid: caller.pid, uid: caller.uid, gid: caller.gid });
  }

  onRestart(listener: () => void): () => void {
    this.#restartListeners.add(listener);
    return () => this.#restartListeners.delete(listener);
  }

  /**
   * kill -9 of the daemon and a new one on the same journal, as systemd would restart it.
   * `keepFiles`: its arena files survive in the fd store (arenas come back ACTIVE); otherwise
   * they are lost with the process (arenas come back DETACHED until reattached).
   */
  async restart(keepFiles: boolean): Promise<void> {
    const { daemon, server } = await this.serving();
    this.#server = undefined;
    this.#restarting = true;
    this.#generation++;
    server.close();
    for (const listener of [...this.#restartListeners]) listener();
    await daemon.manager.simulateCrash();
    this.host.exitProcess(daemon.kernel.pid);
    this.bridge.processExited(daemon.kernel.pid);
    this.#up = this.#start(keepFiles).finally(() => {
      this.#restarting = false;
    });
    await this.#up;
  }

  /** The process `pid` exits: its fds close and its pidfds fire (the daemon reaps its arenas). */
  exitProcess(pid: number): void {
    if (!this.host.isRunning(pid)) return;
    this.host.exitProcess(pid);
    this.bridge.processExited(pid);
    this.#startTimes.set(pid, this.startTimeFor(pid, undefined) + 1n);
  }

  /** Stops the daemon and removes its journal. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      try {
        const { daemon, server } = await this.serving();
        server.close();
        await daemon.close();
      } catch {
        // It never started: nothing to stop.
      } finally {
        this.#server = undefined;
        rmSync(this.journalDir, { recursive: true, force: true });
      }
    })();
    return this.#closing;
  }

  async #start(keepFiles: boolean): Promise<void> {
    const settings = this.#settings;
    const daemon = await FakeDaemon.start({
      host: this.host,
      capacityUnits: settings.capacityUnitCount,
      reserveMode: settings.reserveMode,
      journalDir: this.journalDir,
      fdStore: this.#keptFiles,
      inheritFds: (kernel) => this.#keptFiles.inherit(kernel, keepFiles),
      startTimeOf: (pid) => (this.host.isRunning(pid) ? this.#startTimes.get(pid) : undefined),
      configure: (config) => {
        const pinned: DaemonConfig = {
          ...config,
          admin: { uids: [], gids: [ADMIN_GID] },
          limits: { ...config.limits, arenasPerProcess: settings.arenasPerProcess ?? config.limits.arenasPerProcess },
        };
        return settings.configure?.(pinned) ?? pinned;
      },
    });
    this.#daemon = daemon;
    this.#server = new InProcessServer({ service: daemon.manager, closeFd: (fd) => daemon.kernel.close(fd), logger: pino({ level: "silent" }) });
  }
}
