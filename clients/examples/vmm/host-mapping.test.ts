import assert from "node:assert/strict";
import { ftruncateSync } from "node:fs";
import { test } from "node:test";
import { HostMapping } from "./host-mapping.ts";
import { check, libc, MFD_CLOEXEC } from "@gmempool/sys";
import { patternBytes } from "./pattern.ts";

const MiB = 1n << 20n;

/** A 4 MiB memfd (what the daemon would deliver for a memfd arena), closed by the caller. */
function memfd(): number {
  const fd = check(libc.memfd_create("gmempool-example-test", MFD_CLOEXEC), "memfd_create");
  ftruncateSync(fd, Number(4n * MiB));
  return fd;
}

test("writes through the mapping land in the file and read back; a second mapping of the same file sees them", () => {
  const fd = memfd();
  const a = HostMapping.map(fd, 4n * MiB);
  const b = HostMapping.map(fd, 4n * MiB);
  try {
    a.write(3n * MiB + 5n, patternBytes(0x42, 300));
    assert.deepEqual(b.read(3n * MiB + 5n, 300), patternBytes(0x42, 300));
    assert.deepEqual(a.read(0n, 4), new Uint8Array(4));
  } finally {
    a.unmap();
    b.unmap();
    libc.close(fd);
  }
});

test("residentPages counts the file's pages in memory without faulting any in: 0 on a fresh file, then exactly the pages written", () => {
  const fd = memfd();
  const mapping = HostMapping.map(fd, 4n * MiB);
  try {
    assert.equal(mapping.residentPages(0n, 4n * MiB), 0);
    assert.equal(mapping.residentPages(0n, 4n * MiB), 0, "asking did not populate anything");
    mapping.write(MiB, new Uint8Array(4096 * 3).fill(1));
    mapping.write(2n * MiB + 100n, new Uint8Array([1]));
    assert.equal(mapping.residentPages(0n, 4n * MiB), 4);
    assert.equal(mapping.residentPages(MiB, 4096n), 1);
    assert.equal(mapping.residentPages(0n, MiB), 0);
    assert.throws(() => mapping.residentPages(1n, 4096n), /not 4 KiB aligned/);
  } finally {
    mapping.unmap();
    libc.close(fd);
  }
});

test("accesses outside the mapping, or after unmap, throw instead of touching memory", () => {
  const fd = memfd();
  const mapping = HostMapping.map(fd, 4n * MiB);
  libc.close(fd); // a MAP_SHARED mapping keeps its file alive by itself
  try {
    assert.throws(() => mapping.read(4n * MiB - 1n, 2), /outside a mapping of 0x400000/);
    assert.throws(() => mapping.write(-1n, new Uint8Array(1)), /outside a mapping/);
    mapping.write(4n * MiB - 1n, new Uint8Array([7]));
    assert.deepEqual(mapping.read(4n * MiB - 1n, 1), new Uint8Array([7]));
  } finally {
    mapping.unmap();
  }
  assert.throws(() => mapping.read(0n, 1), /the mapping is gone/);
  mapping.unmap(); // idempotent
});

test("mapping a file that is not there fails with the errno by name", () => {
  assert.throws(() => HostMapping.map(999_999, 4096n), /mmap\(MAP_SHARED\) failed: EBADF/);
});
