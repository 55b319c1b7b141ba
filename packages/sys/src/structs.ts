/**
 * The C structs the daemon, the client library and the example VMM pass to the kernel, declared
 * with koffi so that koffi computes the C layout (x86_64), in the kernel's spelling
 * (include/uapi/linux/kvm.h, arch/x86/include/uapi/asm/kvm.h, the libc headers); abi.test.ts
 * asserts every size and field offset against KERNEL.md §2 and the x86_64 ABI. Values are
 * encoded into Buffers with `koffi.encode` (missing fields are zero) and the buffers are passed
 * as `void *` ioctl arguments.
 *
 * The types are anonymous (koffi.struct(def), not koffi.struct(name, def)): koffi's type names
 * are process-wide, and a process that loaded this module twice (two installed copies of the
 * package) would fail with a duplicate name.
 */
import koffi, { type TypeObject } from "koffi";

const u8 = "uint8_t";
const u16 = "uint16_t";
const u32 = "uint32_t";
const u64 = "uint64_t";

/** KVM_CREATE_GUEST_MEMFD argument (64 B). */
export const kvm_create_guest_memfd = koffi.struct({
  size: u64,
  flags: u64,
  reserved: koffi.array(u64, 6),
});

/** KVM_SET_USER_MEMORY_REGION2 argument (160 B). */
export const kvm_userspace_memory_region2 = koffi.struct({
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
export const kvm_memory_attributes = koffi.struct({
  address: u64,
  size: u64,
  attributes: u64,
  flags: u64,
});

/** KVM_SET_MEMORY_ATTRIBUTES2 argument (128 B) [proposed v8], a guest_memfd ioctl by offset. */
export const kvm_memory_attributes2 = koffi.struct({
  offset: u64,
  size: u64,
  attributes: u64,
  flags: u64,
  /** Written back by the kernel on EAGAIN: the first offset that still had extra references. */
  error_offset: u64,
  reserved: koffi.array(u64, 11),
});

/** struct kvm_regs (x86, 144 B): rax..r15, rip, rflags. */
export const kvm_regs = koffi.struct({
  rax: u64, rbx: u64, rcx: u64, rdx: u64, rsi: u64, rdi: u64, rsp: u64, rbp: u64,
  r8: u64, r9: u64, r10: u64, r11: u64, r12: u64, r13: u64, r14: u64, r15: u64,
  rip: u64,
  rflags: u64,
});

/** The general registers of kvm_regs, by name. */
export type KvmRegister = "rax" | "rbx" | "rcx" | "rdx" | "rsi" | "rdi" | "rsp" | "rbp" | "r8" | "r9" | "r10" | "r11" | "r12" | "r13" | "r14" | "r15" | "rip" | "rflags";

/** struct kvm_segment (24 B): a segment register's hidden (descriptor cache) state. */
export const kvm_segment = koffi.struct({
  base: u64,
  limit: u32,
  selector: u16,
  type: u8,
  present: u8,
  dpl: u8,
  db: u8,
  s: u8,
  l: u8,
  g: u8,
  avl: u8,
  unusable: u8,
  padding: u8,
});

/** struct kvm_dtable (16 B). */
export const kvm_dtable = koffi.struct({
  base: u64,
  limit: u16,
  padding: koffi.array(u16, 3),
});

/** struct kvm_sregs (x86, 312 B). */
export const kvm_sregs = koffi.struct({
  cs: kvm_segment, ds: kvm_segment, es: kvm_segment, fs: kvm_segment,
  gs: kvm_segment, ss: kvm_segment, tr: kvm_segment, ldt: kvm_segment,
  gdt: kvm_dtable, idt: kvm_dtable,
  cr0: u64, cr2: u64, cr3: u64, cr4: u64, cr8: u64,
  efer: u64,
  apic_base: u64,
  interrupt_bitmap: koffi.array(u64, 4),
});

/** The data segment registers kvm_sregs holds besides cs. */
export type KvmDataSegment = "ds" | "es" | "fs" | "gs" | "ss";

/** kvm_run's exit union, KVM_EXIT_IO member. */
export const kvm_run_io = koffi.struct({
  /** KVM_EXIT_IO_IN 0, KVM_EXIT_IO_OUT 1. */
  direction: u8,
  size: u8,
  port: u16,
  count: u32,
  /** Where the data is, relative to the start of kvm_run. */
  data_offset: u64,
});

/** kvm_run's exit union, KVM_EXIT_MEMORY_FAULT member. */
export const kvm_run_memory_fault = koffi.struct({ flags: u64, gpa: u64, size: u64 });

/** kvm_run's exit union, KVM_EXIT_INTERNAL_ERROR member (its data[] is not read here). */
export const kvm_run_internal = koffi.struct({ suberror: u32, ndata: u32 });

/** kvm_run's exit union, KVM_EXIT_FAIL_ENTRY member. */
export const kvm_run_fail_entry = koffi.struct({ hardware_entry_failure_reason: u64, cpu: u32 });

/** The exit union of kvm_run: 256 bytes in the kernel (its `char padding[256]`). */
export const kvm_run_exit = koffi.union({
  io: kvm_run_io,
  memory_fault: kvm_run_memory_fault,
  internal: kvm_run_internal,
  fail_entry: kvm_run_fail_entry,
  padding: koffi.array(u8, 256),
});

/**
 * The head of struct kvm_run up to and including the exit union (the kernel's struct goes on:
 * kvm_valid_regs, the sync regs; a vCPU maps KVM_GET_VCPU_MMAP_SIZE bytes and reads this part).
 */
export const kvm_run = koffi.struct({
  request_interrupt_window: u8,
  immediate_exit: u8,
  padding1: koffi.array(u8, 6),
  exit_reason: u32,
  ready_for_interrupt_injection: u8,
  if_flag: u8,
  flags: u16,
  cr8: u64,
  apic_base: u64,
  exit: kvm_run_exit,
});

/** struct stat on x86_64 (144 B), as glibc's fstat fills it. */
export const stat = koffi.struct({
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
export const iovec = koffi.struct({ iov_base: u64, iov_len: u64 });

/** struct msghdr on x86_64 (56 B). */
export const msghdr = koffi.struct({
  msg_name: u64,
  msg_namelen: u32,
  msg_iov: u64,
  msg_iovlen: u64,
  msg_control: u64,
  msg_controllen: u64,
  msg_flags: "int32_t",
});

/** struct cmsghdr on x86_64 (16 B); data follows at CMSG_DATA = +16. */
export const cmsghdr = koffi.struct({ cmsg_len: u64, cmsg_level: "int32_t", cmsg_type: "int32_t" });

/** struct ucred (12 B), the SO_PEERCRED answer. */
export const ucred = koffi.struct({ pid: "int32_t", uid: u32, gid: u32 });

/** struct sockaddr_un (110 B): family, then a NUL-terminated path of at most 107 bytes. */
export const sockaddr_un = koffi.struct({
  sun_family: u16,
  sun_path: koffi.array(u8, 108),
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
