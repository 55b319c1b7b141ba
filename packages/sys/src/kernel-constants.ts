/**
 * Numbers of the kernel ABI that are not ioctl numbers (those are in ioctl-numbers.ts), with the
 * kernel's spelling. Values from KERNEL.md §2 and include/uapi; Debian 12's headers are too old to
 * have most of them, so every one is written here and the KVM ones are asserted in abi.test.ts.
 */

/*
 * The kernel's base page (4 KiB, guest_memfd's folio size and alignment unit) is the API's
 * PAGE_BYTES: import it from @gmempool/contract, its one definition (this package imports no
 * other workspace package).
 */
/**
 * A 2 MiB hugetlb page (MFD_HUGE_2MB, /sys/kernel/mm/hugepages/hugepages-2048kB), a kernel
 * size. That the pool's unit is one of these is the daemon's rule, held by a test there
 * (src/kvm/hugetlb-unit.test.ts).
 */
export const HUGETLB_PAGE_BYTES = 2048n * 1024n;

/** KVM_GET_API_VERSION has answered 12 since Linux 2.6.22. */
export const KVM_API_VERSION = 12;

// KVM_CHECK_EXTENSION capabilities (include/uapi/linux/kvm.h).
export const KVM_CAP_NR_MEMSLOTS = 10;
export const KVM_CAP_USER_MEMORY2 = 231;
export const KVM_CAP_MEMORY_FAULT_INFO = 232;
export const KVM_CAP_MEMORY_ATTRIBUTES = 233;
export const KVM_CAP_GUEST_MEMFD = 234;
export const KVM_CAP_VM_TYPES = 235;
export const KVM_CAP_PRE_FAULT_MEMORY = 236;
/** The bitmask of KVM_CREATE_GUEST_MEMFD flags this kernel accepts (3 on 6.18: MMAP|INIT_SHARED). */
export const KVM_CAP_GUEST_MEMFD_FLAGS = 244;

// x86 VM types (arch/x86/include/uapi/asm/kvm.h). Private memory exists only for 1, 4 and 5.
/** The only VM type a PVM host creates (KERNEL.md §1); it has no private memory. */
export const KVM_X86_DEFAULT_VM = 0;
export const KVM_X86_SW_PROTECTED_VM = 1;
export const KVM_X86_SNP_VM = 4;
export const KVM_X86_TDX_VM = 5;

// KVM_CREATE_GUEST_MEMFD flags.
export const GUEST_MEMFD_FLAG_MMAP = 1n << 0n;
export const GUEST_MEMFD_FLAG_INIT_SHARED = 1n << 1n;
/** [proposed, v12 Apr 2026] Not accepted by 6.18; listed so that the capability report can name it. */
export const GUEST_MEMFD_FLAG_NO_DIRECT_MAP = 1n << 2n;

// Memslot flags (struct kvm_userspace_memory_region2.flags).
export const KVM_MEM_LOG_DIRTY_PAGES = 1 << 0;
export const KVM_MEM_READONLY = 1 << 1;
export const KVM_MEM_GUEST_MEMFD = 1 << 2;

/**
 * The only memory attribute: private (served from guest_memfd, not host-accessible); also what
 * KVM_CAP_MEMORY_ATTRIBUTES reports when a VM can have private memory.
 */
export const KVM_MEMORY_ATTRIBUTE_PRIVATE = 1n << 3n;

// kvm_run.exit_reason values.
export const KVM_EXIT_IO = 2;
export const KVM_EXIT_HLT = 5;
export const KVM_EXIT_SHUTDOWN = 8;
export const KVM_EXIT_FAIL_ENTRY = 9;
export const KVM_EXIT_INTR = 10;
export const KVM_EXIT_INTERNAL_ERROR = 17;
export const KVM_EXIT_MEMORY_FAULT = 39;
/** kvm_run.io.direction of an OUT instruction. */
export const KVM_EXIT_IO_OUT = 1;

// fallocate(2) modes (include/uapi/linux/falloc.h).
export const FALLOC_FL_KEEP_SIZE = 0x01;
export const FALLOC_FL_PUNCH_HOLE = 0x02;
export const FALLOC_FL_ZERO_RANGE = 0x10;
/** The mode of a populate: allocate without changing i_size (mandatory for guest_memfd). */
export const FALLOCATE_POPULATE = FALLOC_FL_KEEP_SIZE;
/** The mode of a punch: PUNCH_HOLE is only valid together with KEEP_SIZE (vfs_fallocate). */
export const FALLOCATE_PUNCH = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;

/**
 * The name of a fallocate mode as it appears in error messages: `fallocate(PUNCH_HOLE)` for a
 * punch (KEEP_SIZE is implied by a punch), `fallocate(KEEP_SIZE)` for a populate, the flag names
 * joined by `|` otherwise, `fallocate(0)` for mode 0.
 */
export function fallocateModeName(mode: number): string {
  if (mode === FALLOCATE_PUNCH) return "PUNCH_HOLE";
  const names: string[] = [];
  if (mode & FALLOC_FL_KEEP_SIZE) names.push("KEEP_SIZE");
  if (mode & FALLOC_FL_PUNCH_HOLE) names.push("PUNCH_HOLE");
  if (mode & FALLOC_FL_ZERO_RANGE) names.push("ZERO_RANGE");
  const rest = mode & ~(FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE);
  if (rest !== 0) names.push(`0x${rest.toString(16)}`);
  return names.length === 0 ? "0" : names.join("|");
}

// memfd_create(2) flags (include/uapi/linux/memfd.h).
export const MFD_CLOEXEC = 0x0001;
export const MFD_HUGETLB = 0x0004;
/** MFD_HUGE_2MB = 21 << MFD_HUGE_SHIFT (26). */
export const MFD_HUGE_2MB = 21 << 26;

// mmap(2) / madvise(2) (include/uapi/asm-generic/mman-common.h).
export const PROT_READ = 0x1;
export const PROT_WRITE = 0x2;
export const MAP_SHARED = 0x01;
export const MADV_POPULATE_WRITE = 23;

// fcntl(2).
export const F_DUPFD_CLOEXEC = 1030;
export const F_GETFD = 1;
export const F_SETFD = 2;
export const FD_CLOEXEC = 1;

// open(2) / socket(2) flags (x86_64 values).
export const O_RDWR = 0o2;
export const O_CLOEXEC = 0o2000000;
export const O_NONBLOCK = 0o4000;

// AF_UNIX SOCK_SEQPACKET and SCM_RIGHTS (include/linux/socket.h, asm-generic/socket.h).
export const AF_UNIX = 1;
export const SOCK_SEQPACKET = 5;
export const SOCK_NONBLOCK = O_NONBLOCK;
export const SOCK_CLOEXEC = O_CLOEXEC;
export const SOL_SOCKET = 1;
export const SO_PEERCRED = 17;
export const SCM_RIGHTS = 1;
export const MSG_CTRUNC = 0x08;
export const MSG_TRUNC = 0x20;
export const MSG_DONTWAIT = 0x40;
export const MSG_NOSIGNAL = 0x4000;
export const MSG_CMSG_CLOEXEC = 0x40000000;

/** st_mode of a guest_memfd as fstat reports it (S_IFREG | 0600), KERNEL.md §3. */
export const GUEST_MEMFD_ST_MODE = 0o100600;
/** readlink(/proc/self/fd/N) of a guest_memfd. */
export const GUEST_MEMFD_LINK = "anon_inode:[kvm-gmem]";
/** readlink(/proc/self/fd/N) of a pidfd (pidfd_open(2); pidfs keeps the anon_inode name). */
export const PIDFD_LINK = "anon_inode:[pidfd]";
/** poll(2): readable; on a pidfd, the process has exited (pidfd_poll). */
export const POLLIN = 0x1;
/** readlink of a memfd starts with this ("/memfd:NAME (deleted)"). */
export const MEMFD_LINK_PREFIX = "/memfd:";
/** clock_gettime(2): CPU time consumed by the calling thread (include/uapi/linux/time.h). */
export const CLOCK_THREAD_CPUTIME_ID = 3;
