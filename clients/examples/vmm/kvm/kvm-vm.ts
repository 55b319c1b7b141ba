/**
 * A VM fd and its ioctls: KVM_CHECK_EXTENSION (the VM's own answer), KVM_SET_TSS_ADDR,
 * KVM_CREATE_GUEST_MEMFD and KVM_SET_USER_MEMORY_REGION2. Owns its fd. Its vCPUs are
 * @gmempool/sys's Vcpu, created on `fd`.
 */
import {
  check,
  encodeStruct,
  KVM_CHECK_EXTENSION,
  KVM_CREATE_GUEST_MEMFD,
  kvm_create_guest_memfd,
  KVM_SET_USER_MEMORY_REGION2,
  kvm_userspace_memory_region2,
  libc,
  setCloexec,
  setTssAddr,
} from "@gmempool/sys";

/** One memslot, as KVM_SET_USER_MEMORY_REGION2 takes it. */
export interface MemoryRegion2 {
  readonly slot: number;
  readonly flags: number;
  readonly guestPhysAddr: bigint;
  readonly memorySize: bigint;
  /** The host mapping KVM uses for emulated accesses: for a guest_memfd slot on a default VM, a
   * mapping of the SAME guest_memfd range (KERNEL.md §4), or the guest sees two memories. */
  readonly userspaceAddr: bigint;
  /** Borrowed: KVM takes its own reference to the file (kvm_gmem_bind). */
  readonly guestMemfd: number;
  readonly guestMemfdOffset: bigint;
}

export class KvmVm {
  /** Owned. */
  readonly fd: number;
  #closed = false;

  /** Takes ownership of `fd`, a VM fd from KVM_CREATE_VM. */
  constructor(fd: number) {
    this.fd = fd;
  }

  /**
   * The VM's answer for `capability`: for KVM_CAP_MEMORY_ATTRIBUTES it depends on the VM type
   * (kvm_supported_mem_attributes: PRIVATE only where kvm_arch_has_private_mem, never type 0).
   */
  checkExtension(capability: number): number {
    return check(libc.ioctl(this.fd, KVM_CHECK_EXTENSION, "unsigned long", capability), "ioctl(KVM_CHECK_EXTENSION) on the VM", `capability ${capability}`);
  }

  /** Intel needs a TSS region for real mode and task switches (vmx_set_tss_addr); AMD ignores it. */
  setTssAddr(): void {
    setTssAddr(this.fd);
  }

  /**
   * KVM_CREATE_GUEST_MEMFD: a guest_memfd of `sizeBytes` on this VM. The caller owns the fd.
   * kvm_gmem_create: the size is fixed forever and must be a nonzero multiple of 4 KiB; flags
   * outside KVM_CAP_GUEST_MEMFD_FLAGS are EINVAL. The fd is made close-on-exec here, because
   * __kvm_gmem_create takes it with get_unused_fd_flags(0) (KERNEL.md §3).
   */
  createGuestMemfd(sizeBytes: bigint, flags: bigint): number {
    const argument = encodeStruct(kvm_create_guest_memfd, { size: sizeBytes, flags });
    const fd = check(libc.ioctl(this.fd, KVM_CREATE_GUEST_MEMFD, "void *", argument), "ioctl(KVM_CREATE_GUEST_MEMFD)", `size ${sizeBytes} flags ${flags}`);
    try {
      setCloexec(fd);
    } catch (error) {
      libc.close(fd);
      throw error;
    }
    return fd;
  }

  /**
   * Adds (or, with memorySize 0, deletes) a memslot. Rules the kernel enforces
   * (__kvm_set_memory_region, kvm_gmem_bind): addresses, size and guest_memfd_offset are 4 KiB
   * aligned; the guest_memfd range lies inside the file and is bound to no other slot; the
   * guest_memfd was created on THIS VM (else EINVAL); a slot's GPA and flags cannot change.
   */
  setUserMemoryRegion2(region: MemoryRegion2): void {
    const argument = encodeStruct(kvm_userspace_memory_region2, {
      slot: region.slot,
      flags: region.flags,
      guest_phys_addr: region.guestPhysAddr,
      memory_size: region.memorySize,
      userspace_addr: region.userspaceAddr,
      guest_memfd_offset: region.guestMemfdOffset,
      guest_memfd: region.guestMemfd,
    });
    check(
      libc.ioctl(this.fd, KVM_SET_USER_MEMORY_REGION2, "void *", argument),
      "ioctl(KVM_SET_USER_MEMORY_REGION2)",
      `slot ${region.slot} gpa 0x${region.guestPhysAddr.toString(16)} size 0x${region.memorySize.toString(16)} gmem offset 0x${region.guestMemfdOffset.toString(16)}`,
    );
  }

  /**
   * Deletes the memslot `region` created (kvm_delete_memslot: memory_size 0, the other fields as
   * they were). Its guest_memfd range is unbound (kvm_gmem_unbind) and may be bound again.
   */
  deleteUserMemoryRegion2(region: MemoryRegion2): void {
    this.setUserMemoryRegion2({ ...region, memorySize: 0n });
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    libc.close(this.fd);
  }
}
