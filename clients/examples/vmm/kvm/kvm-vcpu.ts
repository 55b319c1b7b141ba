/**
 * A vCPU: its fd, its kvm_run mapping, KVM_GET/SET_REGS, KVM_GET/SET_SREGS and KVM_RUN. Owns the
 * fd and the mapping.
 *
 * KVM_RUN runs synchronously on the calling (main) thread: the example's guest programs run a
 * few thousand instructions and exit. A production VMM runs each vCPU on its own thread.
 */
import koffi, { type TypeObject } from "koffi";
import { KVM_GET_REGS, KVM_GET_SREGS, KVM_RUN, KVM_SET_REGS, KVM_SET_SREGS } from "./ioctl-numbers.ts";
import {
  KVM_EXIT_FAIL_ENTRY,
  KVM_EXIT_HLT,
  KVM_EXIT_INTERNAL_ERROR,
  KVM_EXIT_IO,
  KVM_EXIT_IO_OUT,
  KVM_EXIT_MEMORY_FAULT,
  KVM_EXIT_SHUTDOWN,
} from "./kvm-constants.ts";
import type { KvmVm } from "./kvm-vm.ts";
import { libc, MAP_FAILED, MAP_SHARED, PROT_READ, PROT_WRITE } from "./libc.ts";
import {
  encodeStruct,
  kvm_regs,
  kvm_run,
  kvm_run_fail_entry,
  kvm_run_internal,
  kvm_run_io,
  kvm_run_memory_fault,
  kvm_sregs,
  type KvmRegister,
} from "./structs.ts";
import { check, errnoName, SyscallError } from "./syscall-error.ts";

const EINTR = 4;
const EFAULT = 14;

/** Why KVM_RUN returned, decoded from kvm_run. */
export type VcpuExit =
  | { readonly reason: "io"; readonly out: boolean; readonly port: number; readonly size: number; readonly data: Uint8Array }
  | { readonly reason: "hlt" }
  | { readonly reason: "shutdown" }
  | { readonly reason: "memory-fault"; readonly gpa: bigint; readonly size: bigint; readonly flags: bigint }
  | { readonly reason: "internal-error"; readonly suberror: number }
  | { readonly reason: "fail-entry"; readonly hardwareEntryFailureReason: bigint }
  | { readonly reason: "other"; readonly exitReason: number };

const EXIT = koffi.offsetof(kvm_run, "exit");
/** Offset in kvm_run of `field` of the exit union's member of struct `type` (every member of a
 * union starts at the union's first byte). */
const at = (type: TypeObject, field: string): number => EXIT + koffi.offsetof(type, field);

export class KvmVcpu {
  /** Owned. */
  readonly fd: number;
  readonly #runAddress: bigint;
  readonly #runBytes: number;
  #closed = false;

  private constructor(fd: number, runAddress: bigint, runBytes: number) {
    this.fd = fd;
    this.#runAddress = runAddress;
    this.#runBytes = runBytes;
  }

  /**
   * KVM_CREATE_VCPU on `vm` (borrowed) and the mmap of its kvm_run (`runBytes` =
   * KVM_GET_VCPU_MMAP_SIZE), through which KVM_RUN reports every exit.
   */
  static create(vm: KvmVm, id: number, runBytes: number): KvmVcpu {
    const fd = vm.createVcpuFd(id);
    const address = libc.mmap(null, BigInt(runBytes), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0n);
    if (address === MAP_FAILED) {
      const errno = koffi.errno();
      libc.close(fd);
      throw new SyscallError("mmap(kvm_run)", errnoName(errno), `vCPU ${id}, ${runBytes} bytes`);
    }
    return new KvmVcpu(fd, address, runBytes);
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
      if (result !== -1) return this.#decodeExit();
      const errno = koffi.errno();
      if (errno === EINTR) continue;
      if (errno === EFAULT && this.#view().getUint32(koffi.offsetof(kvm_run, "exit_reason"), true) === KVM_EXIT_MEMORY_FAULT) return this.#decodeExit();
      throw new SyscallError("ioctl(KVM_RUN)", errnoName(errno));
    }
  }

  #decodeExit(): VcpuExit {
    const run = this.#view();
    const exitReason = run.getUint32(koffi.offsetof(kvm_run, "exit_reason"), true);
    switch (exitReason) {
      case KVM_EXIT_IO: {
        const size = run.getUint8(at(kvm_run_io, "size"));
        const count = run.getUint32(at(kvm_run_io, "count"), true);
        const dataOffset = Number(run.getBigUint64(at(kvm_run_io, "data_offset"), true));
        return {
          reason: "io",
          out: run.getUint8(at(kvm_run_io, "direction")) === KVM_EXIT_IO_OUT,
          port: run.getUint16(at(kvm_run_io, "port"), true),
          size,
          data: new Uint8Array(run.buffer.slice(dataOffset, dataOffset + size * count)),
        };
      }
      case KVM_EXIT_HLT:
        return { reason: "hlt" };
      case KVM_EXIT_SHUTDOWN:
        return { reason: "shutdown" };
      case KVM_EXIT_MEMORY_FAULT:
        return {
          reason: "memory-fault",
          flags: run.getBigUint64(at(kvm_run_memory_fault, "flags"), true),
          gpa: run.getBigUint64(at(kvm_run_memory_fault, "gpa"), true),
          size: run.getBigUint64(at(kvm_run_memory_fault, "size"), true),
        };
      case KVM_EXIT_INTERNAL_ERROR:
        return { reason: "internal-error", suberror: run.getUint32(at(kvm_run_internal, "suberror"), true) };
      case KVM_EXIT_FAIL_ENTRY:
        return { reason: "fail-entry", hardwareEntryFailureReason: run.getBigUint64(at(kvm_run_fail_entry, "hardware_entry_failure_reason"), true) };
      default:
        return { reason: "other", exitReason };
    }
  }

  /** A fresh view of kvm_run for each read: no view outlives the mapping (see close()). */
  #view(): DataView {
    this.#open();
    return new DataView(koffi.view(this.#runAddress, this.#runBytes));
  }

  #open(): number {
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
