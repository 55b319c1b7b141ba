/**
 * What the fake kernel can do. Presets model this project's machine and the two kernels with
 * private memory that the daemon must also be correct on.
 */
import { GUEST_MEMFD_FLAG_INIT_SHARED, GUEST_MEMFD_FLAG_MMAP, KVM_X86_DEFAULT_VM, KVM_X86_SW_PROTECTED_VM } from "@gmempool/sys";

export interface FakeCapabilities {
  /** VM types KVM_CREATE_VM accepts (KVM_CAP_VM_TYPES). */
  readonly vmTypes: readonly number[];
  /** VM types with private memory (kvm_arch_has_private_mem): SW_PROTECTED, SNP, TDX. */
  readonly privateMemoryVmTypes: readonly number[];
  /** KVM_CREATE_GUEST_MEMFD flags accepted (KVM_CAP_GUEST_MEMFD_FLAGS). */
  readonly guestMemfdFlags: bigint;
  /** The VM ioctl KVM_SET_MEMORY_ATTRIBUTES is compiled in (CONFIG_KVM_GENERIC_MEMORY_ATTRIBUTES). */
  readonly vmMemoryAttributes: boolean;
  /** The guest_memfd ioctl KVM_SET_MEMORY_ATTRIBUTES2 exists [proposed v8]. */
  readonly inPlaceConversion: boolean;
  /** KVM_CAP_NR_MEMSLOTS. */
  readonly maxMemslots: number;
  readonly preFaultMemory: boolean;
  /** 2 MiB pages the machine could put into the hugetlb pool (writes above this are clamped). */
  readonly hugetlbCapacityPages: number;
  /** The host has no usable /dev/kvm (open fails ENOENT): memfd arenas only. Default false. */
  readonly noDevKvm?: boolean;
}

const GMEM_FLAGS_6_18 = GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_INIT_SHARED;

/** This project's machine (KERNEL.md §1): PVM on 6.18, VM type 0 only, no private memory. */
export const PVM_6_18: FakeCapabilities = {
  vmTypes: [KVM_X86_DEFAULT_VM],
  privateMemoryVmTypes: [],
  guestMemfdFlags: GMEM_FLAGS_6_18,
  vmMemoryAttributes: false,
  inPlaceConversion: false,
  maxMemslots: 32764,
  preFaultMemory: false,
  hugetlbCapacityPages: 4096,
};

/** Mainline 6.18 with KVM_SW_PROTECTED_VM: out-of-place conversion by the VM ioctl only. */
export const MAINLINE_PRIVATE_MEMORY: FakeCapabilities = {
  ...PVM_6_18,
  vmTypes: [KVM_X86_DEFAULT_VM, KVM_X86_SW_PROTECTED_VM],
  privateMemoryVmTypes: [KVM_X86_SW_PROTECTED_VM],
  vmMemoryAttributes: true,
};

/**
 * The v8 in-place conversion series: KVM_SET_MEMORY_ATTRIBUTES2 on guest_memfds of private VMs;
 * with it enabled the VM-level attributes ioctl is off (vm_memory_attributes = 0).
 */
export const IN_PLACE_CONVERSION_V8: FakeCapabilities = {
  ...MAINLINE_PRIVATE_MEMORY,
  vmMemoryAttributes: false,
  inPlaceConversion: true,
};

/**
 * KVM_CHECK_EXTENSION as the fake answers it, on /dev/kvm (`vmPrivateMemory` undefined) or on
 * a VM (kvm_vm_ioctl_check_extension_generic). Unknown capabilities answer 0.
 */
export function fakeCheckExtension(caps: FakeCapabilities, cap: number, vmPrivateMemory?: boolean): number {
  const anyPrivate = caps.privateMemoryVmTypes.some((t) => caps.vmTypes.includes(t));
  switch (cap) {
    case 10: // KVM_CAP_NR_MEMSLOTS
      return caps.maxMemslots;
    case 231: // KVM_CAP_USER_MEMORY2
    case 232: // KVM_CAP_MEMORY_FAULT_INFO
    case 234: // KVM_CAP_GUEST_MEMFD
      return 1;
    case 233: // KVM_CAP_MEMORY_ATTRIBUTES: kvm_supported_mem_attributes(kvm), where compiled in
      if (!caps.vmMemoryAttributes) return 0;
      return (vmPrivateMemory ?? anyPrivate) ? 8 : 0;
    case 235: // KVM_CAP_VM_TYPES
      return caps.vmTypes.reduce((mask, t) => mask | (1 << t), 0);
    case 236: // KVM_CAP_PRE_FAULT_MEMORY
      return caps.preFaultMemory ? 1 : 0;
    case 244: // KVM_CAP_GUEST_MEMFD_FLAGS
      return Number(caps.guestMemfdFlags);
    default:
      return 0;
  }
}
