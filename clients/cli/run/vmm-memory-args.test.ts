import assert from "node:assert/strict";
import { test } from "node:test";
import { qemuMemoryBytes, vmmMemoryArgs, VmmArgsError } from "./vmm-memory-args.ts";

const MIB_256 = 256n * 1024n * 1024n;

test("QEMU gets the memory backend on the inherited memfd and a matching -m", () => {
  assert.deepEqual(vmmMemoryArgs("/usr/bin/qemu-system-x86_64", ["-accel", "tcg", "-nographic"], MIB_256), [
    "-accel", "tcg", "-nographic",
    "-m", "256M",
    "-object", "memory-backend-file,id=gmempool,mem-path=/proc/self/fd/3,size=268435456,share=on",
    "-machine", "memory-backend=gmempool",
  ]);
});

test("a -m of the same size is kept; another size is refused naming both", () => {
  assert.deepEqual(vmmMemoryArgs("qemu-system-x86_64", ["-m", "size=256M,slots=2,maxmem=1G"], MIB_256).slice(0, 2), ["-m", "size=256M,slots=2,maxmem=1G"]);
  assert.deepEqual(vmmMemoryArgs("qemu-system-x86_64", ["-m", "256"], MIB_256).filter((a) => a === "-m").length, 1);
  assert.throws(() => vmmMemoryArgs("qemu-system-x86_64", ["-m", "1G"], MIB_256), (e: unknown) => e instanceof VmmArgsError && /-m 1G does not match --memory \(256 MiB\)/.test(e.message));
});

test("placeholders are substituted for any VMM, and QEMU then gets nothing added", () => {
  assert.deepEqual(vmmMemoryArgs("cloud-hypervisor", ["--memory", "size={memfd-size},shared=on,file={memfd-path}", "--fd={memfd}"], MIB_256), ["--memory", "size=268435456,shared=on,file=/proc/self/fd/3", "--fd=3"]);
  assert.deepEqual(vmmMemoryArgs("qemu-system-x86_64", ["-object", "memory-backend-file,id=m,mem-path={memfd-path},size=256M,share=on"], MIB_256), ["-object", "memory-backend-file,id=m,mem-path=/proc/self/fd/3,size=256M,share=on"]);
});

test("a VMM that is not QEMU and names no placeholder is a usage error saying what to write", () => {
  assert.throws(() => vmmMemoryArgs("sh", ["-c", "sleep 1"], MIB_256), /sh is not QEMU .*\{memfd-path\}/);
});

test("QEMU -m values", () => {
  assert.equal(qemuMemoryBytes("512"), 512n << 20n);
  assert.equal(qemuMemoryBytes("2G"), 2n << 30n);
  assert.equal(qemuMemoryBytes("size=1024M"), 1n << 30n);
  assert.equal(qemuMemoryBytes("lots"), undefined);
});
