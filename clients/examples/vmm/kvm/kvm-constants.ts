/**
 * The KVM numbers the example VMM uses that are not ioctl numbers (those are in
 * ioctl-numbers.ts), in the kernel's spelling (include/uapi/linux/kvm.h, KERNEL.md §2). Debian
 * 12's headers are a 6.1 kernel's and lack most of them: abi.test.ts asserts each.
 */

/** KVM_GET_API_VERSION has answered 12 since Linux 2.6.22. */
export const KVM_API_VERSION = 12;
/** The only VM type a PVM host creates (KERNEL.md §1); it has no private memory. */
export const KVM_X86_DEFAULT_VM = 0;

// KVM_CHECK_EXTENSION capabilities.
export const KVM_CAP_USER_MEMORY2 = 231;
export const KVM_CAP_MEMORY_ATTRIBUTES = 233;
export const KVM_CAP_GUEST_MEMFD = 234;
/** The bitmask of KVM_CREATE_GUEST_MEMFD flags this kernel accepts (3 on 6.18: MMAP|INIT_SHARED). */
export const KVM_CAP_GUEST_MEMFD_FLAGS = 244;

// KVM_CREATE_GUEST_MEMFD flags [mainline 6.18].
export const GUEST_MEMFD_FLAG_MMAP = 1n << 0n;
export const GUEST_MEMFD_FLAG_INIT_SHARED = 1n << 1n;

/** Memslot flag: the slot's memory is a guest_memfd (only with KVM_SET_USER_MEMORY_REGION2). */
export const KVM_MEM_GUEST_MEMFD = 1 << 2;
/** The memory attribute KVM_CAP_MEMORY_ATTRIBUTES reports when a VM can have private memory. */
export const KVM_MEMORY_ATTRIBUTE_PRIVATE = 1 << 3;

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
