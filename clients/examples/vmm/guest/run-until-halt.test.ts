import assert from "node:assert/strict";
import { test } from "node:test";
import type { KvmRegister, VcpuExit } from "@gmempool/sys";
import { runUntilHalt } from "./run-until-halt.ts";

/** A stand-in vCPU that returns `exits` in order, its rip always 0x1013. */
function scripted(exits: VcpuExit[]): { run(): VcpuExit; getRegs(): Record<KvmRegister, bigint> } {
  return {
    run: () => exits.shift() ?? assert.fail("KVM_RUN after the last scripted exit"),
    getRegs: () => ({ rip: 0x1013n }) as Record<KvmRegister, bigint>,
  };
}

const out = (port: number, value: number, size = 4): VcpuExit => {
  const data = new Uint8Array(size);
  if (size === 4) new DataView(data.buffer).setUint32(0, value, true);
  return { reason: "io", out: true, port, size, data };
};

test("each 4-byte OUT to the result port is a result; HLT ends the run, counted as an exit", () => {
  assert.deepEqual(runUntilHalt(scripted([out(0x10, 0), { reason: "hlt" }])), { results: [0], exits: 2 });
  assert.deepEqual(runUntilHalt(scripted([out(0x10, 7), out(0x10, 0x01020304), { reason: "hlt" }])), { results: [7, 0x01020304], exits: 3 });
});

test("any other exit stops the run with an error naming it and the guest's rip: another port, an IN, a triple fault, an emulation failure", () => {
  assert.throws(() => runUntilHalt(scripted([out(0x11, 0)])), /^Error: the guest stopped with OUT to port 0x11 \(4 bytes\) at rip 0x1013, after 1 exits$/);
  assert.throws(() => runUntilHalt(scripted([{ reason: "io", out: false, port: 0x10, size: 4, data: new Uint8Array(4) }])), /IN from port 0x10/);
  assert.throws(() => runUntilHalt(scripted([out(0x10, 0), { reason: "shutdown" }])), /stopped with shutdown at rip 0x1013, after 2 exits/);
  assert.throws(() => runUntilHalt(scripted([{ reason: "internal-error", suberror: 1 }])), /KVM_EXIT_INTERNAL_ERROR suberror 1/);
  assert.throws(() => runUntilHalt(scripted([{ reason: "memory-fault", gpa: 0x1000n, size: 0x1000n, flags: 0n }])), /KVM_EXIT_MEMORY_FAULT at GPA 0x1000 size 0x1000 flags 0x0/);
});

test("a guest that never halts is stopped after maxExits", () => {
  assert.throws(() => runUntilHalt(scripted(Array.from({ length: 3 }, () => out(0x10, 0))), 3), /did not halt within 3 exits/);
});
