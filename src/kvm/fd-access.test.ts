/**
 * The port reports how an fd was opened (fcntl F_GETFL), so that the daemon can refuse a
 * read-only reopen of a memfd before it tries to fallocate it (issue 12, item 5). Real kernel,
 * no /dev/kvm needed; the fake kernel answers the same (fd access of `reopen`).
 */
import assert from "node:assert/strict";
import { closeSync, openSync } from "node:fs";
import { test } from "node:test";
import { asFd } from "@gmempool/sys";
import { FakeHost } from "./fake/fake-host.ts";
import { LinuxKernel } from "./linux-kernel.ts";

test("identifyFd tells a memfd from its read-only and write-only reopens, on the real kernel and the fake", () => {
  const kernel = new LinuxKernel();
  const memfd = kernel.memfdCreate("gmempool-access-test", "shmem");
  const readOnly = openSync(`/proc/self/fd/${memfd}`, "r");
  const writeOnly = openSync(`/proc/self/fd/${memfd}`, "a");
  try {
    assert.equal(kernel.identifyFd(memfd).access, "read-write");
    assert.equal(kernel.identifyFd(asFd(readOnly)).access, "read-only");
    assert.equal(kernel.identifyFd(asFd(writeOnly)).access, "write-only");
  } finally {
    closeSync(readOnly);
    closeSync(writeOnly);
    kernel.close(memfd);
    kernel.release();
  }
  const fake = new FakeHost().process();
  const fakeMemfd = fake.memfdCreate("m", "shmem");
  assert.equal(fake.identifyFd(fakeMemfd).access, "read-write");
  assert.equal(fake.identifyFd(fake.reopen(fakeMemfd, "read-only")).access, "read-only");
  assert.equal(fake.identifyFd(fake.reopen(fakeMemfd, "path")).access, "path");
});
