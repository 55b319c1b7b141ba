/**
 * Shared/private conversion in the fake (KERNEL.md §5): the v8 in-place ioctl on a guest_memfd,
 * with EAGAIN + error_offset while a page is pinned, and the mainline VM ioctl.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { IN_PLACE_CONVERSION_V8, MAINLINE_PRIVATE_MEMORY } from "./fake-capabilities.ts";
import { FakeHost } from "./fake-host.ts";
import type { FakeKernel } from "./fake-kernel.ts";
import {
  FALLOCATE_POPULATE,
  FALLOCATE_PUNCH,
  type Fd,
  GUEST_MEMFD_FLAG_INIT_SHARED,
  GUEST_MEMFD_FLAG_MMAP,
  KernelError,
  KVM_MEMORY_ATTRIBUTE_PRIVATE,
  KVM_X86_SW_PROTECTED_VM,
} from "@gmempool/sys";
import { errno } from "../testing/kernel-contract.ts";
import type { Mapping } from "../kernel-port.ts";

const MiB = 1024n * 1024n;
const PAGE = 4096n;
const PRIVATE = KVM_MEMORY_ATTRIBUTE_PRIVATE;

function privateVm(flags = GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_INIT_SHARED) {
  const kernel = new FakeHost(IN_PLACE_CONVERSION_V8).process();
  const vm = kernel.createVm(KVM_X86_SW_PROTECTED_VM);
  const gmem = kernel.createGuestMemfd(vm, 4n * MiB, flags);
  const map = kernel.mmap(gmem, 0n, 4n * MiB, "read-write");
  return { kernel, vm, gmem, map };
}

/**
 * What a process can observe of a mapped guest_memfd: its populated ranges, and for each of its
 * pages whether the host can read it (shared) or faults (private) and the first byte it reads.
 */
function fileState(kernel: FakeKernel, gmem: Fd, map: Mapping): unknown {
  const pages: (number | "EFAULT")[] = [];
  for (let offset = 0n; offset < map.length; offset += PAGE) {
    try {
      pages.push(kernel.readMapped(map, offset, 1)[0]!);
    } catch (error) {
      if (!(error instanceof KernelError) || error.errno !== "EFAULT") throw error;
      pages.push("EFAULT");
    }
  }
  return { populated: kernel.populatedRanges(gmem), pages, fds: kernel.openFds(), mappings: kernel.mappings() };
}

describe("in-place conversion (KVM_SET_MEMORY_ATTRIBUTES2, v8)", () => {
  test("converting to private takes the pages from the host: access is EFAULT (SIGBUS) until converted back", () => {
    const { kernel, gmem, map } = privateVm();
    kernel.writeMapped(map, 2n * PAGE, new Uint8Array([5]));
    kernel.setMemoryAttributes2(gmem, { offset: 2n * PAGE, size: PAGE, attributes: PRIVATE });
    assert.throws(() => kernel.readMapped(map, 2n * PAGE, 1), errno("EFAULT"));
    assert.deepEqual(kernel.readMapped(map, 3n * PAGE, 1), new Uint8Array([0]), "the neighbour page stays shared");
    kernel.setMemoryAttributes2(gmem, { offset: 2n * PAGE, size: PAGE, attributes: 0n });
    assert.deepEqual(kernel.readMapped(map, 2n * PAGE, 1), new Uint8Array([5]));
    kernel.assertInvariants();
  });

  test("a pinned page makes the conversion EAGAIN with error_offset = the first pinned offset, and changes nothing", () => {
    const { kernel, gmem, map } = privateVm();
    kernel.writeMapped(map, 0n, new Uint8Array([7]));
    kernel.pin(gmem, 5n * PAGE + 12n);
    kernel.pin(gmem, 9n * PAGE);
    const before = fileState(kernel, gmem, map);
    assert.throws(
      () => kernel.setMemoryAttributes2(gmem, { offset: 0n, size: 16n * PAGE, attributes: PRIVATE }),
      (error: unknown) => {
        assert.ok(error instanceof KernelError);
        assert.equal(error.errno, "EAGAIN");
        assert.equal(error.errorOffset, 5n * PAGE);
        return true;
      },
    );
    assert.deepEqual(fileState(kernel, gmem, map), before, "attributes, contents and population unchanged");
    kernel.unpin(gmem, 5n * PAGE);
    assert.throws(() => kernel.setMemoryAttributes2(gmem, { offset: 0n, size: 16n * PAGE, attributes: PRIVATE }), (e: unknown) => e instanceof KernelError && e.errorOffset === 9n * PAGE);
    kernel.unpin(gmem, 9n * PAGE);
    kernel.setMemoryAttributes2(gmem, { offset: 0n, size: 16n * PAGE, attributes: PRIVATE });
  });

  test("a range already in the requested state returns at once, pins or not", () => {
    const { kernel, gmem } = privateVm();
    kernel.setMemoryAttributes2(gmem, { offset: 0n, size: PAGE, attributes: PRIVATE });
    kernel.pin(gmem, 0n);
    kernel.setMemoryAttributes2(gmem, { offset: 0n, size: PAGE, attributes: PRIVATE });
    kernel.setMemoryAttributes2(gmem, { offset: PAGE, size: PAGE, attributes: 0n });
    // To shared runs no reference check.
    kernel.setMemoryAttributes2(gmem, { offset: 0n, size: PAGE, attributes: 0n });
  });

  test("a hole punch does not change attributes", async () => {
    const { kernel, gmem, map } = privateVm();
    await kernel.fallocate(gmem, FALLOCATE_POPULATE, 0n, 2n * MiB);
    kernel.setMemoryAttributes2(gmem, { offset: 0n, size: 2n * MiB, attributes: PRIVATE });
    await kernel.fallocate(gmem, FALLOCATE_PUNCH, 0n, 2n * MiB);
    assert.equal(kernel.populatedBytes(gmem), 0n);
    assert.throws(() => kernel.readMapped(map, 0n, 1), errno("EFAULT"));
  });

  test("flags, unknown attributes, unaligned, empty or out-of-file ranges are EINVAL", () => {
    const { kernel, gmem } = privateVm();
    for (const attributes of [
      { offset: 0n, size: PAGE, attributes: 1n },
      { offset: 1n, size: PAGE, attributes: PRIVATE },
      { offset: 0n, size: PAGE + 1n, attributes: PRIVATE },
      { offset: 0n, size: 0n, attributes: PRIVATE },
      { offset: 4n * MiB - PAGE, size: 2n * PAGE, attributes: PRIVATE },
    ]) {
      assert.throws(() => kernel.setMemoryAttributes2(gmem, attributes), errno("EINVAL"), JSON.stringify(attributes, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v)));
    }
  });

  test("a guest_memfd created without INIT_SHARED starts private; converting it to shared opens it to the host", () => {
    const { kernel, gmem, map } = privateVm(GUEST_MEMFD_FLAG_MMAP);
    assert.throws(() => kernel.readMapped(map, 0n, 1), errno("EFAULT"));
    kernel.setMemoryAttributes2(gmem, { offset: 0n, size: PAGE, attributes: 0n });
    assert.deepEqual(kernel.readMapped(map, 0n, 1), new Uint8Array([0]));
  });

  test("another process holding the guest_memfd may convert it (a file ioctl, no mm check)", async () => {
    const host = new FakeHost(IN_PLACE_CONVERSION_V8);
    const vmm = host.process();
    const daemon = host.process();
    const vm = vmm.createVm(KVM_X86_SW_PROTECTED_VM);
    const gmem = vmm.createGuestMemfd(vm, 2n * MiB, GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_INIT_SHARED);
    const listener = daemon.listenSeqpacket("/s");
    const accepted = listener.accept();
    const client = await vmm.connectSeqpacket("/s");
    const server = await accepted;
    await client.send(new Uint8Array([1]), [gmem]);
    const message = await server?.receive();
    const theirs = message?.fds[0];
    assert.ok(theirs !== undefined);
    daemon.setMemoryAttributes2(theirs, { offset: 0n, size: PAGE, attributes: PRIVATE });
    listener.close();
  });
});

describe("out-of-place conversion (KVM_SET_MEMORY_ATTRIBUTES, mainline)", () => {
  test("a private VM accepts PRIVATE by guest physical address; a default VM refuses it (EINVAL)", () => {
    const kernel = new FakeHost(MAINLINE_PRIVATE_MEMORY).process();
    const sw = kernel.createVm(KVM_X86_SW_PROTECTED_VM);
    kernel.setMemoryAttributes(sw, { address: 1n << 32n, size: 2n * MiB, attributes: PRIVATE });
    kernel.setMemoryAttributes(sw, { address: 1n << 32n, size: PAGE, attributes: 0n });
    assert.throws(() => kernel.setMemoryAttributes(sw, { address: 1n, size: PAGE, attributes: PRIVATE }), errno("EINVAL"));
    const plain = kernel.createVm(0);
    assert.throws(() => kernel.setMemoryAttributes(plain, { address: 0n, size: PAGE, attributes: PRIVATE }), errno("EINVAL"));
    assert.equal(kernel.checkExtension(233, sw), 8);
    assert.equal(kernel.checkExtension(233, plain), 0);
  });

  test("KVM_SET_MEMORY_ATTRIBUTES2 is ENOTTY on mainline", () => {
    const kernel = new FakeHost(MAINLINE_PRIVATE_MEMORY).process();
    const gmem = kernel.createGuestMemfd(kernel.createVm(KVM_X86_SW_PROTECTED_VM), 2n * MiB, GUEST_MEMFD_FLAG_MMAP);
    assert.throws(() => kernel.setMemoryAttributes2(gmem, { offset: 0n, size: PAGE, attributes: PRIVATE }), errno("ENOTTY"));
  });
});
