import assert from "node:assert/strict";
import { test } from "node:test";
import koffi from "koffi";
import { kvm_segment, kvm_sregs } from "@gmempool/sys";
import { PML4_GPA } from "./guest-layout.ts";
import { enterLongMode } from "./long-mode.ts";

const u64 = (buffer: Buffer, field: string): bigint => buffer.readBigUInt64LE(koffi.offsetof(kvm_sregs, field));
const segment = (buffer: Buffer, name: string): Record<string, unknown> =>
  koffi.decode(buffer.subarray(koffi.offsetof(kvm_sregs, name)), kvm_segment) as Record<string, unknown>;

test("long mode as the probe run64.c set it: flat 64-bit CS (selector 8), flat data segments (16), CR0 PG|PE.., CR3 = the PML4, CR4.PAE, EFER LME|LMA; TR and the rest untouched", () => {
  const sregs = Buffer.alloc(kvm_sregs.size, 0xee);
  enterLongMode(sregs);
  assert.deepEqual(
    { cr0: u64(sregs, "cr0"), cr3: u64(sregs, "cr3"), cr4: u64(sregs, "cr4"), efer: u64(sregs, "efer") },
    { cr0: 0x80050033n, cr3: PML4_GPA, cr4: 0x20n, efer: 0x500n },
  );
  const flat = { base: 0, limit: 0xffffffff, present: 1, dpl: 0, s: 1, g: 1, avl: 0, unusable: 0, padding: 0 };
  assert.deepEqual(segment(sregs, "cs"), { ...flat, selector: 8, type: 11, l: 1, db: 0 });
  for (const name of ["ds", "es", "fs", "gs", "ss"]) assert.deepEqual(segment(sregs, name), { ...flat, selector: 16, type: 3, l: 0, db: 1 }, name);
  const tr = koffi.offsetof(kvm_sregs, "tr");
  assert.ok(sregs.subarray(tr, tr + kvm_segment.size).every((b) => b === 0xee), "tr is left as KVM_GET_SREGS returned it");
  assert.equal(u64(sregs, "apic_base"), 0xeeeeeeeeeeeeeeeen);
});
