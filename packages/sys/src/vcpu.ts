/**
 * A vCPU: its fd, its kvm_run mapping, KVM_GET/SET_REGS, KVM_GET/SET_SREGS and KVM_RUN. Owns the
 * fd and the mapping. The example VMM runs its guest on one; the daemon never runs guests, but
 * its real-kernel tests do, to prove that memory the kernel port manages is the memory a guest
 * sees.
 *
 * KVM_RUN runs synchronously on the calling (main) thread: the guest programs of the example and
 * the tests run a few thousand instructions and exit. A production VMM runs each vCPU on its own
 * thread.
 */
import koffi from "koffi";
import { errnoName, errnoNumber } from "./errno-names.ts";
import { asFd, type Fd } from "./fd.ts";
import { KVM_CREATE_VCPU, KVM_GET_REGS, KVM_GET_SREGS, KVM_RUN, KVM_SET_REGS, KVM_SET_SREGS, KVM_SET_TSS_ADDR } from "./ioctl-numbers.ts";
import { KVM_EXIT_MEMORY_FAULT, MAP_SHARED, PROT_READ, PROT_WRITE } from "./kernel-constants.ts";
import { KernelError } from "./kernel-error.ts";
import { decodeKvmRunExit, type VcpuExit } from "./kvm-run-exit.ts";
import { lastErrno, libc, MAP_FAILED } from "./libc.ts";
import { encodeStruct, kvm_regs, kvm_run, kvm_sregs, type KvmRegister } from "./structs.ts";
import { check } from "./syscall-check.ts";

const EINTR = errnoNumber("EINTR");
const EFAULT = errnoNumber("EFAULT");

/** Where vm.c puts the TSS for real mode on VMX: three pages below 4 GiB - 256 KiB. */
export const TSS_ADDR = 0xfffbd000;

/**
 * KVM_SET_TSS_ADDR on `vm` (borrowed): Intel needs a TSS region for real mode and task switches
 * (vmx_set_tss_addr) before a vCPU runs; AMD ignores it.
 */
export function setTssAddr(vm: number, address = TSS_ADDR): void {
  check(libc.ioctl(vm, KVM_SET_TSS_ADDR, "unsigned long", address), "ioctl(KVM_SET_TSS_ADDR)");
}

export class Vcpu {
  /** Owned. */
  readonly fd: Fd;
  readonly #runAddress: bigint;
  readonly #runBytes: number;
  #closed = false;

  private constructor(fd: Fd, runAddress: bigint, runBytes: number) {
    this.fd = fd;
    this.#runAddress = runAddress;
    this.#runBytes = runBytes;
  }

  /**
   * KVM_CREATE_VCPU on `vm` (borrowed; only the process that created the VM may do this) and the
   * mmap of its kvm_run (`runBytes` = KVM_GET_VCPU_MMAP_SIZE of /dev/kvm), through which KVM_RUN
   * reports every exit.
   */
  static create(vm: number, id: number, runBytes: number): Vcpu {
    const fd = asFd(check(libc.ioctl(vm, KVM_CREATE_VCPU, "unsigned long", id), "ioctl(KVM_CREATE_VCPU)", `id ${id}`));
    const address = libc.mmap(null, BigInt(runBytes), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0n);
    if (address === MAP_FAILED) {
      const errno = lastErrno();
      libc.close(fd);
      throw new KernelError("mmap(kvm_run)", errnoName(errno), { detail: `vCPU ${id}, ${runBytes} bytes` });
    }
    return new Vcpu(fd, address, runBytes);
  }

  /** The special registers (segments, control registers, EFER) as a kvm_sregs Buffer. */
  getSregs(): Buffer {
    const sregs = Buffer.alloc(kvm_sregs.size);
    check(libc.ioctl(this.#open(), KVM_GET_SREGS, "void *", sregs), "ioctl(KVM_GET_SREGS)");
    return sregs;
  }

  setSregs(sregs: Buffer): void {
    check(libc.ioctl(this.#open(), KVM_SET_SREGS, "void *", sregs), "ioctl(KVM_SET_SREGS)");
  }

  /** The general registers, rip and rflags. */
  getRegs(): Record<KvmRegister, bigint> {
    const regs = Buffer.alloc(kvm_regs.size);
    check(libc.ioctl(this.#open(), KVM_GET_REGS, "void *", regs), "ioctl(KVM_GET_REGS)");
    const names = Object.keys(kvm_regs.members ?? {}) as KvmRegister[];
    return Object.fromEntries(names.map((name) => [name, regs.readBigUInt64LE(koffi.offsetof(kvm_regs, name))])) as Record<KvmRegister, bigint>;
  }

  /** Sets every general register: those not in `values` become 0. */
  setRegs(values: Partial<Record<KvmRegister, bigint>>): void {
    check(libc.ioctl(this.#open(), KVM_SET_REGS, "void *", encodeStruct(kvm_regs, values)), "ioctl(KVM_SET_REGS)");
  }

  /**
   * KVM_RUN until the next exit to userspace. A signal makes KVM_RUN fail with EINTR
   * (kvm_arch_vcpu_ioctl_run, exit reason KVM_EXIT_INTR): the vCPU is simply run again. A
   * memory fault KVM cannot resolve (e.g. a guest_memfd closed under a memslot) fails with
   * EFAULT and exit reason KVM_EXIT_MEMORY_FAULT (KERNEL.md §4): reported as an exit.
   */
  run(): VcpuExit {
    const fd = this.#open();
    for (;;) {
      const result = libc.ioctl(fd, KVM_RUN, "unsigned long", 0);
      if (result !== -1) return decodeKvmRunExit(this.#view());
      const errno = lastErrno();
      if (errno === EINTR) continue;
      if (errno === EFAULT && this.#view().getUint32(koffi.offsetof(kvm_run, "exit_reason"), true) === KVM_EXIT_MEMORY_FAULT) return decodeKvmRunExit(this.#view());
      throw new KernelError("ioctl(KVM_RUN)", errnoName(errno));
    }
  }

  /** A fresh view of kvm_run for each read: no view outlives the mapping (see close()). */
  #view(): DataView {
    this.#open();
    return new DataView(koffi.view(this.#runAddress, this.#runBytes));
  }

  #open(): Fd {
    if (this.#closed) throw new Error("the vCPU is closed");
    return this.fd;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    libc.munmap(this.#runAddress, BigInt(this.#runBytes));
    libc.close(this.fd);
  }
}
