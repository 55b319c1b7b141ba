/**
 * The vCPU state of a flat 64-bit guest at CPL 0 with paging on, written into the kvm_sregs that
 * KVM_GET_SREGS returned (so the reset values of tr, ldt, gdt, idt and apic_base stay). The
 * values are those of the probe run64.c, which ran on this project's PVM hosts (KERNEL.md
 * "[here]"): segment registers get their hidden state directly, so no GDT is needed until the
 * guest reloads a segment, which the example's program never does.
 */
import koffi from "koffi";
import { kvm_segment, kvm_sregs, type KvmDataSegment } from "@gmempool/sys";
import { PML4_GPA } from "./guest-layout.ts";

/** CR0: PG | AM | WP | NE | ET | MP | PE. */
export const LONG_MODE_CR0 = 0x80050033n;
/** CR4: PAE (4-level paging needs it). */
export const LONG_MODE_CR4 = 0x20n;
/** EFER: LME | LMA (kvm_is_valid_sregs: LME with PG needs LMA and CR4.PAE). */
export const LONG_MODE_EFER = 0x500n;
/** RFLAGS at entry: only the always-one bit 1; interrupts off. */
export const LONG_MODE_RFLAGS = 2n;

interface Segment {
  readonly selector: number;
  /** 11: code, execute/read, accessed. 3: data, read/write, accessed. */
  readonly type: number;
  /** 64-bit code segment. */
  readonly l: number;
  /** Default operand size 32 (data segments). */
  readonly db: number;
}

const CODE: Segment = { selector: 0x08, type: 11, l: 1, db: 0 };
const DATA: Segment = { selector: 0x10, type: 3, l: 0, db: 1 };
const DATA_SEGMENTS: readonly KvmDataSegment[] = ["ds", "es", "fs", "gs", "ss"];

function writeSegment(sregs: Buffer, name: "cs" | KvmDataSegment, segment: Segment): void {
  const encoded = Buffer.alloc(kvm_segment.size);
  koffi.encode(encoded, 0, kvm_segment, { base: 0, limit: 0xffffffff, present: 1, s: 1, g: 1, dpl: 0, ...segment });
  encoded.copy(sregs, koffi.offsetof(kvm_sregs, name));
}

/** Rewrites `sregs` (a kvm_sregs from KVM_GET_SREGS) for the flat 64-bit guest. */
export function enterLongMode(sregs: Buffer): void {
  if (sregs.length !== kvm_sregs.size) throw new RangeError(`kvm_sregs is ${kvm_sregs.size} bytes, got ${sregs.length}`);
  writeSegment(sregs, "cs", CODE);
  for (const name of DATA_SEGMENTS) writeSegment(sregs, name, DATA);
  sregs.writeBigUInt64LE(LONG_MODE_CR0, koffi.offsetof(kvm_sregs, "cr0"));
  sregs.writeBigUInt64LE(PML4_GPA, koffi.offsetof(kvm_sregs, "cr3"));
  sregs.writeBigUInt64LE(LONG_MODE_CR4, koffi.offsetof(kvm_sregs, "cr4"));
  sregs.writeBigUInt64LE(LONG_MODE_EFER, koffi.offsetof(kvm_sregs, "efer"));
}
