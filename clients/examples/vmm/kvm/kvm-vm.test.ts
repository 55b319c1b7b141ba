/**
 * The VM ioctls' koffi calls, exercised where there is no KVM: on an fd that is not a VM
 * (/dev/null) each ioctl reaches the kernel and fails with ENOTTY, named — which proves the
 * argument types koffi is given (struct Buffers as "void *", large integers as "unsigned long")
 * are accepted, so the real-KVM path does not fail first in koffi.
 */
import assert from "node:assert/strict";
import { openSync } from "node:fs";
import { test } from "node:test";
import { GUEST_MEMFD_FLAG_INIT_SHARED, GUEST_MEMFD_FLAG_MMAP, KVM_CAP_GUEST_MEMFD, KVM_MEM_GUEST_MEMFD, KernelError, Vcpu } from "@gmempool/sys";
import { KvmVm } from "./kvm-vm.ts";

const enotty = (ioctl: string) => (error: unknown): boolean => error instanceof KernelError && error.syscall === ioctl && error.errno === "ENOTTY";

test("every VM ioctl on a file that is not a VM fails with ENOTTY, naming the ioctl and the values that matter", () => {
  const vm = new KvmVm(openSync("/dev/null", "r+"));
  try {
    assert.throws(() => vm.checkExtension(KVM_CAP_GUEST_MEMFD), enotty("ioctl(KVM_CHECK_EXTENSION) on the VM"));
    assert.throws(() => vm.setTssAddr(), enotty("ioctl(KVM_SET_TSS_ADDR)"));
    assert.throws(() => vm.createGuestMemfd(64n << 20n, GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_INIT_SHARED), /^KernelError: ioctl\(KVM_CREATE_GUEST_MEMFD\) failed: ENOTTY \(size 67108864 flags 3\)$/);
    const region = { slot: 1, flags: KVM_MEM_GUEST_MEMFD, guestPhysAddr: 32n << 20n, memorySize: 16n << 20n, userspaceAddr: 0x7f00_0000_0000n, guestMemfd: 9, guestMemfdOffset: 32n << 20n };
    assert.throws(() => vm.setUserMemoryRegion2(region), /ioctl\(KVM_SET_USER_MEMORY_REGION2\) failed: ENOTTY \(slot 1 gpa 0x2000000 size 0x1000000 gmem offset 0x2000000\)/);
    assert.throws(() => vm.deleteUserMemoryRegion2(region), /size 0x0 /);
    assert.throws(() => Vcpu.create(vm.fd, 0, 12288), enotty("ioctl(KVM_CREATE_VCPU)"));
  } finally {
    vm.close();
  }
  vm.close(); // idempotent
});
