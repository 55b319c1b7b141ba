/**
 * The fake kernel port: one process of a FakeHost, implementing KernelPort in memory. The rules
 * live with the objects they govern (fake-vm.ts, fake-guest-memfd.ts, fake-memfd.ts,
 * fake-seqpacket.ts), each citing its kernel function; this file is the process: its fd table,
 * its mappings, the generic syscall checks (EBADF, ENOTTY, ENODEV ...) and the test hooks.
 *
 * Test hooks: `failNext(op, errno)` (fault injection), `pin`/`unpin` (an extra folio
 * reference, for EAGAIN from KVM_SET_MEMORY_ATTRIBUTES2), `pauseSlowCalls()` (hold fallocate
 * and madvise until released, to test interleavings) and `holdSlowCalls(match)` (hold only the
 * matching ones, and tell the test when one is held), `populatedBytes(fd)`, `mappings()`,
 * `openFds()` and the host's `liveFiles()` (leak checks), `exit()`.
 *
 * Invariants (assertFdTable): every fd-table entry and mapping holds a reference on a live file.
 */
import {
  asFd,
  fallocateModeName,
  type Fd,
  GUEST_MEMFD_LINK,
  GUEST_MEMFD_ST_MODE,
  HUGETLB_PAGE_BYTES,
  type KernelErrno,
  KernelError,
  PIDFD_LINK,
} from "@gmempool/sys";
import { fakeCheckExtension } from "./fake-capabilities.ts";
import { FakeFileObject, fail, hex } from "./fake-file-object.ts";
import { FakeGuestMemfd } from "./fake-guest-memfd.ts";
import type { FakeHost } from "./fake-host.ts";
import { FakeMemfd } from "./fake-memfd.ts";
import { FakePidfd } from "./fake-pidfd.ts";
import { CONNECT_NO_LISTENER, FakeSeqpacketListener, type FakeSocketOwner } from "./fake-seqpacket.ts";
import { FakeVm, type GuestMemfdArgument } from "./fake-vm.ts";
import { PAGE_BYTES } from "@gmempool/contract";
import type {
  FdAccess,
  FdIdentity,
  GuestMemfdAttributes,
  HugetlbPool,
  InPlaceConversion,
  KernelPort,
  KvmCapabilities,
  Mapping,
  MemfdKind,
  PeerCredentials,
  PidfdProcess,
  ProcessExitWatch,
  SeqpacketConnection,
  SeqpacketListener,
  UserMemoryRegion2,
  VmMemoryAttributes,
} from "../kernel-port.ts";

/** Operations `failNext` can fail: the port's methods and the socket operations. */
export type FakeOp =
  | Exclude<keyof KernelPort, "openFds" | "release" | "capabilities" | "hugetlbPool">
  | "send"
  | "receive"
  | "accept";

/** A call that yields to the event loop (and can be held): what `holdSlowCalls` matches on. */
export type SlowCall =
  | { readonly op: "fallocate"; readonly fd: Fd; readonly mode: number; readonly offset: bigint; readonly length: bigint }
  | { readonly op: "madvisePopulateWrite"; readonly mapping: Mapping; readonly offset: bigint; readonly length: bigint }
  | { readonly op: "setNrHugepages"; readonly pages: number };

/**
 * Slow calls held by `holdSlowCalls` until `release()`. A test awaits `held` to know that the
 * kernel call it wants to race with has started (and is stuck at the gate, its effect not yet
 * applied), and reads `waiting` to assert that it still is.
 */
export interface SlowCallHold {
  /** Resolves with the first call held. */
  readonly held: Promise<SlowCall>;
  /** Every call held so far, in arrival order. */
  readonly calls: readonly SlowCall[];
  /** Calls held right now (started, not yet let through). */
  readonly waiting: number;
  /** Lets the held calls (and later matching ones) through; the hold ends. */
  release(): void;
}

interface Hold {
  readonly match: (call: SlowCall) => boolean;
  readonly gate: Promise<void>;
  readonly calls: SlowCall[];
  readonly onHeld: (call: SlowCall) => void;
  waiting: number;
}

interface FdEntry {
  readonly file: FakeFileObject;
  readonly cloexec: boolean;
  /** The open file description's access mode (O_RDWR unless reopened: `reopen`). */
  readonly access: FdAccess;
}

interface FakeMapping {
  readonly file: FakeGuestMemfd | FakeMemfd;
  readonly offset: bigint;
  readonly length: bigint;
  readonly writable: boolean;
}

/** The syscall each op is reported as (matching LinuxKernel's messages). */
const SYSCALL: Record<FakeOp, string> = {
  checkExtension: "ioctl(KVM_CHECK_EXTENSION)",
  createVm: "ioctl(KVM_CREATE_VM)",
  createGuestMemfd: "ioctl(KVM_CREATE_GUEST_MEMFD)",
  setUserMemoryRegion2: "ioctl(KVM_SET_USER_MEMORY_REGION2)",
  setMemoryAttributes: "ioctl(KVM_SET_MEMORY_ATTRIBUTES)",
  setMemoryAttributes2: "ioctl(KVM_SET_MEMORY_ATTRIBUTES2)",
  fallocate: "fallocate",
  memfdCreate: "memfd_create",
  ftruncate: "ftruncate",
  identifyFd: "fstat",
  dupCloexec: "fcntl(F_DUPFD_CLOEXEC)",
  close: "close",
  mmap: "mmap(MAP_SHARED)",
  munmap: "munmap",
  readMapped: "process_vm_readv",
  writeMapped: "process_vm_writev",
  madvisePopulateWrite: "madvise(MADV_POPULATE_WRITE)",
  setNrHugepages: "write(nr_hugepages)",
  listenSeqpacket: "bind",
  connectSeqpacket: "connect",
  watchProcessExit: "pidfd_open",
  watchPidfd: "poll(pidfd)",
  pidfdProcess: "pidfd_get_pid",
  send: "sendmsg(SCM_RIGHTS)",
  receive: "recvmsg",
  accept: "accept4",
};

/** memfd_create: MFD_NAME_MAX_LEN (NAME_MAX - strlen("memfd:")). */
const MEMFD_NAME_MAX = 249;

const FAKE_ANON_INODE_DEVICE = 0xen;
const FAKE_SHMEM_DEVICE = 0x1n;

export class FakeKernel implements KernelPort, FakeSocketOwner {
  readonly host: FakeHost;
  readonly credentials: PeerCredentials;
  readonly #fds = new Map<number, FdEntry>();
  readonly #mappings = new Map<bigint, FakeMapping>();
  readonly #failures = new Map<FakeOp, KernelErrno[]>();
  readonly #sockets = new Set<{ close(): void }>();
  readonly #watches = new Set<ProcessExitWatch>();
  readonly #holds = new Set<Hold>();
  #exited = false;

  constructor(host: FakeHost, credentials: PeerCredentials) {
    this.host = host;
    this.credentials = credentials;
  }

  get pid(): number {
    return this.credentials.pid;
  }

  // ---- test hooks --------------------------------------------------------------------------

  /** The next `times` calls of `op` fail with `errno` (a KernelError naming the call). */
  failNext(op: FakeOp, errno: KernelErrno, times = 1): void {
    const queue = this.#failures.get(op) ?? [];
    for (let i = 0; i < times; i++) queue.push(errno);
    this.#failures.set(op, queue);
  }

  /** Throws the queued failure of `op`, if any (FakeSocketOwner). */
  injected(op: FakeOp, syscall = SYSCALL[op]): void {
    const errno = this.#failures.get(op)?.shift();
    if (errno !== undefined) throw new KernelError(syscall, errno, { detail: "injected by FakeKernel.failNext" });
  }

  /** An extra reference on the guest_memfd folio at `offset` (e.g. a GUP pin by a device). */
  pin(fd: Fd, offset: bigint): void {
    this.#guestMemfd(fd, "pin").pin(offset);
  }

  unpin(fd: Fd, offset: bigint): void {
    this.#guestMemfd(fd, "unpin").unpin(offset);
  }

  /** Bytes populated in the file behind `fd`. */
  populatedBytes(fd: Fd): bigint {
    return this.fileForFd(fd, "populatedBytes").populatedBytes;
  }

  /** Populated byte ranges of the file behind `fd`. */
  populatedRanges(fd: Fd): readonly (readonly [bigint, bigint])[] {
    const file = this.fileForFd(fd, "populatedRanges");
    return file instanceof FakeGuestMemfd || file instanceof FakeMemfd ? file.memory.populated.ranges() : [];
  }

  /** Live mappings of this process. */
  mappings(): Mapping[] {
    return [...this.#mappings.entries()].map(([address, m]) => ({ address, length: m.length }));
  }

  /**
   * Holds every fallocate and MADV_POPULATE_WRITE started from now on (they stay pending) until
   * the returned function is called.
   */
  pauseSlowCalls(): () => void {
    const hold = this.holdSlowCalls();
    return () => hold.release();
  }

  /**
   * Holds the slow calls (fallocate, MADV_POPULATE_WRITE, nr_hugepages) that `match` accepts,
   * from now until `release()`; the others run. A held call has done its checks (fd lookup,
   * injected failures) but not its effect, as a syscall blocked in the kernel.
   */
  holdSlowCalls(match: (call: SlowCall) => boolean = () => true): SlowCallHold {
    let open = (): void => undefined;
    let onHeld = (_call: SlowCall): void => undefined;
    const held = new Promise<SlowCall>((resolve) => (onHeld = resolve));
    const hold: Hold = { match, gate: new Promise((resolve) => (open = resolve)), calls: [], onHeld, waiting: 0 };
    this.#holds.add(hold);
    return {
      held,
      calls: hold.calls,
      get waiting() {
        return hold.waiting;
      },
      release: () => {
        this.#holds.delete(hold);
        open();
      },
    };
  }

  /** This process exits (FakeHost.exitProcess). */
  exit(): void {
    this.host.exitProcess(this.pid);
  }

  /** Called by the host when the process exits: fds, mappings, sockets and watches go. */
  tearDown(): void {
    this.#exited = true;
    for (const socket of [...this.#sockets]) socket.close();
    for (const watch of [...this.#watches]) watch.close();
    for (const [address, mapping] of [...this.#mappings]) {
      this.#mappings.delete(address);
      mapping.file.put();
    }
    for (const [fd, entry] of [...this.#fds]) {
      this.#fds.delete(fd);
      entry.file.put();
    }
  }

  assertFdTable(): void {
    for (const [fd, entry] of this.#fds) if (entry.file.refs <= 0) throw new Error(`fake process ${this.pid}: fd ${fd} points at a released file`);
    for (const [address, m] of this.#mappings) if (m.file.refs <= 0) throw new Error(`fake process ${this.pid}: mapping ${hex(address)} of a released file`);
  }

  assertInvariants(): void {
    this.host.assertInvariants();
  }

  // ---- fd table (FakeSocketOwner) ----------------------------------------------------------

  fileForFd(fd: Fd, syscall: string): FakeFileObject {
    const entry = this.#fds.get(fd);
    if (entry === undefined) fail(syscall, "EBADF", `fd ${fd}`);
    return entry.file;
  }

  /** Installs `file` (its reference handed over) with `access`: SCM_RIGHTS keeps the sender's. */
  adoptFile(file: FakeFileObject, access: FdAccess = "read-write"): Fd {
    return this.#install(file, true, access);
  }

  /** The access mode of `fd` (what SCM_RIGHTS carries with the file). */
  accessOf(fd: Fd): FdAccess {
    const entry = this.#fds.get(fd);
    if (entry === undefined) fail("fcntl(F_GETFL)", "EBADF", `fd ${fd}`);
    return entry.access;
  }

  /** open("/proc/self/fd/N", O_RDONLY | O_PATH | ...): a new description of the same file, opened `access`. */
  reopen(fd: Fd, access: FdAccess): Fd {
    return this.#install(this.fileForFd(fd, "open(/proc/self/fd)").get(), true, access);
  }

  forgetSocket(socket: { close(): void }): void {
    this.#sockets.delete(socket);
  }

  /** The lowest free fd (alloc_fd), from 3: 0..2 are stdio. Takes over one reference of `file`. */
  #install(file: FakeFileObject, cloexec: boolean, access: FdAccess = "read-write"): Fd {
    if (this.#exited) {
      file.put();
      fail("install fd", "ESRCH", `process ${this.pid} has exited`);
    }
    let fd = 3;
    while (this.#fds.has(fd)) fd++;
    this.#fds.set(fd, { file, cloexec, access });
    return asFd(fd);
  }

  #vm(fd: Fd, syscall: string): FakeVm {
    const file = this.fileForFd(fd, syscall);
    // A KVM VM ioctl on another kind of file reaches that file's ioctl handler: -ENOTTY.
    if (!(file instanceof FakeVm)) fail(syscall, "ENOTTY", `fd ${fd} is not a VM`);
    return file;
  }

  #guestMemfd(fd: Fd, syscall: string): FakeGuestMemfd {
    const file = this.fileForFd(fd, syscall);
    if (!(file instanceof FakeGuestMemfd)) fail(syscall, "ENOTTY", `fd ${fd} is not a guest_memfd`);
    return file;
  }

  /** Where slow calls yield: a later turn of the event loop, then every hold that matches. */
  async #slowCall(call: SlowCall): Promise<void> {
    await new Promise((resolve) => setImmediate(resolve));
    for (let hold = this.#holding(call); hold !== undefined; hold = this.#holding(call)) {
      hold.calls.push(call);
      hold.waiting++;
      hold.onHeld(call);
      await hold.gate;
      hold.waiting--;
    }
  }

  #holding(call: SlowCall): Hold | undefined {
    for (const hold of this.#holds) if (hold.match(call)) return hold;
    return undefined;
  }

  // ---- KVM ---------------------------------------------------------------------------------

  checkExtension(cap: number, vm?: Fd): number {
    this.injected("checkExtension");
    if (vm === undefined) return fakeCheckExtension(this.host.capabilities, cap);
    return this.#vm(vm, SYSCALL.checkExtension).checkExtension(this.pid, cap);
  }

  capabilities(): KvmCapabilities {
    const caps = this.host.capabilities;
    // LinuxKernel opens /dev/kvm first; without it every KVM call fails there.
    if (caps.noDevKvm === true) fail("open(/dev/kvm)", "ENOENT", "no /dev/kvm on this host");
    const usable = caps.privateMemoryVmTypes.filter((t) => caps.vmTypes.includes(t));
    const inPlaceConversion: InPlaceConversion = !caps.inPlaceConversion ? { state: "absent" } : usable.length === 0 ? { state: "unusable" } : { state: "usable", vmTypes: usable };
    return {
      apiVersion: 12,
      maxMemslots: caps.maxMemslots,
      userMemory2: true,
      memoryFaultInfo: true,
      memoryAttributes: BigInt(fakeCheckExtension(caps, 233)),
      guestMemfd: true,
      vmTypes: [...caps.vmTypes],
      preFaultMemory: caps.preFaultMemory,
      guestMemfdFlags: caps.guestMemfdFlags,
      inPlaceConversion,
    };
  }

  createVm(type: number): Fd {
    this.injected("createVm");
    if (this.host.capabilities.noDevKvm === true) fail("open(/dev/kvm)", "ENOENT", "no /dev/kvm on this host");
    // kvm_dev_ioctl_create_vm: the VM fd is installed with O_CLOEXEC.
    return this.#install(this.host.track(FakeVm.create(type, this.pid, this.host.capabilities)).get(), true);
  }

  createGuestMemfd(vm: Fd, size: bigint, flags: bigint): Fd {
    this.injected("createGuestMemfd");
    const gmem = this.#vm(vm, SYSCALL.createGuestMemfd).createGuestMemfd(this.pid, size, flags);
    // __kvm_gmem_create installs it WITHOUT O_CLOEXEC; the port sets FD_CLOEXEC (like LinuxKernel).
    return this.#install(this.host.track(gmem).get(), true);
  }

  setUserMemoryRegion2(vm: Fd, region: UserMemoryRegion2): void {
    this.injected("setUserMemoryRegion2");
    const target = this.#vm(vm, SYSCALL.setUserMemoryRegion2);
    let gmem: GuestMemfdArgument | undefined;
    if (region.guestMemfd !== undefined) {
      const entry = this.#fds.get(region.guestMemfd);
      gmem = entry === undefined ? "not-open" : entry.file instanceof FakeGuestMemfd ? entry.file : "not-a-guest_memfd";
    }
    target.setUserMemoryRegion2(this.pid, region, gmem);
  }

  setMemoryAttributes(vm: Fd, attributes: VmMemoryAttributes): void {
    this.injected("setMemoryAttributes");
    this.#vm(vm, SYSCALL.setMemoryAttributes).setMemoryAttributes(this.pid, attributes);
  }

  setMemoryAttributes2(gmem: Fd, attributes: GuestMemfdAttributes): void {
    this.injected("setMemoryAttributes2");
    const syscall = SYSCALL.setMemoryAttributes2;
    const file = this.fileForFd(gmem, syscall);
    // kvm_gmem_ioctl [proposed v8]; without it (or on a VM fd / memfd) the ioctl is unknown: -ENOTTY.
    if (!(file instanceof FakeGuestMemfd) || !this.host.capabilities.inPlaceConversion) fail(syscall, "ENOTTY");
    file.setAttributes(attributes.offset, attributes.size, attributes.attributes, 0n);
  }

  // ---- files ---------------------------------------------------------------------------------

  async fallocate(fd: Fd, mode: number, offset: bigint, length: bigint): Promise<void> {
    this.injected("fallocate");
    // fdget at the start of the syscall: the file stays referenced while the call runs. An
    // O_PATH fd is no fd to fdget, and vfs_fallocate wants FMODE_WRITE: EBADF for both.
    const access = this.accessOf(fd);
    if (access === "path" || access === "read-only") fail(`fallocate(${fallocateModeName(mode)})`, "EBADF", `fd ${fd} is opened ${access}`);
    const file = this.fileForFd(fd, "fallocate").get();
    try {
      await this.#slowCall({ op: "fallocate", fd, mode, offset, length });
      if (file instanceof FakeGuestMemfd || file instanceof FakeMemfd) file.fallocate(mode, offset, length);
      // vfs_fallocate: `if (!S_ISREG(inode->i_mode) && !S_ISBLK(inode->i_mode)) return -ENODEV;` (a VM fd).
      else fail(`fallocate(${fallocateModeName(mode)})`, "ENODEV", `fd ${fd} is a ${file.kind}`);
    } finally {
      file.put();
    }
  }

  memfdCreate(name: string, kind: MemfdKind): Fd {
    this.injected("memfdCreate");
    if (Buffer.byteLength(name) > MEMFD_NAME_MAX) fail("memfd_create", "EINVAL", `name of ${Buffer.byteLength(name)} bytes`);
    const memfd = new FakeMemfd(name, kind === "hugetlb-2m" ? this.host.hugetlb : null);
    return this.#install(this.host.track(memfd).get(), true);
  }

  ftruncate(fd: Fd, size: bigint): void {
    this.injected("ftruncate");
    const file = this.fileForFd(fd, "ftruncate");
    if (file instanceof FakeGuestMemfd) file.ftruncate();
    else if (file instanceof FakeMemfd) file.ftruncate(size);
    // do_sys_ftruncate: `if (!S_ISREG(inode->i_mode)) return -EINVAL;`
    else fail("ftruncate", "EINVAL", `fd ${fd} is a ${file.kind}`);
  }

  identifyFd(fd: Fd): FdIdentity {
    this.injected("identifyFd");
    const entry = this.#fds.get(fd);
    if (entry === undefined) fail("fstat", "EBADF", `fd ${fd}`);
    const { file, cloexec, access } = entry;
    // Anonymous inodes (guest_memfd, VM) live on the anon_inodefs device, memfds on shmem/hugetlbfs.
    const identity = { device: file instanceof FakeMemfd ? FAKE_SHMEM_DEVICE : FAKE_ANON_INODE_DEVICE, inode: file.inode, cloexec, access };
    if (file instanceof FakeGuestMemfd) return { kind: "guest_memfd", link: GUEST_MEMFD_LINK, size: file.size, mode: GUEST_MEMFD_ST_MODE, blockSize: Number(PAGE_BYTES), ...identity };
    if (file instanceof FakeMemfd) {
      return { kind: "memfd", link: `/memfd:${file.name} (deleted)`, size: file.size, mode: 0o100777, blockSize: Number(file.pageBytes), ...identity };
    }
    if (file instanceof FakePidfd) return { kind: "pidfd", link: PIDFD_LINK, size: 0n, mode: 0o600, blockSize: Number(PAGE_BYTES), ...identity };
    return { kind: "other", link: "anon_inode:kvm-vm", size: 0n, mode: 0o600, blockSize: Number(PAGE_BYTES), ...identity };
  }

  dupCloexec(fd: Fd): Fd {
    this.injected("dupCloexec");
    return this.#install(this.fileForFd(fd, SYSCALL.dupCloexec).get(), true, this.accessOf(fd));
  }

  close(fd: Fd): void {
    this.injected("close");
    const entry = this.#fds.get(fd);
    if (entry === undefined) fail("close", "EBADF", `fd ${fd}`);
    this.#fds.delete(fd);
    entry.file.put();
  }

  openFds(): readonly Fd[] {
    return [...this.#fds.keys()].sort((a, b) => a - b).map(asFd);
  }

  // ---- mappings ------------------------------------------------------------------------------

  mmap(fd: Fd, offset: bigint, length: bigint, prot: "read" | "read-write"): Mapping {
    this.injected("mmap");
    const syscall = SYSCALL.mmap;
    const file = this.fileForFd(fd, syscall);
    // do_mmap: a zero length or an unaligned offset is -EINVAL.
    if (length <= 0n || offset < 0n || offset % PAGE_BYTES !== 0n) fail(syscall, "EINVAL", `offset ${hex(offset)} length ${hex(length)}`);
    if (file instanceof FakeGuestMemfd) file.checkMmap();
    else if (file instanceof FakeMemfd) file.checkMmap(offset);
    // kvm_vm_fops has no .mmap: -ENODEV.
    else fail(syscall, "ENODEV", `fd ${fd} is a ${file.kind}`);
    const rounded = file instanceof FakeMemfd && file.hugetlb !== null ? ((length + HUGETLB_PAGE_BYTES - 1n) / HUGETLB_PAGE_BYTES) * HUGETLB_PAGE_BYTES : length;
    const address = this.host.allocateAddress(rounded);
    this.#mappings.set(address, { file: file.get(), offset, length, writable: prot === "read-write" });
    return { address, length };
  }

  #mapping(mapping: Mapping, offset: bigint, length: bigint): FakeMapping {
    const m = this.#mappings.get(mapping.address);
    if (m === undefined || m.length !== mapping.length) throw new RangeError(`not a live mapping of this port: ${hex(mapping.address)}+${hex(mapping.length)}`);
    if (offset < 0n || length < 0n || offset + length > mapping.length) throw new RangeError(`range ${hex(offset)}+${hex(length)} outside a mapping of ${hex(mapping.length)}`);
    return m;
  }

  munmap(mapping: Mapping): void {
    this.injected("munmap");
    const m = this.#mapping(mapping, 0n, 0n);
    this.#mappings.delete(mapping.address);
    m.file.put();
  }

  readMapped(mapping: Mapping, offset: bigint, length: number): Uint8Array {
    const m = this.#mapping(mapping, offset, BigInt(length));
    this.injected("readMapped");
    if (length === 0) return new Uint8Array(0);
    m.file.hostAccess(SYSCALL.readMapped, m.offset + offset, BigInt(length));
    return m.file.memory.read(m.offset + offset, length);
  }

  writeMapped(mapping: Mapping, offset: bigint, data: Uint8Array): void {
    const m = this.#mapping(mapping, offset, BigInt(data.length));
    this.injected("writeMapped");
    if (data.length === 0) return;
    // A store to a PROT_READ mapping faults; process_vm_writev reports it as EFAULT.
    if (!m.writable) fail(SYSCALL.writeMapped, "EFAULT", "the mapping is read-only");
    m.file.hostAccess(SYSCALL.writeMapped, m.offset + offset, BigInt(data.length));
    m.file.memory.write(m.offset + offset, data);
  }

  async madvisePopulateWrite(mapping: Mapping, offset: bigint, length: bigint): Promise<void> {
    const m = this.#mapping(mapping, offset, length);
    this.injected("madvisePopulateWrite");
    const syscall = SYSCALL.madvisePopulateWrite;
    // madvise: `if (!PAGE_ALIGNED(start)) return -EINVAL;` (our mappings start page-aligned).
    if (offset % PAGE_BYTES !== 0n) fail(syscall, "EINVAL", `offset ${hex(offset)}`);
    m.file.get();
    try {
      await this.#slowCall({ op: "madvisePopulateWrite", mapping, offset, length });
      if (length === 0n) return;
      // madvise_populate: write faults on a read-only mapping fail (-EFAULT); so do SIGBUS faults.
      if (!m.writable) fail(syscall, "EFAULT", "the mapping is read-only");
      const end = ((offset + length + PAGE_BYTES - 1n) / PAGE_BYTES) * PAGE_BYTES;
      m.file.hostAccess(syscall, m.offset + offset, end - offset);
    } finally {
      m.file.put();
    }
  }

  // ---- hugetlb pool --------------------------------------------------------------------------

  hugetlbPool(): HugetlbPool {
    return { nrHugepages: this.host.hugetlb.nr, freeHugepages: this.host.hugetlb.free };
  }

  async setNrHugepages(pages: number): Promise<number> {
    if (!Number.isInteger(pages) || pages < 0) throw new RangeError(`nr_hugepages must be a non-negative integer, got ${pages}`);
    this.injected("setNrHugepages");
    await this.#slowCall({ op: "setNrHugepages", pages });
    return this.host.hugetlb.setNr(pages);
  }

  // ---- fd passing and peers ------------------------------------------------------------------

  listenSeqpacket(path: string): SeqpacketListener {
    this.injected("listenSeqpacket");
    const listener: FakeSeqpacketListener = new FakeSeqpacketListener(path, this, () => {
      this.host.unbindListener(path, listener);
    });
    // unix_bind: the socket file exists already -> -EADDRINUSE.
    if (!this.host.bindListener(path, listener)) fail("bind", "EADDRINUSE", path);
    this.#sockets.add(listener);
    return listener;
  }

  connectSeqpacket(path: string): Promise<SeqpacketConnection> {
    try {
      this.injected("connectSeqpacket");
      const listener = this.host.listener(path);
      // unix_find_other: no socket file -> -ENOENT.
      if (listener === undefined) fail("connect", CONNECT_NO_LISTENER, path);
      const connection = listener.connectFrom(this);
      this.#sockets.add(connection);
      return Promise.resolve(connection);
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
  }

  watchProcessExit(pid: number): ProcessExitWatch {
    this.injected("watchProcessExit");
    // pidfd_open: no such process -> -ESRCH.
    if (!this.host.isRunning(pid)) fail("pidfd_open", "ESRCH", `pid ${pid}`);
    let resolveExit = (): void => undefined;
    const exited = new Promise<void>((resolve) => (resolveExit = resolve));
    let unwatch = (): void => undefined;
    const watch: ProcessExitWatch = {
      pid,
      exited,
      close: () => {
        unwatch();
        this.#watches.delete(watch);
      },
    };
    unwatch = this.host.watchExit(pid, () => {
      this.#watches.delete(watch);
      resolveExit();
    });
    this.#watches.add(watch);
    return watch;
  }

  /** Test hook for a VMM process: pidfd_open(pid, 0), an fd of this process (close-on-exec). */
  openPidfd(pid: number): Fd {
    // pidfd_open: no such process -> -ESRCH.
    if (!this.host.isRunning(pid)) fail("pidfd_open", "ESRCH", `pid ${pid}`);
    return this.#install(this.host.track(new FakePidfd(pid, (p, notify) => this.host.watchExit(p, notify))).get(), true);
  }

  pidfdProcess(pidfd: Fd): PidfdProcess {
    this.injected("pidfdProcess");
    const file = this.fileForFd(pidfd, SYSCALL.pidfdProcess);
    // pidfd_get_pid: not a pidfd -> -EBADF from the kernel's fdget; the port says EINVAL (pidfd-process.ts).
    if (!(file instanceof FakePidfd)) fail(SYSCALL.pidfdProcess, "EINVAL", `fd ${pidfd} is a ${file.kind}, not a pidfd`);
    if (file.exited) fail(SYSCALL.pidfdProcess, "ESRCH", `process ${file.pid} has exited`);
    const { pid, uid, gid } = this.host.processById(file.pid).credentials;
    return { pid, uid, gid };
  }

  watchPidfd(pidfd: Fd, pid: number): ProcessExitWatch {
    this.injected("watchPidfd");
    const file = this.fileForFd(pidfd, SYSCALL.watchPidfd);
    if (!(file instanceof FakePidfd)) fail(SYSCALL.watchPidfd, "EINVAL", `fd ${pidfd} is a ${file.kind}, not a pidfd`);
    let resolveExit = (): void => undefined;
    const exited = new Promise<void>((resolve) => (resolveExit = resolve));
    let unwatch = (): void => undefined;
    let closed = false;
    // The watch owns the pidfd: it closes it when the process exits or the watch is closed.
    const close = (): void => {
      if (closed) return;
      closed = true;
      unwatch();
      this.#watches.delete(watch);
      if (this.#fds.has(pidfd)) this.close(pidfd);
    };
    const watch: ProcessExitWatch = { pid, exited, close };
    this.#watches.add(watch);
    if (file.exited) {
      queueMicrotask(() => {
        close();
        resolveExit();
      });
      return watch;
    }
    unwatch = this.host.watchExit(file.pid, () => {
      close();
      resolveExit();
    });
    return watch;
  }

  release(): void {
    // The fake port has no fds of its own.
  }
}
