/**
 * The ABI the koffi layer speaks: struct sizes and field offsets, and ioctl numbers computed
 * from _IOC and the struct sizes, asserted against the literals of KERNEL.md §2 (and the x86_64
 * ABI for the libc structs), everywhere (no /dev/kvm needed). A wrong layout fails here, not as
 * EINVAL (or worse, a wrong copy) inside the kernel.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import koffi, { type TypeObject } from "koffi";
import { errnoName, errnoNumber } from "./errno-names.ts";
import * as ioctl from "./ioctl-numbers.ts";
import * as kvm from "./kernel-constants.ts";
import { FALLOCATE_POPULATE, FALLOCATE_PUNCH, fallocateModeName, MFD_HUGE_2MB, MFD_HUGETLB } from "./kernel-constants.ts";
import { KernelError } from "./kernel-error.ts";
import * as structs from "./structs.ts";
import { check } from "./syscall-check.ts";

/** The structs are anonymous (structs.ts): the messages name them. */
function layout(name: string, type: TypeObject, size: number, offsets: Record<string, number>): void {
  assert.equal(type.size, size, `sizeof(${name})`);
  for (const [field, offset] of Object.entries(offsets)) assert.equal(koffi.offsetof(type, field), offset, `offsetof(${name}, ${field})`);
}

describe("struct layouts (KERNEL.md §2)", () => {
  test("kvm_create_guest_memfd is 64 bytes: size@0 flags@8 reserved@16", () => {
    layout("kvm_create_guest_memfd", structs.kvm_create_guest_memfd, 64, { size: 0, flags: 8, reserved: 16 });
  });

  test("kvm_userspace_memory_region2 is 160 bytes with guest_memfd_offset@32 guest_memfd@40 pad1@44 pad2@48", () => {
    layout("kvm_userspace_memory_region2", structs.kvm_userspace_memory_region2, 160, {
      slot: 0,
      flags: 4,
      guest_phys_addr: 8,
      memory_size: 16,
      userspace_addr: 24,
      guest_memfd_offset: 32,
      guest_memfd: 40,
      pad1: 44,
      pad2: 48,
    });
  });

  test("kvm_memory_attributes is 32 bytes: address@0 size@8 attributes@16 flags@24", () => {
    layout("kvm_memory_attributes", structs.kvm_memory_attributes, 32, { address: 0, size: 8, attributes: 16, flags: 24 });
  });

  test("kvm_memory_attributes2 [proposed v8] is 128 bytes with error_offset@32 reserved@40", () => {
    layout("kvm_memory_attributes2", structs.kvm_memory_attributes2, 128, { offset: 0, size: 8, attributes: 16, flags: 24, error_offset: 32, reserved: 40 });
  });

  test("kvm_regs is 144 bytes (rbx@8 rdi@40 r8@64 rip@128 rflags@136); kvm_segment 24; kvm_dtable 16; kvm_sregs 312 (cr0@224 cr3@240 efer@264)", () => {
    layout("kvm_regs", structs.kvm_regs, 144, { rax: 0, rbx: 8, rcx: 16, rdx: 24, rsi: 32, rdi: 40, rsp: 48, r8: 64, rip: 128, rflags: 136 });
    layout("kvm_segment", structs.kvm_segment, 24, { base: 0, limit: 8, selector: 12, type: 14, present: 15, dpl: 16, db: 17, s: 18, l: 19, g: 20, avl: 21, unusable: 22 });
    layout("kvm_dtable", structs.kvm_dtable, 16, { base: 0, limit: 8, padding: 10 });
    layout("kvm_sregs", structs.kvm_sregs, 312, { cs: 0, ds: 24, es: 48, ss: 120, tr: 144, gdt: 192, idt: 208, cr0: 224, cr3: 240, cr4: 248, efer: 264, apic_base: 272, interrupt_bitmap: 280 });
  });

  test("kvm_run: exit_reason@8, the exit union@32 of 256 bytes, io {direction, size, port@2, count@4, data_offset@8}, memory_fault {flags, gpa@8, size@16}", () => {
    layout("kvm_run", structs.kvm_run, 32 + 256, { request_interrupt_window: 0, immediate_exit: 1, exit_reason: 8, ready_for_interrupt_injection: 12, flags: 14, cr8: 16, apic_base: 24, exit: 32 });
    assert.equal(structs.kvm_run_exit.size, 256, "sizeof(kvm_run's exit union)");
    layout("kvm_run.io", structs.kvm_run_io, 16, { direction: 0, size: 1, port: 2, count: 4, data_offset: 8 });
    layout("kvm_run.memory_fault", structs.kvm_run_memory_fault, 24, { flags: 0, gpa: 8, size: 16 });
  });

  test("the libc structs on x86_64: stat 144 (st_mode@24 st_size@48 st_blksize@56), msghdr 56, iovec 16, cmsghdr 16, ucred 12, sockaddr_un 110", () => {
    layout("stat", structs.stat, 144, { st_mode: 24, st_size: 48, st_blksize: 56, st_blocks: 64 });
    layout("msghdr", structs.msghdr, 56, { msg_name: 0, msg_namelen: 8, msg_iov: 16, msg_iovlen: 24, msg_control: 32, msg_controllen: 40, msg_flags: 48 });
    layout("iovec", structs.iovec, 16, { iov_base: 0, iov_len: 8 });
    layout("cmsghdr", structs.cmsghdr, 16, { cmsg_len: 0, cmsg_level: 8, cmsg_type: 12 });
    layout("ucred", structs.ucred, 12, { pid: 0, uid: 4, gid: 8 });
    layout("sockaddr_un", structs.sockaddr_un, 110, { sun_family: 0, sun_path: 2 });
  });

  test("encodeStruct zero-fills what it is not given and readU64 reads 64-bit fields exactly", () => {
    const buffer = structs.encodeStruct(structs.kvm_memory_attributes2, { offset: 0x1000n, size: 0x2000n, attributes: 8n });
    assert.equal(buffer.length, 128);
    buffer.writeBigUInt64LE(0xffff_ffff_ffff_f000n, 32);
    assert.equal(structs.readU64(buffer, structs.kvm_memory_attributes2, "error_offset"), 0xffff_ffff_ffff_f000n);
    assert.equal(structs.readU64(buffer, structs.kvm_memory_attributes2, "offset"), 0x1000n);
    assert.ok(buffer.subarray(40).every((b) => b === 0));
  });

  test("encodeStruct writes 64-bit fields exactly and zero-fills the rest", () => {
    const buffer = structs.encodeStruct(structs.kvm_userspace_memory_region2, { slot: 1, guest_phys_addr: 0xffff_ffff_f000n, userspace_addr: 0x7f00_0000_0000n, guest_memfd: 9 });
    assert.equal(buffer.readUInt32LE(0), 1);
    assert.equal(buffer.readBigUInt64LE(8), 0xffff_ffff_f000n);
    assert.equal(buffer.readBigUInt64LE(24), 0x7f00_0000_0000n);
    assert.equal(buffer.readUInt32LE(40), 9);
    assert.ok(buffer.subarray(44).every((b) => b === 0));
  });
});

describe("ioctl numbers from _IOC (KERNEL.md §2)", () => {
  const literals: [string, number][] = [
    ["KVM_GET_API_VERSION", 0xae00],
    ["KVM_CREATE_VM", 0xae01],
    ["KVM_CHECK_EXTENSION", 0xae03],
    ["KVM_GET_VCPU_MMAP_SIZE", 0xae04],
    ["KVM_CREATE_VCPU", 0xae41],
    ["KVM_SET_TSS_ADDR", 0xae47],
    ["KVM_RUN", 0xae80],
    ["KVM_SET_USER_MEMORY_REGION2", 0x40a0ae49],
    ["KVM_SET_MEMORY_ATTRIBUTES", 0x4020aed2],
    ["KVM_CREATE_GUEST_MEMFD", 0xc040aed4],
    ["KVM_SET_MEMORY_ATTRIBUTES2", 0xc080aed2],
    // Not in KERNEL.md; from <linux/kvm.h> on x86_64.
    ["KVM_GET_REGS", 0x8090ae81],
    ["KVM_SET_REGS", 0x4090ae82],
    ["KVM_GET_SREGS", 0x8138ae83],
    ["KVM_SET_SREGS", 0x4138ae84],
  ];
  for (const [name, literal] of literals) {
    test(`${name} = 0x${literal.toString(16)}`, () => {
      assert.equal((ioctl as unknown as Record<string, number>)[name], literal);
      assert.equal(ioctl.IOCTL_NAMES.get(literal), name);
    });
  }

  test("KVM_PRE_FAULT_MEMORY = 0xC040AED5 computes the same way (64-byte struct)", () => {
    assert.equal(ioctl._IOWR(ioctl.KVMIO, 0xd5, 64), 0xc040aed5);
  });

  test("_IOC refuses a size that does not fit 14 bits", () => {
    assert.throws(() => ioctl._IOW(ioctl.KVMIO, 1, 1 << 14), RangeError);
  });
});

describe("other kernel numbers", () => {
  test("the KVM constants: caps 231/233/234/244, gmem flags MMAP 1 INIT_SHARED 2, KVM_MEM_GUEST_MEMFD 4, PRIVATE 8, exits IO 2 HLT 5 INTERNAL_ERROR 17 MEMORY_FAULT 39", () => {
    assert.deepEqual(
      [kvm.KVM_CAP_USER_MEMORY2, kvm.KVM_CAP_MEMORY_ATTRIBUTES, kvm.KVM_CAP_GUEST_MEMFD, kvm.KVM_CAP_GUEST_MEMFD_FLAGS],
      [231, 233, 234, 244],
    );
    assert.deepEqual([kvm.GUEST_MEMFD_FLAG_MMAP, kvm.GUEST_MEMFD_FLAG_INIT_SHARED, kvm.KVM_MEM_GUEST_MEMFD, kvm.KVM_MEMORY_ATTRIBUTE_PRIVATE], [1n, 2n, 4, 8n]);
    assert.deepEqual([kvm.KVM_EXIT_IO, kvm.KVM_EXIT_HLT, kvm.KVM_EXIT_INTERNAL_ERROR, kvm.KVM_EXIT_MEMORY_FAULT], [2, 5, 17, 39]);
    assert.equal(kvm.HUGETLB_PAGE_BYTES, 2n * 1024n * 1024n, "hugepages-2048kB");
  });

  test("errno names match the C library's numbers", () => {
    for (const name of ["EPERM", "EIO", "EBADF", "EAGAIN", "ENOMEM", "EFAULT", "EEXIST", "ENODEV", "EINVAL", "ENOTTY", "ENOSPC", "ESPIPE", "EPIPE", "EOPNOTSUPP", "EADDRINUSE", "ECONNREFUSED"] as const) {
      assert.equal(errnoNumber(name), koffi.os.errno[name], name);
      assert.equal(errnoName(errnoNumber(name)), name);
    }
    assert.equal(errnoName(koffi.os.errno["EWOULDBLOCK"] ?? -1), "EAGAIN");
    assert.equal(errnoName(koffi.os.errno["ENOTSUP"] ?? -1), "EOPNOTSUPP");
    assert.equal(errnoName(4095), "E4095");
  });

  test("MFD_HUGE_2MB is 21 << 26 and fallocate modes are named as in the messages", () => {
    assert.equal(MFD_HUGE_2MB, 0x54000000);
    assert.equal(MFD_HUGETLB, 4);
    assert.equal(fallocateModeName(FALLOCATE_PUNCH), "PUNCH_HOLE");
    assert.equal(fallocateModeName(FALLOCATE_POPULATE), "KEEP_SIZE");
    assert.equal(fallocateModeName(0), "0");
    assert.equal(fallocateModeName(0x2), "PUNCH_HOLE");
    assert.equal(fallocateModeName(0x11), "KEEP_SIZE|ZERO_RANGE");
  });
});

test("a failed call becomes a KernelError naming the call and the errno by name, with no numeric code", () => {
  assert.equal(check(3, "close"), 3);
  koffi.errno(9);
  assert.throws(
    () => check(-1, "ioctl(KVM_CREATE_VM)", "type 1"),
    (error: unknown) => error instanceof KernelError && error.errno === "EBADF" && error.message === "ioctl(KVM_CREATE_VM) failed: EBADF (type 1)" && !("code" in error),
  );
});
