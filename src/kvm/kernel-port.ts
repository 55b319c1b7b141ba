/**
 * The kernel port: everything gmempool asks of Linux, in the kernel's own vocabulary (fds, byte
 * offsets as bigint, errno names). DESIGN.md §4. Two implementations: `LinuxKernel` (koffi, the
 * real thing) and `FakeKernel` (in memory, enforcing the rules of KERNEL.md §3–§6); one contract
 * suite (kernel-contract.ts) runs against both.
 *
 * Ownership of fds (STYLE.md rule 7):
 *  - every fd a method RETURNS belongs to the caller, who must `close()` it through the port;
 *    it is already close-on-exec;
 *  - every fd a method TAKES is borrowed: the port neither closes it nor keeps it, except where a
 *    method says otherwise (a connection owns its socket fd; a watch owns its pidfd);
 *  - the port's own /dev/kvm fd is private to it and closed by `release()`.
 *
 * Errors: every failed syscall or ioctl throws (or rejects with) a `KernelError` that names the
 * call and the errno (`fallocate(PUNCH_HOLE) failed: EINVAL`). Nothing here returns false or -1
 * for "could not".
 *
 * Slow calls (fallocate, MADV_POPULATE_WRITE, writing nr_hugepages) return promises and never run
 * on the event-loop thread; everything else is quick and synchronous.
 */
import type { Fd } from "@gmempool/sys";

/** A byte range of a file or of a mapping. */
export interface ByteRange {
  readonly offset: bigint;
  readonly length: bigint;
}

/**
 * Whether the proposed in-place conversion (`KVM_SET_MEMORY_ATTRIBUTES2` on a guest_memfd,
 * KERNEL.md §5) exists. Detected by trying the ioctl, never assumed from a capability number
 * (the v8 series' number is not stable).
 */
export type InPlaceConversion =
  /** ENOTTY: the kernel, or its `gmem_in_place_conversion` parameter, lacks the ioctl. */
  | { readonly state: "absent" }
  /** The ioctl exists but answers EINVAL on every VM type this host can create (no private memory). */
  | { readonly state: "unusable" }
  /** The ioctl works on guest_memfds of VMs of these types. */
  | { readonly state: "usable"; readonly vmTypes: readonly number[] };

/** What /dev/kvm offers, as the daemon prints and serves it. */
export interface KvmCapabilities {
  /** KVM_GET_API_VERSION (12). */
  readonly apiVersion: number;
  /** KVM_CAP_NR_MEMSLOTS (10): the number of user memslots per address space. */
  readonly maxMemslots: number;
  /** KVM_CAP_USER_MEMORY2 (231): KVM_SET_USER_MEMORY_REGION2 exists. */
  readonly userMemory2: boolean;
  /** KVM_CAP_MEMORY_FAULT_INFO (232): KVM_EXIT_MEMORY_FAULT is reported. */
  readonly memoryFaultInfo: boolean;
  /** KVM_CAP_MEMORY_ATTRIBUTES (233) on /dev/kvm: attributes KVM_SET_MEMORY_ATTRIBUTES accepts (0 here). */
  readonly memoryAttributes: bigint;
  /** KVM_CAP_GUEST_MEMFD (234). */
  readonly guestMemfd: boolean;
  /** KVM_CAP_VM_TYPES (235) decoded: the VM types KVM_CREATE_VM accepts. */
  readonly vmTypes: readonly number[];
  /** KVM_CAP_PRE_FAULT_MEMORY (236). */
  readonly preFaultMemory: boolean;
  /** KVM_CAP_GUEST_MEMFD_FLAGS (244): the KVM_CREATE_GUEST_MEMFD flags accepted (3 here). */
  readonly guestMemfdFlags: bigint;
  readonly inPlaceConversion: InPlaceConversion;
}

/** struct kvm_userspace_memory_region2, in camelCase. */
export interface UserMemoryRegion2 {
  /** `(address_space << 16) | slot_id`. */
  readonly slot: number;
  /** KVM_MEM_* flags; KVM_MEM_GUEST_MEMFD to bind a guest_memfd. */
  readonly flags: number;
  readonly guestPhysAddr: bigint;
  /** 0 deletes the slot. */
  readonly memorySize: bigint;
  /** Host virtual address; for a guest_memfd slot, an mmap of the same guest_memfd range. */
  readonly userspaceAddr: bigint;
  /** Borrowed. Required with KVM_MEM_GUEST_MEMFD. */
  readonly guestMemfd?: Fd;
  readonly guestMemfdOffset?: bigint;
}

/** struct kvm_memory_attributes: a VM ioctl, by guest physical address. */
export interface VmMemoryAttributes {
  readonly address: bigint;
  readonly size: bigint;
  /** 0 (shared) or KVM_MEMORY_ATTRIBUTE_PRIVATE. */
  readonly attributes: bigint;
}

/** struct kvm_memory_attributes2 [proposed v8]: a guest_memfd ioctl, by file offset. */
export interface GuestMemfdAttributes {
  readonly offset: bigint;
  readonly size: bigint;
  /** 0 (shared) or KVM_MEMORY_ATTRIBUTE_PRIVATE. */
  readonly attributes: bigint;
}

/** A shmem memfd (4 KiB pages) or a hugetlb memfd of 2 MiB pages (MFD_HUGETLB | MFD_HUGE_2MB). */
export type MemfdKind = "shmem" | "hugetlb-2m";

/** What an fd is, from readlink(/proc/self/fd/N), fstat and F_GETFD. */
/**
 * How an fd's open file description was opened (fcntl F_GETFL): O_RDWR, O_RDONLY, O_WRONLY,
 * or O_PATH (a handle that no read, write or fallocate accepts).
 */
export type FdAccess = "read-write" | "read-only" | "write-only" | "path";

export interface FdIdentity {
  /** guest_memfd: link `anon_inode:[kvm-gmem]`; memfd: link starting with `/memfd:`; pidfd: `anon_inode:[pidfd]`. */
  readonly kind: "guest_memfd" | "memfd" | "pidfd" | "other";
  readonly link: string;
  /** st_size: a guest_memfd's fixed size, a memfd's current size. */
  readonly size: bigint;
  /** st_mode (0o100600 for a guest_memfd). */
  readonly mode: number;
  /** st_blksize: 2 MiB for a hugetlb memfd, 4 KiB for shmem and guest_memfd. */
  readonly blockSize: number;
  readonly cloexec: boolean;
  /** The access mode (fcntl F_GETFL): the daemon needs "read-write" to punch and populate. */
  readonly access: FdAccess;
  /** st_dev and st_ino: equal for two fds of the same file (a re-sent guest_memfd, say). */
  readonly device: bigint;
  readonly inode: bigint;
}

/**
 * A MAP_SHARED mapping made by `mmap`. It holds its own reference to the file: closing the fd
 * does not unmap it, and the memory stays allocated until both are gone (KERNEL.md lifetime.out).
 * Released only by `munmap`.
 */
export interface Mapping {
  readonly address: bigint;
  readonly length: bigint;
}

/** The 2 MiB hugetlb pool (/proc/sys/vm/nr_hugepages, hugepages-2048kB/free_hugepages). */
export interface HugetlbPool {
  readonly nrHugepages: number;
  readonly freeHugepages: number;
}

/** SO_PEERCRED: who is at the other end of a unix socket, as the kernel saw it at connect(). */
export interface PeerCredentials {
  readonly pid: number;
  readonly uid: number;
  readonly gid: number;
}

/** One SEQPACKET message: a non-empty payload and the fds that travelled in SCM_RIGHTS. */
export interface SeqpacketMessage {
  readonly payload: Uint8Array;
  /** Owned by the receiver; already close-on-exec (MSG_CMSG_CLOEXEC). */
  readonly fds: readonly Fd[];
}

/**
 * One end of an AF_UNIX SOCK_SEQPACKET connection, driven by the event loop (never blocking).
 * It owns its socket fd. Message boundaries are kept; a payload is at most
 * `SEQPACKET_MAX_PAYLOAD_BYTES` and carries at most `SEQPACKET_MAX_FDS` fds.
 */
export interface SeqpacketConnection {
  readonly peer: PeerCredentials;
  /**
   * Sends one message. `payload` must not be empty (a zero-length SEQPACKET read means
   * end-of-stream). `fds` are borrowed: the kernel duplicates them into the message.
   */
  send(payload: Uint8Array, fds?: readonly Fd[]): Promise<void>;
  /** The next message, or null once the peer has closed (end of stream). */
  receive(): Promise<SeqpacketMessage | null>;
  /** Closes the socket; pending receives resolve with null. Idempotent. */
  close(): void;
}

/** A listening SEQPACKET socket bound to a path. It owns its fd and the socket file. */
export interface SeqpacketListener {
  readonly path: string;
  /** The next connection (the caller owns it), or null once the listener is closed. */
  accept(): Promise<SeqpacketConnection | null>;
  /** Closes the socket and unlinks the path; pending accepts resolve with null. Idempotent. */
  close(): void;
}

/** A pidfd watching one process. It owns the pidfd. */
export interface ProcessExitWatch {
  readonly pid: number;
  /** Resolves when the process has exited (the pidfd became readable). */
  readonly exited: Promise<void>;
  /** Stops watching and closes the pidfd; `exited` then never settles. Idempotent. */
  close(): void;
}

/**
 * The process a pidfd names, read through the pidfd (`pidfdProcess`): its pid in the daemon's
 * pid namespace and its effective uid and gid (what SO_PEERCRED would report for it).
 */
export interface PidfdProcess {
  readonly pid: number;
  readonly uid: number;
  readonly gid: number;
}

/** Largest SEQPACKET payload the port sends or receives. */
export const SEQPACKET_MAX_PAYLOAD_BYTES = 64 * 1024;
/** Most fds one SEQPACKET message carries (the kernel's SCM_MAX_FD is 253). */
export const SEQPACKET_MAX_FDS = 16;

export interface KernelPort {
  // ---- KVM ---------------------------------------------------------------------------------
  /** KVM_CHECK_EXTENSION on /dev/kvm, or on `vm` (borrowed) when given. */
  checkExtension(cap: number, vm?: Fd): number;
  /** The capability report; probes in-place conversion on a scratch VM once, then caches. */
  capabilities(): KvmCapabilities;
  /** KVM_CREATE_VM. Caller owns the VM fd; only this process may issue ioctls on it (EIO otherwise). */
  createVm(type: number): Fd;
  /** KVM_CREATE_GUEST_MEMFD on `vm` (borrowed). Caller owns the result; FD_CLOEXEC is set. */
  createGuestMemfd(vm: Fd, size: bigint, flags: bigint): Fd;
  /** KVM_SET_USER_MEMORY_REGION2 on `vm` (borrowed). */
  setUserMemoryRegion2(vm: Fd, region: UserMemoryRegion2): void;
  /** KVM_SET_MEMORY_ATTRIBUTES on `vm` (borrowed): out-of-place conversion by guest physical address. */
  setMemoryAttributes(vm: Fd, attributes: VmMemoryAttributes): void;
  /**
   * KVM_SET_MEMORY_ATTRIBUTES2 on a guest_memfd (borrowed) [proposed v8]: in-place conversion by
   * offset. EAGAIN (a page still has extra references) throws a KernelError whose `errorOffset`
   * is the first busy offset; nothing changed, retry once the reference is gone.
   */
  setMemoryAttributes2(gmem: Fd, attributes: GuestMemfdAttributes): void;

  // ---- files ---------------------------------------------------------------------------------
  /**
   * fallocate(2) on `fd` (borrowed), off the event-loop thread. Use FALLOCATE_POPULATE and
   * FALLOCATE_PUNCH; see fallocate-chunked.ts to split a large range into parallel chunks.
   */
  fallocate(fd: Fd, mode: number, offset: bigint, length: bigint): Promise<void>;
  /** memfd_create(2) with MFD_CLOEXEC. Caller owns the result; its size is 0 until `ftruncate`. */
  memfdCreate(name: string, kind: MemfdKind): Fd;
  /** ftruncate(2) on `fd` (borrowed). */
  ftruncate(fd: Fd, size: bigint): void;
  /** What `fd` (borrowed) is. */
  identifyFd(fd: Fd): FdIdentity;
  /** fcntl(F_DUPFD_CLOEXEC). Caller owns the result. */
  dupCloexec(fd: Fd): Fd;
  /** close(2). Takes ownership of `fd`. */
  close(fd: Fd): void;
  /** Fds this port returned (created, duplicated, received) and that were not closed through it. */
  openFds(): readonly Fd[];

  // ---- mappings ------------------------------------------------------------------------------
  /** mmap(MAP_SHARED) of `fd` (borrowed). The mapping keeps the file alive until `munmap`. */
  mmap(fd: Fd, offset: bigint, length: bigint, prot: "read" | "read-write"): Mapping;
  munmap(mapping: Mapping): void;
  /** Copies bytes out of a mapping; EFAULT where a load would raise SIGBUS. */
  readMapped(mapping: Mapping, offset: bigint, length: number): Uint8Array;
  /** Copies bytes into a mapping; EFAULT where a store would raise SIGBUS. */
  writeMapped(mapping: Mapping, offset: bigint, data: Uint8Array): void;
  /** madvise(MADV_POPULATE_WRITE): faults in (and zeroes) a range of a mapping, off the event loop. */
  madvisePopulateWrite(mapping: Mapping, offset: bigint, length: bigint): Promise<void>;

  // ---- hugetlb pool --------------------------------------------------------------------------
  hugetlbPool(): HugetlbPool;
  /** Writes /proc/sys/vm/nr_hugepages (root); resolves with the value the kernel settled on. */
  setNrHugepages(pages: number): Promise<number>;

  // ---- fd passing and peers ------------------------------------------------------------------
  /** Binds and listens on a SOCK_SEQPACKET unix socket at `path` (which must not exist). */
  listenSeqpacket(path: string): SeqpacketListener;
  /** Connects to a SOCK_SEQPACKET listener at `path`. */
  connectSeqpacket(path: string): Promise<SeqpacketConnection>;
  /** pidfd_open(pid): notices when the process exits. */
  watchProcessExit(pid: number): ProcessExitWatch;
  /**
   * Notices when the process of `pidfd` (whose pid is `pid`, from `pidfdProcess`) exits. Takes
   * ownership of `pidfd`: the watch closes it.
   */
  watchPidfd(pidfd: Fd, pid: number): ProcessExitWatch;
  /**
   * Who the process of `pidfd` (borrowed) is: its pid (fdinfo `Pid:`), then its uid and gid
   * (/proc/PID/status), read while it lives — the pidfd is polled last, so a process that
   * exited (and whose pid may have been reused) is never reported. ESRCH when it has exited,
   * or when its pid is not visible in this pid namespace; EINVAL when `pidfd` is not a pidfd.
   */
  pidfdProcess(pidfd: Fd): PidfdProcess;

  /** Closes the port's own fds (/dev/kvm). Fds it returned stay open: they are the caller's. */
  release(): void;
}
