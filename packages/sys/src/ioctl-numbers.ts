/**
 * ioctl request numbers, computed the way include/uapi/asm-generic/ioctl.h does, from the struct
 * sizes koffi computes for structs.ts. abi.test.ts asserts each against the literal in
 * KERNEL.md §2, so a wrong struct layout fails there and not inside the kernel.
 */
import {
  kvm_create_guest_memfd,
  kvm_memory_attributes,
  kvm_memory_attributes2,
  kvm_regs,
  kvm_sregs,
  kvm_userspace_memory_region2,
} from "./structs.ts";

const IOC_NONE = 0;
const IOC_WRITE = 1;
const IOC_READ = 2;
const IOC_NRBITS = 8;
const IOC_TYPEBITS = 8;
const IOC_SIZEBITS = 14;
const IOC_NRSHIFT = 0;
const IOC_TYPESHIFT = IOC_NRSHIFT + IOC_NRBITS;
const IOC_SIZESHIFT = IOC_TYPESHIFT + IOC_TYPEBITS;
const IOC_DIRSHIFT = IOC_SIZESHIFT + IOC_SIZEBITS;

/** _IOC(dir, type, nr, size) as an unsigned 32-bit number (dir << 30 does not fit an int32). */
export function _IOC(dir: number, type: number, nr: number, size: number): number {
  if (size >= 1 << IOC_SIZEBITS) throw new RangeError(`ioctl size ${size} does not fit 14 bits`);
  return dir * 2 ** IOC_DIRSHIFT + size * 2 ** IOC_SIZESHIFT + type * 2 ** IOC_TYPESHIFT + nr * 2 ** IOC_NRSHIFT;
}
export const _IO = (type: number, nr: number): number => _IOC(IOC_NONE, type, nr, 0);
export const _IOR = (type: number, nr: number, size: number): number => _IOC(IOC_READ, type, nr, size);
export const _IOW = (type: number, nr: number, size: number): number => _IOC(IOC_WRITE, type, nr, size);
export const _IOWR = (type: number, nr: number, size: number): number => _IOC(IOC_READ | IOC_WRITE, type, nr, size);

export const KVMIO = 0xae;

export const KVM_GET_API_VERSION = _IO(KVMIO, 0x00);
export const KVM_CREATE_VM = _IO(KVMIO, 0x01);
/** Also a VM ioctl: a VM answers for its own type (KVM_CAP_MEMORY_ATTRIBUTES differs by type). */
export const KVM_CHECK_EXTENSION = _IO(KVMIO, 0x03);
export const KVM_GET_VCPU_MMAP_SIZE = _IO(KVMIO, 0x04);
export const KVM_CREATE_VCPU = _IO(KVMIO, 0x41);
export const KVM_SET_TSS_ADDR = _IO(KVMIO, 0x47);
export const KVM_SET_USER_MEMORY_REGION2 = _IOW(KVMIO, 0x49, kvm_userspace_memory_region2.size);
export const KVM_RUN = _IO(KVMIO, 0x80);
export const KVM_GET_REGS = _IOR(KVMIO, 0x81, kvm_regs.size);
export const KVM_SET_REGS = _IOW(KVMIO, 0x82, kvm_regs.size);
export const KVM_GET_SREGS = _IOR(KVMIO, 0x83, kvm_sregs.size);
export const KVM_SET_SREGS = _IOW(KVMIO, 0x84, kvm_sregs.size);
export const KVM_SET_MEMORY_ATTRIBUTES = _IOW(KVMIO, 0xd2, kvm_memory_attributes.size);
export const KVM_CREATE_GUEST_MEMFD = _IOWR(KVMIO, 0xd4, kvm_create_guest_memfd.size);
/** [proposed v8] Same nr as KVM_SET_MEMORY_ATTRIBUTES, _IOWR and 128 B: a different number. */
export const KVM_SET_MEMORY_ATTRIBUTES2 = _IOWR(KVMIO, 0xd2, kvm_memory_attributes2.size);

/** Names for error messages: `ioctl(KVM_CREATE_GUEST_MEMFD) failed: EINVAL`. */
export const IOCTL_NAMES: ReadonlyMap<number, string> = new Map([
  [KVM_GET_API_VERSION, "KVM_GET_API_VERSION"],
  [KVM_CREATE_VM, "KVM_CREATE_VM"],
  [KVM_CHECK_EXTENSION, "KVM_CHECK_EXTENSION"],
  [KVM_GET_VCPU_MMAP_SIZE, "KVM_GET_VCPU_MMAP_SIZE"],
  [KVM_CREATE_VCPU, "KVM_CREATE_VCPU"],
  [KVM_SET_TSS_ADDR, "KVM_SET_TSS_ADDR"],
  [KVM_SET_USER_MEMORY_REGION2, "KVM_SET_USER_MEMORY_REGION2"],
  [KVM_RUN, "KVM_RUN"],
  [KVM_GET_REGS, "KVM_GET_REGS"],
  [KVM_SET_REGS, "KVM_SET_REGS"],
  [KVM_GET_SREGS, "KVM_GET_SREGS"],
  [KVM_SET_SREGS, "KVM_SET_SREGS"],
  [KVM_SET_MEMORY_ATTRIBUTES, "KVM_SET_MEMORY_ATTRIBUTES"],
  [KVM_CREATE_GUEST_MEMFD, "KVM_CREATE_GUEST_MEMFD"],
  [KVM_SET_MEMORY_ATTRIBUTES2, "KVM_SET_MEMORY_ATTRIBUTES2"],
]);
