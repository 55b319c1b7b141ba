/**
 * A VM of the fake kernel: who may issue its ioctls, its memslots and its VM-level memory
 * attributes — the rules of KERNEL.md §3 and §5, each citing the kernel function (6.18
 * virt/kvm/kvm_main.c unless marked).
 *
 * Invariants (assertInvariants): memslots of one address space do not overlap in guest
 * physical space; a memslot's guest_memfd, if any, is alive and belongs to this VM.
 */
import { ByteRangeSet } from "../byte-range-set.ts";
import { fakeCheckExtension, type FakeCapabilities } from "./fake-capabilities.ts";
import { FakeFileObject, fail, hex } from "./fake-file-object.ts";
import { FakeGuestMemfd } from "./fake-guest-memfd.ts";
import { PAGE_BYTES } from "@gmempool/contract";
import { KVM_MEM_GUEST_MEMFD, KVM_MEM_LOG_DIRTY_PAGES, KVM_MEM_READONLY } from "@gmempool/sys";
import type { UserMemoryRegion2, VmMemoryAttributes } from "../kernel-port.ts";

export interface FakeMemslot {
  readonly slot: number;
  readonly flags: number;
  readonly guestPhysAddr: bigint;
  readonly memorySize: bigint;
  readonly userspaceAddr: bigint;
  /** Null once the guest_memfd's last file is gone (kvm_gmem_release: slot->gmem.file = NULL). */
  guestMemfd: FakeGuestMemfd | null;
  readonly guestMemfdOffset: bigint;
}

/** What the fd given as `guest_memfd` turned out to be, resolved by the caller's fd table. */
export type GuestMemfdArgument = FakeGuestMemfd | "not-a-guest_memfd" | "not-open";

/** x86 has two memslot address spaces (normal and SMM): kvm_arch_nr_memslot_as_ids. */
const ADDRESS_SPACES = 2;
const aligned = (value: bigint): boolean => value % PAGE_BYTES === 0n;
const U64_MAX = (1n << 64n) - 1n;

export class FakeVm extends FakeFileObject {
  readonly kind = "vm";
  readonly type: number;
  /** The process whose mm the VM belongs to (kvm->mm). */
  readonly creatorPid: number;
  /** kvm_arch_has_private_mem(kvm). */
  readonly privateMemory: boolean;
  readonly #caps: FakeCapabilities;
  readonly memslots = new Map<number, FakeMemslot>();
  /** Guest physical ranges marked PRIVATE by KVM_SET_MEMORY_ATTRIBUTES. */
  readonly privateGpas = new ByteRangeSet();

  constructor(type: number, creatorPid: number, caps: FakeCapabilities) {
    super();
    this.type = type;
    this.creatorPid = creatorPid;
    this.#caps = caps;
    this.privateMemory = caps.privateMemoryVmTypes.includes(type);
  }

  /** kvm_dev_ioctl_create_vm -> kvm_arch_init_vm: `if (!kvm_is_vm_type_supported(type)) return -EINVAL;` */
  static create(type: number, creatorPid: number, caps: FakeCapabilities): FakeVm {
    if (!caps.vmTypes.includes(type)) fail("ioctl(KVM_CREATE_VM)", "EINVAL", `type ${type}`);
    return new FakeVm(type, creatorPid, caps);
  }

  get populatedBytes(): bigint {
    return 0n;
  }

  describe(): string {
    return `VM type ${this.type} of pid ${this.creatorPid} with ${this.memslots.size} memslot(s)`;
  }

  /**
   * kvm_vm_ioctl: `if (kvm->mm != current->mm || kvm->vm_dead) return -EIO;` — only the process
   * that created the VM may issue its ioctls, even with the VM fd received over SCM_RIGHTS.
   */
  checkCaller(pid: number, syscall: string): void {
    if (pid !== this.creatorPid) fail(syscall, "EIO", `the VM belongs to pid ${this.creatorPid}, the caller is pid ${pid}`);
  }

  /** kvm_vm_ioctl_check_extension_generic. */
  checkExtension(pid: number, cap: number): number {
    this.checkCaller(pid, "ioctl(KVM_CHECK_EXTENSION)");
    return fakeCheckExtension(this.#caps, cap, this.privateMemory);
  }

  /** kvm_vm_ioctl(KVM_CREATE_GUEST_MEMFD) -> kvm_gmem_create. */
  createGuestMemfd(pid: number, size: bigint, flags: bigint): FakeGuestMemfd {
    this.checkCaller(pid, "ioctl(KVM_CREATE_GUEST_MEMFD)");
    return FakeGuestMemfd.create(this, size, flags, this.#caps.guestMemfdFlags);
  }

  /** kvm_vm_ioctl_set_memory_region -> __kvm_set_memory_region, in its order of checks. */
  setUserMemoryRegion2(pid: number, region: UserMemoryRegion2, guestMemfd: GuestMemfdArgument | undefined): void {
    const syscall = "ioctl(KVM_SET_USER_MEMORY_REGION2)";
    this.checkCaller(pid, syscall);
    const { slot, flags, guestPhysAddr: gpa, memorySize: size, userspaceAddr: uaddr } = region;
    const gmemOffset = region.guestMemfdOffset ?? 0n;
    const isGmem = (flags & KVM_MEM_GUEST_MEMFD) !== 0;
    const detail = `slot ${slot} gpa ${hex(gpa)} size ${hex(size)}`;
    // check_memory_region_flags: dirty logging and read-only are not for guest_memfd slots.
    const valid = KVM_MEM_GUEST_MEMFD | (isGmem ? 0 : KVM_MEM_LOG_DIRTY_PAGES | KVM_MEM_READONLY);
    if ((flags & ~valid) !== 0) fail(syscall, "EINVAL", `${detail}: flags 0x${flags.toString(16)}`);
    // __kvm_set_memory_region "General sanity checks": sizes and addresses page-aligned.
    if (!aligned(size) || size < 0n || size > U64_MAX) fail(syscall, "EINVAL", `${detail}: memory_size not 4 KiB aligned`);
    if (!aligned(gpa)) fail(syscall, "EINVAL", `${detail}: guest_phys_addr not 4 KiB aligned`);
    if (!aligned(uaddr)) fail(syscall, "EINVAL", `${detail}: userspace_addr not 4 KiB aligned`);
    if (isGmem && (!aligned(gmemOffset) || gmemOffset + size > U64_MAX)) fail(syscall, "EINVAL", `${detail}: guest_memfd_offset ${hex(gmemOffset)}`);
    const asId = slot >>> 16;
    const id = slot & 0xffff;
    if (asId >= ADDRESS_SPACES || id >= this.#caps.maxMemslots) fail(syscall, "EINVAL", `${detail}: no such slot`);
    if (gpa + size > U64_MAX) fail(syscall, "EINVAL", `${detail}: wraps`);
    const old = this.memslots.get(slot);
    if (size === 0n) {
      // Delete: `if (!old || !old->npages) return -EINVAL;`
      if (old === undefined) fail(syscall, "EINVAL", `${detail}: deleting a slot that does not exist`);
      old.guestMemfd?.unbind(String(slot));
      this.memslots.delete(slot);
      return;
    }
    if (old !== undefined) {
      // "Private memslots are immutable, they can only be deleted."
      if (isGmem || (old.flags & KVM_MEM_GUEST_MEMFD) !== 0) fail(syscall, "EINVAL", `${detail}: a guest_memfd memslot can only be deleted`);
      if (uaddr !== old.userspaceAddr || size !== old.memorySize || ((flags ^ old.flags) & KVM_MEM_READONLY) !== 0) fail(syscall, "EINVAL", `${detail}: only the address or flags of a slot may change`);
      if (gpa === old.guestPhysAddr && flags === old.flags) return;
    }
    // kvm_check_memslot_overlap: CREATE and MOVE must not overlap another slot.
    for (const other of this.memslots.values()) {
      if (other.slot === slot || other.slot >>> 16 !== asId) continue;
      if (gpa < other.guestPhysAddr + other.memorySize && other.guestPhysAddr < gpa + size) fail(syscall, "EEXIST", `${detail}: overlaps slot ${other.slot}`);
    }
    let gmem: FakeGuestMemfd | null = null;
    if (isGmem) {
      // kvm_gmem_bind: `file = fget(fd); if (!file) return -EBADF; if (file->f_op != &kvm_gmem_fops) goto err;`
      if (guestMemfd === undefined || guestMemfd === "not-open") fail(syscall, "EBADF", `${detail}: guest_memfd is not an open fd`);
      if (guestMemfd === "not-a-guest_memfd") fail(syscall, "EINVAL", `${detail}: guest_memfd is not a guest_memfd`);
      guestMemfd.bind(this, String(slot), gmemOffset, size);
      gmem = guestMemfd;
    }
    this.memslots.set(slot, { slot, flags, guestPhysAddr: gpa, memorySize: size, userspaceAddr: uaddr, guestMemfd: gmem, guestMemfdOffset: gmemOffset });
  }

  /** kvm_vm_ioctl_set_mem_attributes (compiled in only with CONFIG_KVM_GENERIC_MEMORY_ATTRIBUTES). */
  setMemoryAttributes(pid: number, attributes: VmMemoryAttributes, flags = 0n): void {
    const syscall = "ioctl(KVM_SET_MEMORY_ATTRIBUTES)";
    this.checkCaller(pid, syscall);
    // Not compiled in (this machine): kvm_vm_ioctl falls through to kvm_arch_vm_ioctl: -ENOTTY.
    if (!this.#caps.vmMemoryAttributes) fail(syscall, "ENOTTY");
    const { address, size } = attributes;
    const supported = this.privateMemory ? 8n : 0n;
    const detail = `gpa ${hex(address)} size ${hex(size)} attributes ${hex(attributes.attributes)}`;
    if (flags !== 0n) fail(syscall, "EINVAL", detail);
    // `if (attrs->attributes & ~supported_attrs) return -EINVAL;` — PRIVATE only on private VMs.
    if ((attributes.attributes & ~supported) !== 0n) fail(syscall, "EINVAL", `${detail}: supported ${hex(supported)}`);
    if (size <= 0n || address + size > U64_MAX) fail(syscall, "EINVAL", detail);
    if (!aligned(address) || !aligned(size)) fail(syscall, "EINVAL", detail);
    if (attributes.attributes === 0n) this.privateGpas.remove(address, address + size);
    else this.privateGpas.add(address, address + size);
  }

  /** kvm_gmem_release: every memslot bound to this guest_memfd loses its file. */
  forgetGuestMemfd(gmem: FakeGuestMemfd): void {
    for (const slot of this.memslots.values()) if (slot.guestMemfd === gmem) slot.guestMemfd = null;
  }

  /** The VM fd is gone; guest_memfds created on it keep the VM itself alive (kvm_get_kvm). */
  protected released(): void {
    // Nothing the daemon can observe: the memslots live on with the VM while gmems hold it.
  }

  assertInvariants(): void {
    this.privateGpas.assertInvariants();
    const slots = [...this.memslots.values()];
    for (const a of slots) {
      if (a.guestMemfd !== null && (a.guestMemfd.vm !== this || a.guestMemfd.refs === 0)) throw new Error(`VM: slot ${a.slot} points at a dead or foreign guest_memfd`);
      for (const b of slots) {
        if (a.slot < b.slot && a.slot >>> 16 === b.slot >>> 16 && a.guestPhysAddr < b.guestPhysAddr + b.memorySize && b.guestPhysAddr < a.guestPhysAddr + a.memorySize) {
          throw new Error(`VM: slots ${a.slot} and ${b.slot} overlap`);
        }
      }
    }
  }
}
