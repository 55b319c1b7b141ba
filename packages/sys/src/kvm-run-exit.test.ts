import assert from "node:assert/strict";
import { test } from "node:test";
import { decodeKvmRunExit } from "./kvm-run-exit.ts";

/** A kvm_run mapping of 3 pages, as KVM_GET_VCPU_MMAP_SIZE gives on x86, at a nonzero offset of
 * its ArrayBuffer (the decoder must not assume offset 0). */
function kvmRun(exitReason: number): { view: DataView; bytes: Buffer } {
  const backing = Buffer.alloc(16 + 3 * 4096);
  const bytes = backing.subarray(16);
  bytes.writeUInt32LE(exitReason, 8);
  return { view: new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), bytes };
}

test("KVM_EXIT_IO (2): the OUT of `out 0x10, eax`, its 4 bytes copied from the PIO data page at data_offset", () => {
  const { view, bytes } = kvmRun(2);
  bytes.writeUInt8(1, 32); // direction: KVM_EXIT_IO_OUT
  bytes.writeUInt8(4, 33); // size
  bytes.writeUInt16LE(0x10, 34); // port
  bytes.writeUInt32LE(1, 36); // count
  bytes.writeBigUInt64LE(4096n, 40); // data_offset
  bytes.writeUInt32LE(0x01020304, 4096);
  const exit = decodeKvmRunExit(view);
  assert.deepEqual(exit, { reason: "io", out: true, port: 0x10, size: 4, data: new Uint8Array([4, 3, 2, 1]) });
  bytes.writeUInt32LE(0, 4096);
  assert.deepEqual(exit.reason === "io" ? exit.data : undefined, new Uint8Array([4, 3, 2, 1]), "a copy, not a view of the mapping");
});

test("KVM_EXIT_IO data outside the mapping is refused, not read", () => {
  const { view, bytes } = kvmRun(2);
  bytes.writeUInt8(4, 33);
  bytes.writeUInt32LE(1, 36);
  bytes.writeBigUInt64LE(3n * 4096n - 2n, 40);
  assert.throws(() => decodeKvmRunExit(view), /outside kvm_run's 12288 bytes/);
});

test("HLT (5), SHUTDOWN (8), MEMORY_FAULT (39) with flags/gpa/size at 32/40/48, INTERNAL_ERROR (17) suberror at 32, FAIL_ENTRY (9), and anything else by number", () => {
  assert.deepEqual(decodeKvmRunExit(kvmRun(5).view), { reason: "hlt" });
  assert.deepEqual(decodeKvmRunExit(kvmRun(8).view), { reason: "shutdown" });
  const fault = kvmRun(39);
  fault.bytes.writeBigUInt64LE(0n, 32);
  fault.bytes.writeBigUInt64LE(0x1000n, 40);
  fault.bytes.writeBigUInt64LE(0x1000n, 48);
  assert.deepEqual(decodeKvmRunExit(fault.view), { reason: "memory-fault", flags: 0n, gpa: 0x1000n, size: 0x1000n });
  const internal = kvmRun(17);
  internal.bytes.writeUInt32LE(1, 32);
  assert.deepEqual(decodeKvmRunExit(internal.view), { reason: "internal-error", suberror: 1 });
  const failEntry = kvmRun(9);
  failEntry.bytes.writeBigUInt64LE(0x80000021n, 32);
  assert.deepEqual(decodeKvmRunExit(failEntry.view), { reason: "fail-entry", hardwareEntryFailureReason: 0x80000021n });
  assert.deepEqual(decodeKvmRunExit(kvmRun(10).view), { reason: "other", exitReason: 10 });
});
