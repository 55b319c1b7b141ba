/**
 * /dev/kvm: the system ioctls (KVM_GET_API_VERSION, KVM_CHECK_EXTENSION,
 * KVM_GET_VCPU_MMAP_SIZE, KVM_CREATE_VM). Owns its fd.
 */
import { closeSync, openSync } from "node:fs";
import {
  check,
  KVM_API_VERSION,
  KVM_CHECK_EXTENSION,
  KVM_CREATE_VM,
  KVM_DEVICE,
  KVM_GET_API_VERSION,
  KVM_GET_VCPU_MMAP_SIZE,
  KVM_X86_DEFAULT_VM,
  libc,
} from "@gmempool/sys";
import { KvmVm } from "./kvm-vm.ts";

export class KvmDevice {
  /** Owned; opened O_RDWR | O_CLOEXEC (libuv adds O_CLOEXEC to every open). */
  readonly fd: number;
  #closed = false;

  private constructor(fd: number) {
    this.fd = fd;
  }

  /** Opens the device and checks the API version (kvm_dev_ioctl: anything but 12 is not KVM). */
  static open(path = KVM_DEVICE): KvmDevice {
    const device = new KvmDevice(openSync(path, "r+"));
    try {
      const version = device.apiVersion();
      if (version !== KVM_API_VERSION) throw new Error(`${path}: KVM_GET_API_VERSION = ${version}, expected ${KVM_API_VERSION}`);
    } catch (error) {
      device.close();
      throw error;
    }
    return device;
  }

  apiVersion(): number {
    return check(libc.ioctl(this.fd, KVM_GET_API_VERSION, "unsigned long", 0), "ioctl(KVM_GET_API_VERSION)");
  }

  /** The system's answer for `capability` (0 = absent); a VM may answer differently (kvm-vm.ts). */
  checkExtension(capability: number): number {
    return check(libc.ioctl(this.fd, KVM_CHECK_EXTENSION, "unsigned long", capability), "ioctl(KVM_CHECK_EXTENSION)", `capability ${capability}`);
  }

  /** Bytes of a vCPU's kvm_run mapping (kvm_run, then the PIO data page, ...). */
  vcpuMmapSize(): number {
    return check(libc.ioctl(this.fd, KVM_GET_VCPU_MMAP_SIZE, "unsigned long", 0), "ioctl(KVM_GET_VCPU_MMAP_SIZE)");
  }

  /**
   * KVM_CREATE_VM. Type 0 (KVM_X86_DEFAULT_VM) is the only one a PVM host accepts (KERNEL.md
   * §1; kvm_arch_init_vm rejects the others with EINVAL). The VM belongs to this process: only
   * its creator may issue the VM's ioctls (kvm_vm_ioctl: kvm->mm != current->mm is EIO), which
   * is why the VMM, not the daemon, creates the VM and its guest_memfd (KERNEL.md §3).
   */
  createVm(type = KVM_X86_DEFAULT_VM): KvmVm {
    return new KvmVm(check(libc.ioctl(this.fd, KVM_CREATE_VM, "unsigned long", type), "ioctl(KVM_CREATE_VM)", `type ${type}`));
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    closeSync(this.fd);
  }
}
