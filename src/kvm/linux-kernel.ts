/**
 * The real kernel port: koffi 3 calls into libc (libc.ts), ioctl numbers computed from struct
 * sizes (ioctl-numbers.ts), slow calls on the libuv threadpool behind an in-flight limit.
 *
 * Ownership: the port owns only its /dev/kvm fd (opened on first use, closed by `release()`)
 * and the bookkeeping of mappings it made. Everything it returns is the caller's; `openFds()`
 * lists what was returned and not yet closed through the port, for leak checks.
 */
import { openSync, readFileSync, readlinkSync } from "node:fs";
import koffi from "koffi";
import { writeFile } from "node:fs/promises";
import { asyncSyscall } from "./async-syscall.ts";
import {
  asFd,
  check,
  encodeStruct,
  errnoNumber,
  dupCloexec,
  fallocateModeName,
  type Fd,
  GUEST_MEMFD_LINK,
  PIDFD_LINK,
  iovec,
  isCloexec,
  type KernelErrno,
  KernelError,
  kernelError,
  KVM_CAP_GUEST_MEMFD,
  KVM_CAP_GUEST_MEMFD_FLAGS,
  KVM_CAP_MEMORY_ATTRIBUTES,
  KVM_CAP_MEMORY_FAULT_INFO,
  KVM_CAP_NR_MEMSLOTS,
  KVM_CAP_PRE_FAULT_MEMORY,
  KVM_CAP_USER_MEMORY2,
  KVM_CAP_VM_TYPES,
  KVM_CHECK_EXTENSION,
  KVM_CREATE_GUEST_MEMFD,
  kvm_create_guest_memfd,
  KVM_CREATE_VM,
  KVM_GET_API_VERSION,
  kvm_memory_attributes,
  kvm_memory_attributes2,
  KVM_SET_MEMORY_ATTRIBUTES,
  KVM_SET_MEMORY_ATTRIBUTES2,
  KVM_SET_USER_MEMORY_REGION2,
  kvm_userspace_memory_region2,
  lastErrno,
  libc,
  MADV_POPULATE_WRITE,
  MAP_FAILED,
  MAP_SHARED,
  MEMFD_LINK_PREFIX,
  MFD_CLOEXEC,
  MFD_HUGE_2MB,
  MFD_HUGETLB,
  PROT_READ,
  PROT_WRITE,
  readU64,
  setCloexec,
  stableBuffer,
  stat,
} from "@gmempool/sys";
import { InFlightLimit } from "./in-flight-limit.ts";
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
  PidfdProcess,
  ProcessExitWatch,
  SeqpacketConnection,
  SeqpacketListener,
  UserMemoryRegion2,
  VmMemoryAttributes,
} from "./kernel-port.ts";
import { readPidfdProcess } from "./pidfd-process.ts";
import { LinuxProcessExitWatch } from "./process-exit-watch.ts";
import { connectSeqpacket, LinuxSeqpacketListener, type FdTracker } from "./seqpacket.ts";

/** The 2 MiB pool in sysfs; the same pool as /proc/sys/vm/nr_hugepages when 2 MiB is the default size. */
const HUGEPAGES_2M = "/sys/kernel/mm/hugepages/hugepages-2048kB";

/**
 * Default in-flight limit for slow calls, across all callers of one port. Measured with bench
 * kernel-throughput on the 2-vCPU PVM guest (docs/kernel-port.md): 2–8 parallel 2 MiB
 * fallocates perform alike (they hide koffi's ~0.1 ms round trip per call); more only queue on
 * libuv's 4 threads and delay the daemon's own file I/O there.
 */
export const DEFAULT_MAX_IN_FLIGHT = 8;

export interface LinuxKernelOptions {
  /** Most slow calls (fallocate, MADV_POPULATE_WRITE) running at once; at most 256 (koffi's queue). */
  readonly maxInFlight?: number;
  /** Path of the KVM device (default /dev/kvm). */
  readonly kvmDevice?: string;
}

function fsErrno(error: unknown): KernelErrno {
  const code = (error as { code?: unknown }).code;
  return typeof code === "string" && /^E[A-Z0-9]+$/.test(code) ? (code as KernelErrno) : "EIO";
}

const hex = (value: bigint): string => `0x${value.toString(16)}`;

export class LinuxKernel implements KernelPort {
  readonly #limit: InFlightLimit;
  readonly #kvmDevice: string;
  #kvmFd: Fd | null = null;
  #capabilities: KvmCapabilities | undefined;
  /** Fds returned to callers and not closed through the port. */
  readonly #open = new Set<Fd>();
  /** Mappings made by mmap and not unmapped: address -> length. Guards every access. */
  readonly #mappings = new Map<bigint, bigint>();
  readonly #tracker: FdTracker = { adopt: (fd) => this.#track(fd) };

  constructor(options: LinuxKernelOptions = {}) {
    const maxInFlight = options.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT;
    if (maxInFlight > 256) throw new RangeError(`maxInFlight ${maxInFlight} exceeds koffi's 256 queued async calls`);
    this.#limit = new InFlightLimit(maxInFlight);
    this.#kvmDevice = options.kvmDevice ?? "/dev/kvm";
  }

  #track(fd: Fd): Fd {
    this.#open.add(fd);
    return fd;
  }

  /** The port's own /dev/kvm fd (Node opens files O_CLOEXEC). */
  #kvm(): Fd {
    if (this.#kvmFd === null) {
      try {
        this.#kvmFd = asFd(openSync(this.#kvmDevice, "r+"));
      } catch (error) {
        throw new KernelError("open", fsErrno(error), { detail: this.#kvmDevice, cause: error });
      }
    }
    return this.#kvmFd;
  }

  #ioctl(fd: Fd, request: number, name: string, arg: Buffer | number, detail?: string): number {
    const result = typeof arg === "number" ? libc.ioctl(fd, request, "unsigned long", arg) : libc.ioctl(fd, request, "void *", arg);
    return check(result, `ioctl(${name})`, detail);
  }

  // ---- KVM ---------------------------------------------------------------------------------

  checkExtension(cap: number, vm?: Fd): number {
    return this.#ioctl(vm ?? this.#kvm(), KVM_CHECK_EXTENSION, "KVM_CHECK_EXTENSION", cap, `cap ${cap}`);
  }

  capabilities(): KvmCapabilities {
    if (this.#capabilities !== undefined) return this.#capabilities;
    const kvm = this.#kvm();
    const vmTypesMask = this.checkExtension(KVM_CAP_VM_TYPES);
    // Before KVM_CAP_VM_TYPES (6.8?) only the default type existed.
    const vmTypes = vmTypesMask === 0 ? [0] : [...Array(32).keys()].filter((t) => (vmTypesMask & (1 << t)) !== 0);
    this.#capabilities = {
      apiVersion: this.#ioctl(kvm, KVM_GET_API_VERSION, "KVM_GET_API_VERSION", 0),
      maxMemslots: this.checkExtension(KVM_CAP_NR_MEMSLOTS),
      userMemory2: this.checkExtension(KVM_CAP_USER_MEMORY2) > 0,
      memoryFaultInfo: this.checkExtension(KVM_CAP_MEMORY_FAULT_INFO) > 0,
      memoryAttributes: BigInt(this.checkExtension(KVM_CAP_MEMORY_ATTRIBUTES)),
      guestMemfd: this.checkExtension(KVM_CAP_GUEST_MEMFD) > 0,
      vmTypes,
      preFaultMemory: this.checkExtension(KVM_CAP_PRE_FAULT_MEMORY) > 0,
      guestMemfdFlags: BigInt(this.checkExtension(KVM_CAP_GUEST_MEMFD_FLAGS)),
      inPlaceConversion: this.#probeInPlaceConversion(vmTypes),
    };
    return this.#capabilities;
  }

  /**
   * Tries KVM_SET_MEMORY_ATTRIBUTES2 (to shared, 4 KiB) on a scratch guest_memfd of a scratch VM
   * of each type: ENOTTY means the ioctl does not exist at all; EINVAL means the VM type has no
   * private memory; 0 means it works.
   */
  #probeInPlaceConversion(vmTypes: readonly number[]): InPlaceConversion {
    const usable: number[] = [];
    for (const type of vmTypes) {
      let vm: Fd | undefined;
      let gmem: Fd | undefined;
      try {
        vm = this.createVm(type);
        gmem = this.createGuestMemfd(vm, PAGE_BYTES, 0n);
        this.setMemoryAttributes2(gmem, { offset: 0n, size: PAGE_BYTES, attributes: 0n });
        usable.push(type);
      } catch (error) {
        if (error instanceof KernelError && error.errno === "ENOTTY" && error.syscall.includes("KVM_SET_MEMORY_ATTRIBUTES2")) return { state: "absent" };
        // EINVAL (no private memory on this type) or a type that cannot be created here.
      } finally {
        if (gmem !== undefined) this.close(gmem);
        if (vm !== undefined) this.close(vm);
      }
    }
    return usable.length > 0 ? { state: "usable", vmTypes: usable } : { state: "unusable" };
  }

  createVm(type: number): Fd {
    // kvm_dev_ioctl_create_vm installs the VM fd with O_CLOEXEC.
    return this.#track(asFd(this.#ioctl(this.#kvm(), KVM_CREATE_VM, "KVM_CREATE_VM", type, `type ${type}`)));
  }

  createGuestMemfd(vm: Fd, size: bigint, flags: bigint): Fd {
    const arg = encodeStruct(kvm_create_guest_memfd, { size, flags });
    const fd = asFd(this.#ioctl(vm, KVM_CREATE_GUEST_MEMFD, "KVM_CREATE_GUEST_MEMFD", arg, `size ${hex(size)} flags ${hex(flags)}`));
    // __kvm_gmem_create installs the fd without O_CLOEXEC (KERNEL.md §3): a VMM we exec must not
    // inherit it, so set it before anything else can happen.
    try {
      setCloexec(fd);
    } catch (error) {
      libc.close(fd);
      throw error;
    }
    return this.#track(fd);
  }

  setUserMemoryRegion2(vm: Fd, region: UserMemoryRegion2): void {
    const arg = encodeStruct(kvm_userspace_memory_region2, {
      slot: region.slot,
      flags: region.flags,
      guest_phys_addr: region.guestPhysAddr,
      memory_size: region.memorySize,
      userspace_addr: region.userspaceAddr,
      guest_memfd_offset: region.guestMemfdOffset ?? 0n,
      guest_memfd: region.guestMemfd ?? 0,
    });
    this.#ioctl(vm, KVM_SET_USER_MEMORY_REGION2, "KVM_SET_USER_MEMORY_REGION2", arg, `slot ${region.slot} gpa ${hex(region.guestPhysAddr)} size ${hex(region.memorySize)}`);
  }

  setMemoryAttributes(vm: Fd, attributes: VmMemoryAttributes): void {
    const arg = encodeStruct(kvm_memory_attributes, { address: attributes.address, size: attributes.size, attributes: attributes.attributes });
    this.#ioctl(vm, KVM_SET_MEMORY_ATTRIBUTES, "KVM_SET_MEMORY_ATTRIBUTES", arg, `gpa ${hex(attributes.address)} size ${hex(attributes.size)}`);
  }

  setMemoryAttributes2(gmem: Fd, attributes: GuestMemfdAttributes): void {
    const arg = encodeStruct(kvm_memory_attributes2, { offset: attributes.offset, size: attributes.size, attributes: attributes.attributes });
    if (libc.ioctl(gmem, KVM_SET_MEMORY_ATTRIBUTES2, "void *", arg) !== -1) return;
    const errno = lastErrno();
    const detail = `offset ${hex(attributes.offset)} size ${hex(attributes.size)} attributes ${hex(attributes.attributes)}`;
    if (errno === errnoNumber("EAGAIN")) {
      throw new KernelError("ioctl(KVM_SET_MEMORY_ATTRIBUTES2)", "EAGAIN", { errorOffset: readU64(arg, kvm_memory_attributes2, "error_offset"), detail });
    }
    throw kernelError("ioctl(KVM_SET_MEMORY_ATTRIBUTES2)", errno, detail);
  }

  // ---- files ---------------------------------------------------------------------------------

  async fallocate(fd: Fd, mode: number, offset: bigint, length: bigint): Promise<void> {
    const { result, errno } = await this.#limit.run(() => asyncSyscall(libc.fallocate, [fd, mode, offset, length]));
    if (result === -1) throw kernelError(`fallocate(${fallocateModeName(mode)})`, errno, `fd ${fd} offset ${hex(offset)} length ${hex(length)}`);
  }

  memfdCreate(name: string, kind: MemfdKind): Fd {
    const flags = MFD_CLOEXEC | (kind === "hugetlb-2m" ? MFD_HUGETLB | MFD_HUGE_2MB : 0);
    return this.#track(asFd(check(libc.memfd_create(name, flags), kind === "hugetlb-2m" ? "memfd_create(MFD_HUGETLB|MFD_HUGE_2MB)" : "memfd_create", name)));
  }

  ftruncate(fd: Fd, size: bigint): void {
    check(libc.ftruncate(fd, size), "ftruncate", `fd ${fd} size ${hex(size)}`);
  }

  identifyFd(fd: Fd): FdIdentity {
    const buffer = stableBuffer(stat.size);
    check(libc.fstat(fd, buffer), "fstat", `fd ${fd}`);
    const cloexec = isCloexec(fd);
    const access = accessOfFlags(check(libc.fcntl(fd, F_GETFL, "int", 0), "fcntl(F_GETFL)", `fd ${fd}`));
    let link: string;
    try {
      link = readlinkSync(`/proc/self/fd/${fd}`);
    } catch (error) {
      throw new KernelError("readlink(/proc/self/fd)", fsErrno(error), { detail: `fd ${fd}`, cause: error });
    }
    return {
      kind: link === GUEST_MEMFD_LINK ? "guest_memfd" : link.startsWith(MEMFD_LINK_PREFIX) ? "memfd" : link === PIDFD_LINK ? "pidfd" : "other",
      link,
      size: buffer.readBigInt64LE(stat.members?.["st_size"]?.offset ?? 48),
      mode: buffer.readUInt32LE(stat.members?.["st_mode"]?.offset ?? 24),
      blockSize: Number(buffer.readBigInt64LE(stat.members?.["st_blksize"]?.offset ?? 56)),
      cloexec,
      access,
      device: buffer.readBigUInt64LE(stat.members?.["st_dev"]?.offset ?? 0),
      inode: buffer.readBigUInt64LE(stat.members?.["st_ino"]?.offset ?? 8),
    };
  }

  dupCloexec(fd: Fd): Fd {
    return this.#track(dupCloexec(fd));
  }

  close(fd: Fd): void {
    // close(2) releases the fd even when it reports an error (except EBADF: it was not open).
    this.#open.delete(fd);
    check(libc.close(fd), "close", `fd ${fd}`);
  }

  openFds(): readonly Fd[] {
    return [...this.#open].sort((a, b) => a - b);
  }

  // ---- mappings ------------------------------------------------------------------------------

  mmap(fd: Fd, offset: bigint, length: bigint, prot: "read" | "read-write"): Mapping {
    const protBits = prot === "read" ? PROT_READ : PROT_READ | PROT_WRITE;
    const address = libc.mmap(null, length, protBits, MAP_SHARED, fd, offset);
    if (address === MAP_FAILED) throw kernelError("mmap(MAP_SHARED)", lastErrno(), `fd ${fd} offset ${hex(offset)} length ${hex(length)}`);
    this.#mappings.set(address, length);
    return { address, length };
  }

  munmap(mapping: Mapping): void {
    this.#checkMapping(mapping, 0n, 0n);
    check(libc.munmap(mapping.address, mapping.length), "munmap", `address ${hex(mapping.address)}`);
    this.#mappings.delete(mapping.address);
  }

  /** Only mappings this port made, and only inside them: a stray address would corrupt the heap. */
  #checkMapping(mapping: Mapping, offset: bigint, length: bigint): void {
    const known = this.#mappings.get(mapping.address);
    if (known === undefined || known !== mapping.length) throw new RangeError(`not a live mapping of this port: ${hex(mapping.address)}+${hex(mapping.length)}`);
    if (offset < 0n || length < 0n || offset + length > mapping.length) throw new RangeError(`range ${hex(offset)}+${hex(length)} outside a mapping of ${hex(mapping.length)}`);
  }

  /** process_vm_readv/writev on ourselves: a fault is EFAULT, not a SIGBUS that kills the daemon. */
  #copy(direction: "read" | "write", mapping: Mapping, offset: bigint, buffer: Buffer): void {
    const local = encodeStruct(iovec, { iov_base: koffi.address(buffer), iov_len: buffer.length });
    const remote = encodeStruct(iovec, { iov_base: mapping.address + offset, iov_len: buffer.length });
    const call = direction === "read" ? libc.process_vm_readv : libc.process_vm_writev;
    const name = direction === "read" ? "process_vm_readv" : "process_vm_writev";
    const copied = call(process.pid, local, 1, remote, 1, 0);
    if (copied === -1) throw kernelError(name, lastErrno(), `mapping offset ${hex(offset)} length ${buffer.length}: the page is not accessible to the host (a load or store would be SIGBUS)`);
    if (copied !== buffer.length) {
      throw new KernelError(name, "EFAULT", { detail: `copied ${copied} of ${buffer.length} bytes at mapping offset ${hex(offset)}: the next page is not accessible to the host (SIGBUS)` });
    }
  }

  readMapped(mapping: Mapping, offset: bigint, length: number): Uint8Array {
    this.#checkMapping(mapping, offset, BigInt(length));
    const buffer = stableBuffer(length);
    if (length > 0) this.#copy("read", mapping, offset, buffer);
    return new Uint8Array(buffer.buffer, buffer.byteOffset, length);
  }

  writeMapped(mapping: Mapping, offset: bigint, data: Uint8Array): void {
    this.#checkMapping(mapping, offset, BigInt(data.length));
    const buffer = stableBuffer(data.length);
    buffer.set(data);
    if (data.length > 0) this.#copy("write", mapping, offset, buffer);
  }

  async madvisePopulateWrite(mapping: Mapping, offset: bigint, length: bigint): Promise<void> {
    this.#checkMapping(mapping, offset, length);
    const { result, errno } = await this.#limit.run(() => asyncSyscall(libc.madvise, [mapping.address + offset, length, MADV_POPULATE_WRITE]));
    if (result === -1) throw kernelError("madvise(MADV_POPULATE_WRITE)", errno, `mapping offset ${hex(offset)} length ${hex(length)}`);
  }

  // ---- hugetlb pool --------------------------------------------------------------------------

  hugetlbPool(): HugetlbPool {
    const read = (name: string): number => {
      try {
        return Number.parseInt(readFileSync(`${HUGEPAGES_2M}/${name}`, "utf8").trim(), 10);
      } catch (error) {
        throw new KernelError(`read(${HUGEPAGES_2M}/${name})`, fsErrno(error), { cause: error });
      }
    };
    return { nrHugepages: read("nr_hugepages"), freeHugepages: read("free_hugepages") };
  }

  async setNrHugepages(pages: number): Promise<number> {
    if (!Number.isInteger(pages) || pages < 0) throw new RangeError(`nr_hugepages must be a non-negative integer, got ${pages}`);
    // Off the event loop: growing the pool may compact memory for a long time.
    try {
      await writeFile(`${HUGEPAGES_2M}/nr_hugepages`, `${pages}\n`);
    } catch (error) {
      throw new KernelError(`write(${HUGEPAGES_2M}/nr_hugepages)`, fsErrno(error), { detail: `${pages} pages`, cause: error });
    }
    return this.hugetlbPool().nrHugepages;
  }

  // ---- fd passing and peers ------------------------------------------------------------------

  listenSeqpacket(path: string): SeqpacketListener {
    return new LinuxSeqpacketListener(path, this.#tracker);
  }

  connectSeqpacket(path: string): Promise<SeqpacketConnection> {
    return connectSeqpacket(path, this.#tracker);
  }

  watchProcessExit(pid: number): ProcessExitWatch {
    return new LinuxProcessExitWatch(pid);
  }

  watchPidfd(pidfd: Fd, pid: number): ProcessExitWatch {
    // The watch owns the pidfd from here: the port no longer counts it as the caller's.
    this.#open.delete(pidfd);
    return new LinuxProcessExitWatch(pid, pidfd);
  }

  pidfdProcess(pidfd: Fd): PidfdProcess {
    return readPidfdProcess(pidfd);
  }

  release(): void {
    if (this.#kvmFd !== null) libc.close(this.#kvmFd);
    this.#kvmFd = null;
  }

  /** Slow calls running now and waiting (for the bench and for metrics). */
  inFlight(): { running: number; waiting: number } {
    return { running: this.#limit.running, waiting: this.#limit.waiting };
  }
}

/** fcntl F_GETFL and the flags it reports (asm-generic/fcntl.h; O_PATH as on x86-64). */
const F_GETFL = 3;
const O_ACCMODE = 0o3;
const O_PATH = 0o10000000;

function accessOfFlags(flags: number): FdAccess {
  if ((flags & O_PATH) !== 0) return "path";
  switch (flags & O_ACCMODE) {
    case 0:
      return "read-only";
    case 1:
      return "write-only";
    default:
      return "read-write";
  }
}
