/**
 * The C structs the koffi layer passes to the kernel, declared with koffi so that koffi computes
 * the C layout; abi.test.ts asserts every size and field offset against KERNEL.md §2 and the
 * x86_64 ABI. Values are encoded into Buffers with `koffi.encode` (missing fields are zero) and
 * the buffers are passed as `void *` ioctl arguments.
 */
import koffi, { type TypeObject } from "koffi";

const u64 = "uint64_t";
const u32 = "uint32_t";

/** KVM_CREATE_GUEST_MEMFD argument (64 B). */
export const kvm_create_guest_memfd = koffi.struct("kvm_create_guest_memfd", {
  size: u64,
  flags: u64,
  reserved: koffi.array(u64, 6),
});

/** KVM_SET_USER_MEMORY_REGION2 argument (160 B). */
export const kvm_userspace_memory_region2 = koffi.struct("kvm_userspace_memory_region2", {
  slot: u32,
  flags: u32,
  guest_phys_addr: u64,
  memory_size: u64,
  userspace_addr: u64,
  guest_memfd_offset: u64,
  guest_memfd: u32,
  pad1: u32,
  pad2: koffi.array(u64, 14),
});

/** KVM_SET_MEMORY_ATTRIBUTES argument (32 B), a VM ioctl by guest physical address. */
export const kvm_memory_attributes = koffi.struct("kvm_memory_attributes", {
  address: u64,
  size: u64,
  attributes: u64,
  flags: u64,
});

/** KVM_SET_MEMORY_ATTRIBUTES2 argument (128 B) [proposed v8], a guest_memfd ioctl by offset. */
export const kvm_memory_attributes2 = koffi.struct("kvm_memory_attributes2", {
  offset: u64,
  size: u64,
  attributes: u64,
  flags: u64,
  /** Written back by the kernel on EAGAIN: the first offset that still had extra references. */
  error_offset: u64,
  reserved: koffi.array(u64, 11),
});

/** struct kvm_regs (x86, 144 B): rax..r15, rip, rflags. */
export const kvm_regs = koffi.struct("kvm_regs", {
  rax: u64, rbx: u64, rcx: u64, rdx: u64, rsi: u64, rdi: u64, rsp: u64, rbp: u64,
  r8: u64, r9: u64, r10: u64, r11: u64, r12: u64, r13: u64, r14: u64, r15: u64,
  rip: u64,
  rflags: u64,
});

/** struct kvm_segment (24 B). */
export const kvm_segment = koffi.struct("kvm_segment", {
  base: u64,
  limit: u32,
  selector: "uint16_t",
  type: "uint8_t",
  present: "uint8_t",
  dpl: "uint8_t",
  db: "uint8_t",
  s: "uint8_t",
  l: "uint8_t",
  g: "uint8_t",
  avl: "uint8_t",
  unusable: "uint8_t",
  padding: "uint8_t",
});

/** struct kvm_dtable (16 B). */
export const kvm_dtable = koffi.struct("kvm_dtable", {
  base: u64,
  limit: "uint16_t",
  padding: koffi.array("uint16_t", 3),
});

/** struct kvm_sregs (x86, 312 B). */
export const kvm_sregs = koffi.struct("kvm_sregs", {
  cs: kvm_segment, ds: kvm_segment, es: kvm_segment, fs: kvm_segment,
  gs: kvm_segment, ss: kvm_segment, tr: kvm_segment, ldt: kvm_segment,
  gdt: kvm_dtable, idt: kvm_dtable,
  cr0: u64, cr2: u64, cr3: u64, cr4: u64, cr8: u64,
  efer: u64,
  apic_base: u64,
  interrupt_bitmap: koffi.array(u64, 4),
});

/** The head of struct kvm_run that a port-I/O exit needs (the full struct is 2352 B + padding). */
export const kvm_run_head = koffi.struct("kvm_run_head", {
  request_interrupt_window: "uint8_t",
  immediate_exit: "uint8_t",
  padding1: koffi.array("uint8_t", 6),
  exit_reason: u32,
  ready_for_interrupt_injection: "uint8_t",
  if_flag: "uint8_t",
  flags: "uint16_t",
  cr8: u64,
  apic_base: u64,
  /** union: for KVM_EXIT_IO { u8 direction; u8 size; u16 port; u32 count; u64 data_offset }. */
  io_direction: "uint8_t",
  io_size: "uint8_t",
  io_port: "uint16_t",
  io_count: u32,
  io_data_offset: u64,
});

/** struct stat on x86_64 (144 B), as glibc's fstat fills it. */
export const stat = koffi.struct("stat", {
  st_dev: u64,
  st_ino: u64,
  st_nlink: u64,
  st_mode: u32,
  st_uid: u32,
  st_gid: u32,
  __pad0: "int32_t",
  st_rdev: u64,
  st_size: "int64_t",
  st_blksize: "int64_t",
  st_blocks: "int64_t",
  st_atime: koffi.array(u64, 2),
  st_mtime: koffi.array(u64, 2),
  st_ctime: koffi.array(u64, 2),
  __reserved: koffi.array("int64_t", 3),
});

/** struct iovec (16 B). Addresses are plain integers: koffi.address() of a live Buffer. */
export const iovec = koffi.struct("iovec", { iov_base: u64, iov_len: u64 });

/** struct msghdr on x86_64 (56 B). */
export const msghdr = koffi.struct("msghdr", {
  msg_name: u64,
  msg_namelen: u32,
  msg_iov: u64,
  msg_iovlen: u64,
  msg_control: u64,
  msg_controllen: u64,
  msg_flags: "int32_t",
});

/** struct cmsghdr on x86_64 (16 B); data follows at CMSG_DATA = +16. */
export const cmsghdr = koffi.struct("cmsghdr", { cmsg_len: u64, cmsg_level: "int32_t", cmsg_type: "int32_t" });

/** struct ucred (12 B), the SO_PEERCRED answer. */
export const ucred = koffi.struct("ucred", { pid: "int32_t", uid: u32, gid: u32 });

/** struct sockaddr_un (110 B): family, then a NUL-terminated path of at most 107 bytes. */
export const sockaddr_un = koffi.struct("sockaddr_un", {
  sun_family: "uint16_t",
  sun_path: koffi.array("uint8_t", 108),
});

/** Encodes `value` as struct `type` into a fresh zeroed Buffer. */
export function encodeStruct(type: TypeObject, value: Record<string, unknown>): Buffer {
  const buffer = Buffer.alloc(type.size);
  koffi.encode(buffer, 0, type, value);
  return buffer;
}

/** Reads an unsigned 64-bit field of a struct in `buffer` (koffi decodes small u64s as numbers). */
export function readU64(buffer: Buffer, type: TypeObject, field: string): bigint {
  return buffer.readBigUInt64LE(koffi.offsetof(type, field));
}
