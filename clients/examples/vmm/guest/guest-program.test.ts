import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { patternBytes } from "../pattern.ts";
import { GUEST_PATTERN_OFFSET, HOST_PATTERN_OFFSET, PATTERN_BYTES, RESULT_PORT } from "./guest-layout.ts";
import { GUEST_LISTING, GUEST_PROGRAM, guestRegisters, type GuestTask } from "./guest-program.ts";
import { interpret, type GuestMemoryAccess } from "./program-interpreter.ts";

/** A sparse guest physical memory: unwritten bytes read as 0 (a fresh guest_memfd page). */
function sparseMemory(): GuestMemoryAccess & { bytes: Map<bigint, number>; load(gpa: bigint, data: Uint8Array): void; dump(gpa: bigint, length: number): Uint8Array } {
  const bytes = new Map<bigint, number>();
  return {
    bytes,
    read: (gpa) => bytes.get(gpa) ?? 0,
    write: (gpa, byte) => void bytes.set(gpa, byte),
    load: (gpa, data) => data.forEach((b, i) => bytes.set(gpa + BigInt(i), b)),
    dump: (gpa, length) => Uint8Array.from({ length }, (_, i) => bytes.get(gpa + BigInt(i)) ?? 0),
  };
}

const HOTPLUG_GPA = 32n << 20n;
const task: GuestTask = {
  fillGpa: HOTPLUG_GPA + GUEST_PATTERN_OFFSET,
  fillSeed: 0xa7,
  fillBytes: PATTERN_BYTES,
  checkGpa: HOTPLUG_GPA + HOST_PATTERN_OFFSET,
  checkSeed: 0x3c,
  checkBytes: PATTERN_BYTES,
};

const objdump = spawnSync("objdump", ["--version"], { encoding: "utf8" });
const noObjdump = objdump.error === undefined && objdump.status === 0 ? undefined : "objdump (binutils) is not installed";
if (noObjdump !== undefined) process.stderr.write(`skipping the disassembly test: ${noObjdump}\n`);

describe("the guest program", () => {
  test("its bytes disassemble (objdump) to exactly its listing, instruction by instruction", { skip: noObjdump }, () => {
    const dir = mkdtempSync(join(tmpdir(), "gmempool-guest-"));
    try {
      const file = join(dir, "guest.bin");
      writeFileSync(file, GUEST_PROGRAM);
      const result = spawnSync("objdump", ["-D", "-b", "binary", "-m", "i386:x86-64", "-M", "intel", file], { encoding: "utf8" });
      assert.equal(result.status, 0, result.stderr);
      const disassembled = result.stdout
        .split("\n")
        .map((line) => /^\s*([0-9a-f]+):\t[0-9a-f ]+\t(.*)$/.exec(line))
        .filter((m): m is RegExpExecArray => m !== null)
        .map((m) => ({ offset: Number.parseInt(m[1]!, 16), asm: m[2]!.trim().replace(/\s+/g, " ") }));
      let offset = 0;
      const expected = GUEST_LISTING.map((instruction) => {
        const entry = { offset, asm: instruction.asm };
        offset += instruction.bytes.length;
        return entry;
      });
      assert.deepEqual(disassembled, expected);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("it writes its pattern, finds no mismatch in the host's, reports 0 on the result port with one OUT and halts", () => {
    const memory = sparseMemory();
    memory.load(task.checkGpa, patternBytes(task.checkSeed, PATTERN_BYTES));
    const run = interpret(GUEST_PROGRAM, guestRegisters(task), memory);
    assert.equal(run.halted, true);
    assert.deepEqual(run.outs, [{ port: RESULT_PORT, data: new Uint8Array([0, 0, 0, 0]) }]);
    assert.deepEqual(memory.dump(task.fillGpa, PATTERN_BYTES), patternBytes(task.fillSeed, PATTERN_BYTES));
    // Not one byte before or after its region.
    assert.equal(memory.read(task.fillGpa - 1n), 0);
    assert.equal(memory.read(task.fillGpa + BigInt(PATTERN_BYTES)), 0);
    assert.equal(memory.bytes.size, 2 * PATTERN_BYTES);
  });

  test("it counts every byte of the host's pattern that is wrong (here 3, one of them in the last byte)", () => {
    const memory = sparseMemory();
    const corrupted = patternBytes(task.checkSeed, PATTERN_BYTES);
    for (const at of [0, 1000, PATTERN_BYTES - 1]) corrupted[at] = corrupted[at]! ^ 0xff;
    memory.load(task.checkGpa, corrupted);
    const run = interpret(GUEST_PROGRAM, guestRegisters(task), memory);
    assert.deepEqual(run.outs.map((o) => new DataView(o.data.buffer).getUint32(0, true)), [3]);
  });

  test("one-byte regions work; a zero length is refused before the guest could loop 2^64 times", () => {
    const memory = sparseMemory();
    memory.write(0x2000n, 0x10);
    const run = interpret(GUEST_PROGRAM, guestRegisters({ fillGpa: 0x3000n, fillSeed: 0xff, fillBytes: 1, checkGpa: 0x2000n, checkSeed: 0x10, checkBytes: 1 }), memory);
    assert.deepEqual(run.outs[0]?.data, new Uint8Array(4));
    assert.equal(memory.read(0x3000n), 0xff);
    assert.equal(memory.read(0x3001n), 0);
    assert.throws(() => guestRegisters({ ...task, fillBytes: 0 }), /fillBytes must be a positive integer/);
    assert.throws(() => guestRegisters({ ...task, checkBytes: 0 }), /checkBytes must be a positive integer/);
  });

  test("the interpreter refuses bytes outside the listing's encodings (it cannot pass code it does not know)", () => {
    assert.throws(() => interpret(new Uint8Array([0x90, 0xf4]), {}, sparseMemory()), /no encoding known at offset 0x0: 0x90/);
  });
});
