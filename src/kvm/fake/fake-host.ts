/**
 * The fake machine: what every fake process shares — capabilities, the hugetlb pool, the live
 * files (for leak checks), the unix socket namespace, and the processes themselves. Each
 * `process()` is a FakeKernel: one process's view (its pid, fd table and mappings), so tests
 * can model a VMM and the daemon as two processes and pass fds between them.
 *
 * Invariants (assertInvariants): every live file has references; the hugetlb pages in use equal
 * what hugetlb memfds hold; every file's own invariants.
 */
import { PVM_6_18, type FakeCapabilities } from "./fake-capabilities.ts";
import type { FakeFileObject } from "./fake-file-object.ts";
import { FakeGuestMemfd } from "./fake-guest-memfd.ts";
import { FakeHugetlbPool } from "./fake-hugetlb-pool.ts";
import { FakeKernel } from "./fake-kernel.ts";
import { FakeMemfd } from "./fake-memfd.ts";
import type { FakeSeqpacketListener } from "./fake-seqpacket.ts";
import { FakeVm } from "./fake-vm.ts";
import { UNIT_BYTES } from "@gmempool/contract";
import { HUGETLB_PAGE_BYTES } from "@gmempool/sys";

export interface FakeProcessOptions {
  readonly pid?: number;
  readonly uid?: number;
  readonly gid?: number;
}

export interface LiveFile {
  readonly kind: FakeFileObject["kind"];
  readonly description: string;
  readonly populatedBytes: bigint;
  readonly refs: number;
}

export class FakeHost {
  readonly capabilities: FakeCapabilities;
  readonly hugetlb: FakeHugetlbPool;
  readonly #processes = new Map<number, FakeKernel>();
  readonly #exitWatchers = new Map<number, Set<() => void>>();
  readonly #listeners = new Map<string, FakeSeqpacketListener>();
  readonly #live = new Set<FakeFileObject>();
  /** Above Linux's largest pid_max (2^22), so that a fake process may take a real pid. */
  #nextPid = 4_200_000;
  /** Fake mmap addresses: 2 MiB-aligned, never reused, far from anything real. */
  #nextAddress = 0x7f00_0000_0000n;

  constructor(capabilities: FakeCapabilities = PVM_6_18) {
    this.capabilities = capabilities;
    this.hugetlb = new FakeHugetlbPool(capabilities.hugetlbCapacityPages);
  }

  /** A new process (a FakeKernel). Pids start above any real pid unless given. */
  process(options: FakeProcessOptions = {}): FakeKernel {
    let pid = options.pid;
    if (pid === undefined) {
      do pid = this.#nextPid++;
      while (this.#processes.has(pid));
    }
    if (this.#processes.has(pid)) throw new Error(`fake host: pid ${pid} is already running`);
    const kernel = new FakeKernel(this, { pid, uid: options.uid ?? 0, gid: options.gid ?? 0 });
    this.#processes.set(pid, kernel);
    return kernel;
  }

  isRunning(pid: number): boolean {
    return this.#processes.has(pid);
  }

  /** The running process `pid`. */
  processById(pid: number): FakeKernel {
    const process = this.#processes.get(pid);
    if (process === undefined) throw new Error(`fake host: no process ${pid}`);
    return process;
  }

  /**
   * The process exits: do_exit closes its fds (exit_files), drops its mappings (exit_mm) and its
   * sockets; pidfds watching it become readable.
   */
  exitProcess(pid: number): void {
    const process = this.#processes.get(pid);
    if (process === undefined) throw new Error(`fake host: no process ${pid}`);
    this.#processes.delete(pid);
    process.tearDown();
    for (const notify of this.#exitWatchers.get(pid) ?? []) notify();
    this.#exitWatchers.delete(pid);
  }

  /** Registers `notify` for `pid`'s exit; returns the unregister function. */
  watchExit(pid: number, notify: () => void): () => void {
    let watchers = this.#exitWatchers.get(pid);
    if (watchers === undefined) {
      watchers = new Set();
      this.#exitWatchers.set(pid, watchers);
    }
    watchers.add(notify);
    return () => {
      watchers.delete(notify);
    };
  }

  /** A file object came to life: listed until its last reference goes. */
  track<T extends FakeFileObject>(object: T): T {
    this.#live.add(object);
    object.onRelease((o) => this.#live.delete(o));
    return object;
  }

  /** Files with references anywhere on the host, with the memory each holds (leak checks). */
  liveFiles(): LiveFile[] {
    return [...this.#live].map((o) => ({ kind: o.kind, description: o.describe(), populatedBytes: o.populatedBytes, refs: o.refs }));
  }

  /** Bytes populated in all live files. */
  populatedBytes(): bigint {
    return [...this.#live].reduce((sum, o) => sum + o.populatedBytes, 0n);
  }

  allocateAddress(length: bigint): bigint {
    const address = this.#nextAddress;
    this.#nextAddress += ((length + UNIT_BYTES - 1n) / UNIT_BYTES + 1n) * UNIT_BYTES;
    return address;
  }

  listener(path: string): FakeSeqpacketListener | undefined {
    return this.#listeners.get(path);
  }

  /** Binds a listener to `path`; false when the path is taken (bind: EADDRINUSE). */
  bindListener(path: string, listener: FakeSeqpacketListener): boolean {
    if (this.#listeners.has(path)) return false;
    this.#listeners.set(path, listener);
    return true;
  }

  unbindListener(path: string, listener: FakeSeqpacketListener): void {
    if (this.#listeners.get(path) === listener) this.#listeners.delete(path);
  }

  assertInvariants(): void {
    this.hugetlb.assertInvariants();
    let hugetlbPages = 0n;
    for (const object of this.#live) {
      if (object.refs <= 0) throw new Error(`fake host: live file without references: ${object.describe()}`);
      if (object instanceof FakeGuestMemfd || object instanceof FakeVm) object.assertInvariants();
      if (object instanceof FakeMemfd) {
        object.assertInvariants();
        if (object.hugetlb !== null) hugetlbPages += object.populatedBytes / HUGETLB_PAGE_BYTES;
      }
    }
    if (hugetlbPages !== BigInt(this.hugetlb.inUse)) throw new Error(`fake host: hugetlb memfds hold ${hugetlbPages} pages, the pool counts ${this.hugetlb.inUse} in use`);
    for (const process of this.#processes.values()) process.assertFdTable();
  }
}

/** One fake process on a fresh fake host: the common case for unit tests. */
export function createFakeKernel(capabilities: FakeCapabilities = PVM_6_18): FakeKernel {
  return new FakeHost(capabilities).process();
}
