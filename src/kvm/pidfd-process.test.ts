/**
 * pidfdProcess and watchPidfd on the real kernel (no /dev/kvm needed) and the fake: who a
 * pidfd's process is while it lives, ESRCH once it has exited (also while it is a zombie, not
 * yet reaped: the poll is what says so), EINVAL for an fd that is no pidfd.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { asFd, check, isKernelError, libc } from "@gmempool/sys";
import { FakeHost } from "./fake/fake-host.ts";
import { LinuxKernel } from "./linux-kernel.ts";

test("the real kernel: a child's pidfd names its pid, uid and gid; after its exit it is ESRCH; a memfd is EINVAL; watchPidfd fires", async () => {
  const kernel = new LinuxKernel();
  const child = spawn("sleep", ["30"], { stdio: "ignore" });
  const pidfd = asFd(check(libc.pidfd_open(child.pid!, 0), "pidfd_open"));
  const memfd = kernel.memfdCreate("not-a-pidfd", "shmem");
  try {
    assert.equal(kernel.identifyFd(pidfd).kind, "pidfd");
    assert.deepEqual(kernel.pidfdProcess(pidfd), { pid: child.pid, uid: process.geteuid!(), gid: process.getegid!() });
    assert.throws(() => kernel.pidfdProcess(memfd), (e: unknown) => isKernelError(e, "EINVAL") && /not a pidfd/.test(e.message));
    const watch = kernel.watchPidfd(asFd(check(libc.pidfd_open(child.pid!, 0), "pidfd_open")), child.pid!);
    const reaped = once(child, "exit");
    child.kill("SIGKILL");
    await watch.exited;
    await reaped;
    assert.throws(() => kernel.pidfdProcess(pidfd), (e: unknown) => isKernelError(e, "ESRCH"));
  } finally {
    child.kill("SIGKILL");
    libc.close(pidfd);
    kernel.close(memfd);
    kernel.release();
  }
});

/** The state letter of /proc/PID/stat ("Z" for a zombie), or undefined once the pid is gone. */
function procState(pid: number): string | undefined {
  try {
    return /\) (\S)/.exec(readFileSync(`/proc/${pid}/stat`, "utf8"))?.[1];
  } catch {
    return undefined;
  }
}

test("the real kernel: a zombie's pidfd (exited, not reaped) is ESRCH", async () => {
  const kernel = new LinuxKernel();
  // The shell's child exits once the shell has become `sleep 5`, which never reaps it (with
  // `sleep 0` the shell itself sometimes reaped it before exec, and pidfd_open found no pid).
  const shell = spawn("sh", ["-c", "sleep 0.5 & echo $!; exec sleep 5"], { stdio: ["ignore", "pipe", "ignore"] });
  try {
    const [data] = (await once(shell.stdout, "data")) as [Buffer];
    const pid = Number(String(data).trim());
    for (let waited = 0; procState(pid) !== "Z"; waited += 20) {
      assert.ok(waited < 10_000, `pid ${pid} did not become a zombie (state ${procState(pid)})`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const pidfd = asFd(check(libc.pidfd_open(pid, 0), "pidfd_open"));
    try {
      assert.throws(() => kernel.pidfdProcess(pidfd), (e: unknown) => isKernelError(e, "ESRCH") && /has exited/.test(e.message));
    } finally {
      libc.close(pidfd);
    }
  } finally {
    shell.kill("SIGKILL");
    kernel.release();
  }
});

test("the fake kernel answers the same", async () => {
  const host = new FakeHost();
  const daemon = host.process();
  const vmm = host.process({ uid: 1000, gid: 1001 });
  const pidfd = daemon.openPidfd(vmm.pid);
  assert.equal(daemon.identifyFd(pidfd).kind, "pidfd");
  assert.deepEqual(daemon.pidfdProcess(pidfd), { pid: vmm.pid, uid: 1000, gid: 1001 });
  const watch = daemon.watchPidfd(daemon.dupCloexec(pidfd), vmm.pid);
  vmm.exit();
  await watch.exited;
  assert.throws(() => daemon.pidfdProcess(pidfd), (e: unknown) => isKernelError(e, "ESRCH"));
  daemon.close(pidfd);
  assert.deepEqual(daemon.openFds(), [], "the watch did not close its pidfd");
  assert.throws(() => daemon.pidfdProcess(daemon.memfdCreate("m", "shmem")), (e: unknown) => isKernelError(e, "EINVAL"));
});
