/**
 * Why KVM_RUN returned: the exit kvm_run describes (include/uapi/linux/kvm.h, struct kvm_run),
 * decoded from a view of the vCPU's kvm_run mapping. A pure function of the bytes, so that the
 * offsets are tested without a vCPU (kvm-run-exit.test.ts).
 */
import koffi, { type TypeObject } from "koffi";
import { KVM_EXIT_FAIL_ENTRY, KVM_EXIT_HLT, KVM_EXIT_INTERNAL_ERROR, KVM_EXIT_IO, KVM_EXIT_IO_OUT, KVM_EXIT_MEMORY_FAULT, KVM_EXIT_SHUTDOWN } from "./kernel-constants.ts";
import { kvm_run, kvm_run_fail_entry, kvm_run_internal, kvm_run_io, kvm_run_memory_fault } from "./structs.ts";

export type VcpuExit =
  /** Port I/O; `data` is a copy of the bytes (for OUT, what the guest wrote). */
  | { readonly reason: "io"; readonly out: boolean; readonly port: number; readonly size: number; readonly data: Uint8Array }
  | { readonly reason: "hlt" }
  /** A triple fault. */
  | { readonly reason: "shutdown" }
  /** A fault KVM could not resolve (e.g. a guest_memfd closed under its memslot, KERNEL.md §4). */
  | { readonly reason: "memory-fault"; readonly gpa: bigint; readonly size: bigint; readonly flags: bigint }
  /** E.g. suberror 1: the instruction emulator failed. */
  | { readonly reason: "internal-error"; readonly suberror: number }
  | { readonly reason: "fail-entry"; readonly hardwareEntryFailureReason: bigint }
  | { readonly reason: "other"; readonly exitReason: number };

const EXIT = koffi.offsetof(kvm_run, "exit");
/** Offset in kvm_run of `field` of the exit union's member of struct `type` (every member of a
 * union starts at the union's first byte). */
const at = (type: TypeObject, field: string): number => EXIT + koffi.offsetof(type, field);

/** Decodes the exit in `run`, a view of kvm_run (and the pages after it, where I/O data is). */
export function decodeKvmRunExit(run: DataView): VcpuExit {
  const exitReason = run.getUint32(koffi.offsetof(kvm_run, "exit_reason"), true);
  switch (exitReason) {
    case KVM_EXIT_IO: {
      const size = run.getUint8(at(kvm_run_io, "size"));
      const count = run.getUint32(at(kvm_run_io, "count"), true);
      // data_offset is from the start of kvm_run: the PIO data page (KVM_PIO_PAGE_OFFSET).
      const dataOffset = Number(run.getBigUint64(at(kvm_run_io, "data_offset"), true));
      if (dataOffset + size * count > run.byteLength) throw new RangeError(`KVM_EXIT_IO data at ${dataOffset}+${size * count} is outside kvm_run's ${run.byteLength} bytes`);
      return {
        reason: "io",
        out: run.getUint8(at(kvm_run_io, "direction")) === KVM_EXIT_IO_OUT,
        port: run.getUint16(at(kvm_run_io, "port"), true),
        size,
        data: new Uint8Array(run.buffer, run.byteOffset + dataOffset, size * count).slice(),
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
