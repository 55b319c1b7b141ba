/**
 * The fake kernel's test hooks: fault injection, leak checks, holding slow calls.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { fallocateChunked, FallocateChunkedError } from "../fallocate-chunked.ts";
import { createFakeKernel, FakeHost } from "./fake-host.ts";
import { errno } from "../testing/kernel-contract.ts";
import { FALLOCATE_POPULATE, FALLOCATE_PUNCH, GUEST_MEMFD_FLAG_INIT_SHARED, GUEST_MEMFD_FLAG_MMAP } from "@gmempool/sys";

const MiB = 1024n * 1024n;
const SHARED = GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_INIT_SHARED;

describe("FakeKernel fault injection", () => {
  test("failNext fails exactly the next call of that operation with a KernelError naming the call", async () => {
    const kernel = createFakeKernel();
    const gmem = kernel.createGuestMemfd(kernel.createVm(0), 4n * MiB, SHARED);
    kernel.failNext("fallocate", "ENOMEM");
    await assert.rejects(kernel.fallocate(gmem, FALLOCATE_POPULATE, 0n, 2n * MiB), errno("ENOMEM", "fallocate"));
    await kernel.fallocate(gmem, FALLOCATE_POPULATE, 0n, 2n * MiB);
    assert.equal(kernel.populatedBytes(gmem), 2n * MiB);
    kernel.failNext("createGuestMemfd", "EMFILE", 2);
    const vm = kernel.createVm(0);
    assert.throws(() => kernel.createGuestMemfd(vm, 2n * MiB, SHARED), errno("EMFILE", "ioctl(KVM_CREATE_GUEST_MEMFD)"));
    assert.throws(() => kernel.createGuestMemfd(vm, 2n * MiB, SHARED), errno("EMFILE"));
    kernel.createGuestMemfd(vm, 2n * MiB, SHARED);
  });

  test("an injected failure in the middle of a chunked populate leaves exact progress", async () => {
    const kernel = createFakeKernel();
    const gmem = kernel.createGuestMemfd(kernel.createVm(0), 8n * MiB, SHARED);
    kernel.failNext("fallocate", "ENOSPC");
    const error = await fallocateChunked(kernel, gmem, FALLOCATE_POPULATE, { offset: 0n, length: 8n * MiB }, { parallelism: 2 }).catch((e: unknown) => e);
    assert.ok(error instanceof FallocateChunkedError);
    assert.equal(error.errno, "ENOSPC");
    const done = error.completed.reduce((sum, r) => sum + r.length, 0n);
    assert.equal(kernel.populatedBytes(gmem), done);
    assert.deepEqual(kernel.populatedRanges(gmem), error.completed.map((r) => [r.offset, r.offset + r.length]));
  });

  test("socket operations can be failed too", async () => {
    const kernel = createFakeKernel();
    const listener = kernel.listenSeqpacket("/s");
    const accepted = listener.accept();
    const client = await kernel.connectSeqpacket("/s");
    const server = await accepted;
    kernel.failNext("send", "ENOBUFS");
    await assert.rejects(client.send(new Uint8Array([1])), errno("ENOBUFS", "sendmsg"));
    kernel.failNext("receive", "EINTR");
    await assert.rejects(server?.receive() ?? Promise.resolve(), errno("EINTR", "recvmsg"));
    listener.close();
  });
});

describe("FakeKernel leak checks", () => {
  test("populated bytes per file and live files are visible until the last reference goes", async () => {
    const host = new FakeHost();
    const kernel = host.process();
    const memfd = kernel.memfdCreate("leak", "shmem");
    kernel.ftruncate(memfd, 4n * MiB);
    await kernel.fallocate(memfd, FALLOCATE_POPULATE, 0n, 3n * MiB);
    const map = kernel.mmap(memfd, 0n, 4n * MiB, "read-write");
    assert.equal(kernel.populatedBytes(memfd), 3n * MiB);
    kernel.close(memfd);
    assert.deepEqual(kernel.openFds(), []);
    assert.equal(host.liveFiles().length, 1, "the mapping still holds the memfd");
    assert.equal(host.populatedBytes(), 3n * MiB);
    kernel.munmap(map);
    assert.deepEqual(kernel.mappings(), []);
    assert.deepEqual(host.liveFiles(), []);
    host.assertInvariants();
  });

  test("a hugetlb memfd returns its pages to the pool when released", async () => {
    const host = new FakeHost();
    const kernel = host.process();
    await kernel.setNrHugepages(3);
    const fd = kernel.memfdCreate("h", "hugetlb-2m");
    kernel.ftruncate(fd, 8n * MiB);
    await kernel.fallocate(fd, FALLOCATE_POPULATE, 2n * MiB, 4n * MiB);
    assert.deepEqual(kernel.hugetlbPool(), { nrHugepages: 3, freeHugepages: 1 });
    await assert.rejects(kernel.fallocate(fd, FALLOCATE_POPULATE, 0n, 8n * MiB), errno("ENOSPC"));
    assert.deepEqual(kernel.hugetlbPool(), { nrHugepages: 3, freeHugepages: 0 }, "pages allocated before the failure stay");
    assert.equal(kernel.populatedBytes(fd), 6n * MiB);
    await kernel.setNrHugepages(0);
    assert.equal(kernel.hugetlbPool().nrHugepages, 3, "the pool cannot shrink below the pages in use");
    kernel.close(fd);
    assert.deepEqual(kernel.hugetlbPool(), { nrHugepages: 3, freeHugepages: 3 });
    assert.equal(await kernel.setNrHugepages(0), 0);
    host.assertInvariants();
  });
});

describe("FakeKernel slow calls", () => {
  test("fallocate completes on a later turn of the event loop and can be held to test interleavings", async () => {
    const kernel = createFakeKernel();
    const gmem = kernel.createGuestMemfd(kernel.createVm(0), 4n * MiB, SHARED);
    const release = kernel.pauseSlowCalls();
    let done = false;
    const call = kernel.fallocate(gmem, FALLOCATE_POPULATE, 0n, 2n * MiB).then(() => (done = true));
    // Several turns of the event loop: an unheld fallocate completes on the first.
    for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
    assert.equal(done, false);
    assert.equal(kernel.populatedBytes(gmem), 0n);
    release();
    await call;
    assert.equal(kernel.populatedBytes(gmem), 2n * MiB);
    await kernel.fallocate(gmem, FALLOCATE_PUNCH, 0n, 4n * MiB);
  });

  test("holdSlowCalls holds only the matching calls, says when the first is held, and lets them through on release", async () => {
    const kernel = createFakeKernel();
    const vm = kernel.createVm(0);
    const held = kernel.createGuestMemfd(vm, 4n * MiB, SHARED);
    const free = kernel.createGuestMemfd(vm, 4n * MiB, SHARED);
    const hold = kernel.holdSlowCalls((c) => c.op === "fallocate" && c.fd === held && c.mode === FALLOCATE_POPULATE);
    assert.equal(hold.waiting, 0);
    let done = false;
    const call = kernel.fallocate(held, FALLOCATE_POPULATE, 0n, 2n * MiB).then(() => (done = true));
    assert.deepEqual(await hold.held, { op: "fallocate", fd: held, mode: FALLOCATE_POPULATE, offset: 0n, length: 2n * MiB });
    assert.equal(hold.waiting, 1);
    // Other files and other modes are not held.
    await kernel.fallocate(free, FALLOCATE_POPULATE, 0n, 2n * MiB);
    await kernel.fallocate(held, FALLOCATE_PUNCH, 2n * MiB, 2n * MiB);
    assert.equal(kernel.populatedBytes(free), 2n * MiB);
    assert.equal(done, false);
    assert.equal(kernel.populatedBytes(held), 0n, "a held call has no effect yet");
    hold.release();
    await call;
    assert.equal(hold.waiting, 0);
    assert.equal(hold.calls.length, 1);
    assert.equal(kernel.populatedBytes(held), 2n * MiB);
    // After release, matching calls run.
    await kernel.fallocate(held, FALLOCATE_POPULATE, 2n * MiB, 2n * MiB);
    assert.equal(kernel.populatedBytes(held), 4n * MiB);
  });

  test("a file closed while its fallocate runs stays referenced until the call ends", async () => {
    const host = new FakeHost();
    const kernel = host.process();
    const gmem = kernel.createGuestMemfd(kernel.createVm(0), 4n * MiB, SHARED);
    const call = kernel.fallocate(gmem, FALLOCATE_POPULATE, 0n, 2n * MiB);
    kernel.close(gmem);
    await call;
    assert.equal(host.liveFiles().filter((f) => f.kind === "guest_memfd").length, 0);
  });
});
