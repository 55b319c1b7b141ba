/**
 * A guest_memfd of the fake kernel: the file rules of KERNEL.md §4 and the v8 in-place
 * conversion rules of §5, each citing the kernel function that enforces it (6.18
 * virt/kvm/guest_memfd.c unless marked [proposed v8]).
 *
 * Invariants (assertInvariants): populated, private and every binding lie inside [0, size);
 * bindings do not overlap; pins only on page-aligned offsets inside [0, size).
 */
import { ByteRangeSet } from "../byte-range-set.ts";
import { FakeFileObject, fail, hex } from "./fake-file-object.ts";
import { FileMemory } from "./fake-file-memory.ts";
import {
  FALLOC_FL_KEEP_SIZE,
  FALLOC_FL_PUNCH_HOLE,
  fallocateModeName,
  GUEST_MEMFD_FLAG_INIT_SHARED,
  GUEST_MEMFD_FLAG_MMAP,
  KernelError,
  KVM_MEMORY_ATTRIBUTE_PRIVATE,
} from "@gmempool/sys";
import type { FakeVm } from "./fake-vm.ts";
import { PAGE_BYTES } from "@gmempool/contract";

const aligned = (value: bigint): boolean => value % PAGE_BYTES === 0n;
const IOCTL_CREATE = "ioctl(KVM_CREATE_GUEST_MEMFD)";
const IOCTL_ATTRIBUTES2 = "ioctl(KVM_SET_MEMORY_ATTRIBUTES2)";

export class FakeGuestMemfd extends FakeFileObject {
  readonly kind = "guest_memfd";
  /** The VM it was created on; holding the gmem keeps the VM alive (kvm_get_kvm in __kvm_gmem_create). */
  readonly vm: FakeVm;
  /** Fixed forever: kvm_gmem_setattr refuses every size change. */
  readonly size: bigint;
  readonly flags: bigint;
  readonly memory = new FileMemory();
  /**
   * Offsets the host may not touch. With in-place conversion these are the PRIVATE pages;
   * without GUEST_MEMFD_FLAG_INIT_SHARED the whole file starts here (6.18: every host fault is
   * SIGBUS; v8: the file starts private).
   */
  readonly private = new ByteRangeSet();
  /** Extra folio references (GUP pins, in-flight I/O) by page offset: the test hook `pin`. */
  readonly #pins = new Map<bigint, number>();
  /** Memslot bindings by slot key: [start, end) of the file (struct gmem_file.bindings). */
  readonly #bindings = new Map<string, readonly [bigint, bigint]>();

  private constructor(vm: FakeVm, size: bigint, flags: bigint) {
    super();
    this.vm = vm;
    this.size = size;
    this.flags = flags;
    if ((flags & GUEST_MEMFD_FLAG_INIT_SHARED) === 0n) this.private.add(0n, size);
  }

  /** kvm_gmem_create: validates, then __kvm_gmem_create. */
  static create(vm: FakeVm, size: bigint, flags: bigint, supportedFlags: bigint): FakeGuestMemfd {
    // kvm_gmem_create: `if (flags & ~kvm_gmem_get_supported_flags(kvm)) return -EINVAL;`
    if ((flags & ~supportedFlags) !== 0n) fail(IOCTL_CREATE, "EINVAL", `flags ${hex(flags)} outside supported ${hex(supportedFlags)}`);
    // kvm_gmem_create: `if (size <= 0 || !PAGE_ALIGNED(size)) return -EINVAL;`
    if (size <= 0n || !aligned(size)) fail(IOCTL_CREATE, "EINVAL", `size ${hex(size)}`);
    return new FakeGuestMemfd(vm, size, flags);
  }

  get populatedBytes(): bigint {
    return this.memory.populatedBytes;
  }

  describe(): string {
    return `guest_memfd size ${hex(this.size)} flags ${hex(this.flags)}: ${this.memory.populatedBytes} bytes populated`;
  }

  /** fallocate(2) on a guest_memfd: vfs_fallocate, then kvm_gmem_fallocate. */
  fallocate(mode: number, offset: bigint, length: bigint): void {
    const syscall = `fallocate(${fallocateModeName(mode)})`;
    // vfs_fallocate: `if (offset < 0 || len <= 0) return -EINVAL;`
    if (offset < 0n || length <= 0n) fail(syscall, "EINVAL", `offset ${hex(offset)} length ${hex(length)}`);
    // vfs_fallocate: PUNCH_HOLE without KEEP_SIZE is EOPNOTSUPP for every file system.
    if ((mode & FALLOC_FL_PUNCH_HOLE) !== 0 && (mode & FALLOC_FL_KEEP_SIZE) === 0) fail(syscall, "EOPNOTSUPP");
    // kvm_gmem_fallocate: `if (!(mode & FALLOC_FL_KEEP_SIZE)) return -EOPNOTSUPP;` — the size is fixed.
    if ((mode & FALLOC_FL_KEEP_SIZE) === 0) fail(syscall, "EOPNOTSUPP", "guest_memfd needs FALLOC_FL_KEEP_SIZE");
    // kvm_gmem_fallocate: only KEEP_SIZE and PUNCH_HOLE (no ZERO_RANGE, COLLAPSE_RANGE, ...).
    if ((mode & ~(FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE)) !== 0) fail(syscall, "EOPNOTSUPP");
    // kvm_gmem_fallocate: `if (!PAGE_ALIGNED(offset) || !PAGE_ALIGNED(len)) return -EINVAL;`
    if (!aligned(offset) || !aligned(length)) fail(syscall, "EINVAL", `offset ${hex(offset)} length ${hex(length)} not 4 KiB aligned`);
    const end = offset + length;
    if ((mode & FALLOC_FL_PUNCH_HOLE) !== 0) {
      // kvm_gmem_punch_hole: truncates [offset, end) clamped to i_size; punching past EOF is fine.
      // Attributes stay as they are (KERNEL.md §5); folios with extra references leave the file.
      const stop = end < this.size ? end : this.size;
      this.memory.free(offset, stop);
      for (const page of [...this.#pins.keys()]) if (page >= offset && page < stop) this.#pins.delete(page);
      return;
    }
    // kvm_gmem_allocate: `if (offset + len > i_size_read(inode)) return -EINVAL;`
    if (end > this.size) fail(syscall, "EINVAL", `[${hex(offset)}, ${hex(end)}) past the size ${hex(this.size)}`);
    // kvm_gmem_allocate: kvm_gmem_get_folio for every index; contents are zeroed lazily.
    this.memory.populate(offset, end);
  }

  /** ftruncate(2): kvm_gmem_setattr returns -EINVAL for every size change. */
  ftruncate(): never {
    fail("ftruncate", "EINVAL", "the size of a guest_memfd is fixed");
  }

  /** mmap(2) checks: kvm_gmem_mmap. The port always maps MAP_SHARED, which kvm_gmem_mmap requires. */
  checkMmap(): void {
    // kvm_gmem_mmap: `if (!kvm_gmem_supports_mmap(inode)) return -ENODEV;`
    if ((this.flags & GUEST_MEMFD_FLAG_MMAP) === 0n) fail("mmap(MAP_SHARED)", "ENODEV", "guest_memfd created without GUEST_MEMFD_FLAG_MMAP");
  }

  /**
   * A host load or store through a mapping (kvm_gmem_fault_user_mapping): SIGBUS past i_size and
   * on pages the host may not touch (not INIT_SHARED on 6.18; PRIVATE under v8). The real port
   * sees SIGBUS as EFAULT from process_vm_readv/writev, so the fake reports EFAULT too. A fault
   * that succeeds allocates the folio (kvm_gmem_get_folio).
   */
  hostAccess(syscall: string, offset: bigint, length: bigint): void {
    const pageStart = offset - (offset % PAGE_BYTES);
    const end = offset + length;
    if (end > this.size) fail(syscall, "EFAULT", `guest_memfd offset ${hex(this.size)} is past its size: SIGBUS`);
    const blocked = this.private.firstIn(pageStart, end);
    if (blocked !== undefined) fail(syscall, "EFAULT", `guest_memfd page ${hex(blocked - (blocked % PAGE_BYTES))} is not shared with the host: SIGBUS`);
    const pageEnd = ((end + PAGE_BYTES - 1n) / PAGE_BYTES) * PAGE_BYTES;
    this.memory.populate(pageStart, pageEnd);
  }

  /** KVM_SET_MEMORY_ATTRIBUTES2 on the guest_memfd [proposed v8, kvm_gmem_set_attributes]. */
  setAttributes(offset: bigint, size: bigint, attributes: bigint, flags: bigint): void {
    const detail = `offset ${hex(offset)} size ${hex(size)} attributes ${hex(attributes)}`;
    // Rejected on VMs without private memory: kvm_supported_mem_attributes(kvm) is 0 there.
    if (!this.vm.privateMemory) fail(IOCTL_ATTRIBUTES2, "EINVAL", `${detail}: the VM has no private memory`);
    // flags and reserved must be 0 (v8); attributes must be supported.
    if (flags !== 0n) fail(IOCTL_ATTRIBUTES2, "EINVAL", `${detail}: flags ${hex(flags)}`);
    if ((attributes & ~KVM_MEMORY_ATTRIBUTE_PRIVATE) !== 0n) fail(IOCTL_ATTRIBUTES2, "EINVAL", detail);
    // 4 KiB granularity; an empty, wrapping or out-of-file range is invalid.
    if (size <= 0n || !aligned(offset) || !aligned(size) || offset < 0n || offset + size > this.size) fail(IOCTL_ATTRIBUTES2, "EINVAL", detail);
    const end = offset + size;
    const toPrivate = attributes === KVM_MEMORY_ATTRIBUTE_PRIVATE;
    // A range already in the requested state returns 0 at once.
    if (toPrivate ? this.private.covers(offset, end) : this.private.firstIn(offset, end) === undefined) return;
    if (toPrivate) {
      // To private: host mappings of the range are zapped, then every folio must have no extra
      // references; else EAGAIN with error_offset = first busy offset, attributes unchanged.
      const busy = [...this.#pins.keys()].filter((page) => page >= offset && page < end && this.private.firstIn(page, page + PAGE_BYTES) === undefined).sort((a, b) => (a < b ? -1 : 1))[0];
      if (busy !== undefined) throw new KernelError(IOCTL_ATTRIBUTES2, "EAGAIN", { errorOffset: busy, detail: `${detail}: a page still has extra references` });
      this.private.add(offset, end);
    } else {
      // To shared: the arch cleanup runs; no reference check.
      this.private.remove(offset, end);
    }
  }

  /** Test hook: an extra reference on the folio at `offset` (e.g. a GUP pin). */
  pin(offset: bigint): void {
    const page = offset - (offset % PAGE_BYTES);
    if (page < 0n || page >= this.size) throw new RangeError(`pin at ${hex(offset)} outside a guest_memfd of ${hex(this.size)}`);
    this.#pins.set(page, (this.#pins.get(page) ?? 0) + 1);
  }

  unpin(offset: bigint): void {
    const page = offset - (offset % PAGE_BYTES);
    const count = this.#pins.get(page);
    if (count === undefined) throw new RangeError(`no pin at ${hex(page)}`);
    if (count <= 1) this.#pins.delete(page);
    else this.#pins.set(page, count - 1);
  }

  /**
   * kvm_gmem_bind: `slot` wants [offset, offset + size) of this file. The caller (FakeVm) has
   * checked that the fd is a guest_memfd; the checks here follow kvm_gmem_bind's order.
   */
  bind(vm: FakeVm, slotKey: string, offset: bigint, size: bigint): void {
    const syscall = "ioctl(KVM_SET_USER_MEMORY_REGION2)";
    // kvm_gmem_bind: `if (gmem->kvm != kvm) goto err;` (EINVAL): only into the VM it was created on.
    if (vm !== this.vm) fail(syscall, "EINVAL", "the guest_memfd belongs to another VM");
    // kvm_gmem_bind: `if (offset < 0 || !PAGE_ALIGNED(offset) || offset + size > i_size_read(inode))`
    if (offset < 0n || !aligned(offset) || offset + size > this.size) fail(syscall, "EINVAL", `guest_memfd range [${hex(offset)}, ${hex(offset + size)}) of a file of ${hex(this.size)}`);
    // kvm_gmem_bind: `if (!xa_empty(&gmem->bindings) && xa_find(&gmem->bindings, &start, end - 1, XA_PRESENT))`
    for (const [start, end] of this.#bindings.values()) {
      if (offset < end && start < offset + size) fail(syscall, "EINVAL", `guest_memfd range [${hex(offset)}, ${hex(offset + size)}) is already bound`);
    }
    this.#bindings.set(slotKey, [offset, offset + size]);
  }

  /** kvm_gmem_unbind (slot deleted). */
  unbind(slotKey: string): void {
    this.#bindings.delete(slotKey);
  }

  get bindingCount(): number {
    return this.#bindings.size;
  }

  /**
   * kvm_gmem_release, then eviction of the inode (its only file is gone): memslots lose their
   * file (slot->gmem.file = NULL; the next KVM_RUN on them fails with EFAULT) and the memory is
   * freed.
   */
  protected released(): void {
    this.vm.forgetGuestMemfd(this);
    this.#bindings.clear();
    this.#pins.clear();
    this.memory.free(0n, this.size);
  }

  assertInvariants(): void {
    this.memory.assertInvariants();
    this.private.assertInvariants();
    if (this.memory.populated.bytesIn(0n, this.size) !== this.memory.populatedBytes) throw new Error("guest_memfd: populated bytes past the size");
    if (this.private.bytesIn(0n, this.size) !== this.private.bytes) throw new Error("guest_memfd: private bytes past the size");
    const ranges = [...this.#bindings.values()].sort((a, b) => (a[0] < b[0] ? -1 : 1));
    ranges.forEach(([start, end], i) => {
      if (start < 0n || end > this.size || start >= end) throw new Error(`guest_memfd: binding [${start}, ${end}) outside the file`);
      const next = ranges[i + 1];
      if (next !== undefined && next[0] < end) throw new Error("guest_memfd: overlapping bindings");
    });
  }
}
