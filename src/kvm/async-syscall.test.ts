/**
 * The koffi facts the real port relies on (STYLE.md "tooling facts"), checked on this machine
 * with a memfd (no /dev/kvm needed): errno survives an async call when read in its callback,
 * and slow calls leave the event loop free.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { asyncSyscall } from "./async-syscall.ts";
import { errnoNumber, FALLOCATE_POPULATE, FALLOCATE_PUNCH, isKernelError, libc, MFD_CLOEXEC } from "@gmempool/sys";
import { LinuxKernel } from "./linux-kernel.ts";

describe("koffi async calls", () => {
  test("the errno of a failing fallocate on a worker thread reaches the completion callback", async () => {
    const fd = libc.memfd_create("async-errno", MFD_CLOEXEC);
    assert.ok(fd >= 0);
    try {
      const bad = await asyncSyscall(libc.fallocate, [fd, 0x100, 0n, 4096n]);
      assert.deepEqual(bad, { result: -1, errno: errnoNumber("EOPNOTSUPP") });
      const closed = await asyncSyscall(libc.fallocate, [1_000_000, 0, 0n, 4096n]);
      assert.deepEqual(closed, { result: -1, errno: errnoNumber("EBADF") });
      const good = await asyncSyscall(libc.fallocate, [fd, 0, 0n, 4096n]);
      assert.equal(good.result, 0);
    } finally {
      libc.close(fd);
    }
  });

  test("the port turns it into a KernelError naming the mode: fallocate(PUNCH_HOLE) failed: EINVAL", async () => {
    const kernel = new LinuxKernel();
    const fd = kernel.memfdCreate("async-error", "shmem");
    try {
      kernel.ftruncate(fd, 1n << 20n);
      await assert.rejects(kernel.fallocate(fd, FALLOCATE_PUNCH, -4096n, 4096n), (e: unknown) => isKernelError(e, "EINVAL") && e.message.startsWith("fallocate(PUNCH_HOLE) failed: EINVAL"));
    } finally {
      kernel.close(fd);
    }
  });

  test("a 256 MiB populate runs off the event loop: timers keep firing while it runs", async () => {
    const kernel = new LinuxKernel();
    const fd = kernel.memfdCreate("async-loop", "shmem");
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    try {
      kernel.ftruncate(fd, 256n << 20n);
      const started = performance.now();
      await kernel.fallocate(fd, FALLOCATE_POPULATE, 0n, 256n << 20n);
      const elapsed = performance.now() - started;
      // If the call had blocked the loop, no tick could have run during it.
      if (elapsed > 20) assert.ok(ticks > 0, `no timer tick in ${elapsed.toFixed(1)} ms`);
    } finally {
      clearInterval(timer);
      await kernel.fallocate(fd, FALLOCATE_PUNCH, 0n, 256n << 20n);
      kernel.close(fd);
    }
  });
});
