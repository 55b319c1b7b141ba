/**
 * A minimal vCPU for tests and the example VMM: create, enter real mode at an address, run until
 * an exit. Not part of the kernel port — the daemon never runs guests — but it lives here because
 * it is the same koffi layer, and it is how the tests prove that memory the port manages is the
 * memory a guest sees.
 *
 * Set-up follows the probe vm.c (KERNEL.md "[here]"): KVM_SET_TSS_ADDR, a vCPU whose CS and DS
 * bases are 0 so real-mode addresses are guest physical addresses.
 */
import { openSync, closeSync } from "node:fs";
import koffi from "koffi";
import { asFd, type Fd } from "./fd.ts";
import {
  KVM_CREATE_VCPU,
  KVM_GET_REGS,
  KVM_GET_SREGS,
  KVM_GET_VCPU_MMAP_SIZE,
  KVM_RUN,
  KVM_SET_REGS,
  KVM_SET_SREGS,
  KVM_SET_TSS_ADDR,
} from "./ioctl-numbers.ts";
import { MAP_SHARED, PROT_READ, PROT_WRITE } from "./kernel-constants.ts";
import { lastErrno, libc, MAP_FAILED } from "./libc.ts";
import { stableBuffer } from "./scm-rights.ts";
import { kvm_regs, kvm_run_head, kvm_segment, kvm_sregs } from "./structs.ts";
import { check, kernelError } from "./syscall-check.ts";

export const KVM_EXIT_IO = 2;
export const KVM_EXIT_HLT = 5;
export const KVM_EXIT_MEMORY_FAULT = 39;
/** Where vm.c puts the TSS for real mode on VMX (three pages below 4 GiB - 256 KiB). */
const TSS_ADDR = 0xfffbd000;

export type VcpuExit =
  | { readonly reason: "io"; readonly port: number; readonly out: boolean; readonly data: Uint8Array }
  | { readonly reason: "hlt" }
  | { readonly reason: "other"; readonly exitReason: number };

/** KVM_SET_TSS_ADDR on `vm` (borrowed): needed before running real-mode code on Intel. */
export function setTssAddr(vm: Fd): void {
  check(libc.ioctl(vm, KVM_SET_TSS_ADDR, "unsigned long", TSS_ADDR), "ioctl(KVM_SET_TSS_ADDR)");
}

export class Vcpu {
  /** Owned: closed by `close()`. */
  readonly fd: Fd;
  readonly #runAddress: bigint;
  readonly #runBytes: bigint;
  #run: DataView | null;

  private constructor(fd: Fd, runAddress: bigint, runBytes: bigint) {
    this.fd = fd;
    this.#runAddress = runAddress;
    this.#runBytes = runBytes;
    this.#run = new DataView(koffi.view(runAddress, Number(runBytes)));
  }

  /** KVM_CREATE_VCPU on `vm` (borrowed; only its creator process may do this) and maps kvm_run. */
  static create(vm: Fd, id = 0): Vcpu {
    const kvm = openSync("/dev/kvm", "r+");
    let runBytes: number;
    try {
      runBytes = check(libc.ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, "unsigned long", 0), "ioctl(KVM_GET_VCPU_MMAP_SIZE)");
    } finally {
      closeSync(kvm);
    }
    const fd = asFd(check(libc.ioctl(vm, KVM_CREATE_VCPU, "unsigned long", id), "ioctl(KVM_CREATE_VCPU)"));
    const address = libc.mmap(null, BigInt(runBytes), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0n);
    if (address === MAP_FAILED) {
      const errno = lastErrno();
      libc.close(fd);
      throw kernelError("mmap(kvm_run)", errno);
    }
    return new Vcpu(fd, address, BigInt(runBytes));
  }

  /** Real mode, CS = DS = ES = SS = 0 (base 0), IP = `rip`, interrupts off. */
  enterRealMode(rip: bigint): void {
    const sregs = stableBuffer(kvm_sregs.size);
    check(libc.ioctl(this.fd, KVM_GET_SREGS, "void *", sregs), "ioctl(KVM_GET_SREGS)");
    for (const segment of ["cs", "ds", "es", "ss"]) {
      const at = koffi.offsetof(kvm_sregs, segment);
      sregs.writeBigUInt64LE(0n, at + koffi.offsetof(kvm_segment, "base"));
      sregs.writeUInt16LE(0, at + koffi.offsetof(kvm_segment, "selector"));
    }
    check(libc.ioctl(this.fd, KVM_SET_SREGS, "void *", sregs), "ioctl(KVM_SET_SREGS)");
    const regs = stableBuffer(kvm_regs.size);
    check(libc.ioctl(this.fd, KVM_GET_REGS, "void *", regs), "ioctl(KVM_GET_REGS)");
    regs.fill(0);
    regs.writeBigUInt64LE(rip, koffi.offsetof(kvm_regs, "rip"));
    regs.writeBigUInt64LE(2n, koffi.offsetof(kvm_regs, "rflags")); // bit 1 is reserved, always set
    check(libc.ioctl(this.fd, KVM_SET_REGS, "void *", regs), "ioctl(KVM_SET_REGS)");
  }

  /**
   * KVM_RUN until the next exit. Synchronous: the guests of the tests run a handful of
   * instructions; a real VMM runs vCPUs on their own threads.
   */
  run(): VcpuExit {
    check(libc.ioctl(this.fd, KVM_RUN, "unsigned long", 0), "ioctl(KVM_RUN)");
    const run = this.#view();
    const exitReason = run.getUint32(koffi.offsetof(kvm_run_head, "exit_reason"), true);
    if (exitReason === KVM_EXIT_HLT) return { reason: "hlt" };
    if (exitReason !== KVM_EXIT_IO) return { reason: "other", exitReason };
    const size = run.getUint8(koffi.offsetof(kvm_run_head, "io_size"));
    const count = run.getUint32(koffi.offsetof(kvm_run_head, "io_count"), true);
    const dataOffset = Number(run.getBigUint64(koffi.offsetof(kvm_run_head, "io_data_offset"), true));
    return {
      reason: "io",
      port: run.getUint16(koffi.offsetof(kvm_run_head, "io_port"), true),
      out: run.getUint8(koffi.offsetof(kvm_run_head, "io_direction")) === 1,
      data: new Uint8Array(run.buffer.slice(dataOffset, dataOffset + size * count)),
    };
  }

  #view(): DataView {
    if (this.#run === null) throw new Error("vCPU closed");
    return this.#run;
  }

  close(): void {
    if (this.#run === null) return;
    this.#run = null;
    libc.munmap(this.#runAddress, this.#runBytes);
    libc.close(this.fd);
  }
}
