/**
 * The fake kernel with several processes: the daemon's real situation (KERNEL.md §3) — a VMM
 * creates its VM and guest_memfd, hands the guest_memfd over SCM_RIGHTS, the daemon populates
 * and punches it; VM ioctls stay the creator's; exits close everything.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  FALLOCATE_POPULATE,
  FALLOCATE_PUNCH,
  type Fd,
  GUEST_MEMFD_FLAG_INIT_SHARED,
  GUEST_MEMFD_FLAG_MMAP,
  KVM_MEM_GUEST_MEMFD,
} from "@gmempool/sys";
import { FakeHost } from "./fake-host.ts";
import type { FakeKernel } from "./fake-kernel.ts";
import { errno } from "../testing/kernel-contract.ts";

const MiB = 1024n * 1024n;
const SHARED = GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_INIT_SHARED;

/** A VMM process that sends its guest_memfd and VM fd to a daemon process. */
async function handOver(): Promise<{ host: FakeHost; vmm: FakeKernel; daemon: FakeKernel; vm: Fd; gmem: Fd; theirGmem: Fd; theirVm: Fd }> {
  const host = new FakeHost();
  const daemon = host.process();
  const vmm = host.process();
  const listener = daemon.listenSeqpacket("/run/gmempool/fd.sock");
  const accepted = listener.accept();
  const client = await vmm.connectSeqpacket("/run/gmempool/fd.sock");
  const server = await accepted;
  assert.ok(server !== null);
  assert.equal(server.peer.pid, vmm.pid);
  assert.equal(client.peer.pid, daemon.pid);
  const vm = vmm.createVm(0);
  const gmem = vmm.createGuestMemfd(vm, 8n * MiB, SHARED);
  await client.send(new Uint8Array([1]), [gmem, vm]);
  const message = await server.receive();
  assert.ok(message !== null);
  const [theirGmem, theirVm] = message.fds;
  assert.ok(theirGmem !== undefined && theirVm !== undefined);
  listener.close();
  return { host, vmm, daemon, vm, gmem, theirGmem, theirVm };
}

describe("FakeKernel across processes", () => {
  test("a received guest_memfd can be mapped, populated and punched, and both processes see the same memory", async () => {
    const { host, vmm, daemon, gmem, theirGmem } = await handOver();
    const vmmMap = vmm.mmap(gmem, 0n, 8n * MiB, "read-write");
    const daemonMap = daemon.mmap(theirGmem, 0n, 8n * MiB, "read-write");
    vmm.writeMapped(vmmMap, 0n, new Uint8Array([0xa1]));
    assert.deepEqual(daemon.readMapped(daemonMap, 0n, 1), new Uint8Array([0xa1]));
    await daemon.fallocate(theirGmem, FALLOCATE_POPULATE, 2n * MiB, 2n * MiB);
    assert.equal(vmm.populatedBytes(gmem), 2n * MiB + 4096n);
    await daemon.fallocate(theirGmem, FALLOCATE_PUNCH, 0n, 8n * MiB);
    assert.equal(vmm.populatedBytes(gmem), 0n);
    assert.deepEqual(vmm.readMapped(vmmMap, 0n, 1), new Uint8Array([0]));
    host.assertInvariants();
  });

  test("VM ioctls through a received VM fd are EIO: only the creator may (kvm->mm != current->mm)", async () => {
    const { daemon, theirVm, theirGmem } = await handOver();
    assert.throws(() => daemon.createGuestMemfd(theirVm, 2n * MiB, SHARED), errno("EIO", "ioctl(KVM_CREATE_GUEST_MEMFD)"));
    assert.throws(() => daemon.setUserMemoryRegion2(theirVm, { slot: 5, flags: KVM_MEM_GUEST_MEMFD, guestPhysAddr: 1n << 30n, memorySize: 2n * MiB, userspaceAddr: 0n, guestMemfd: theirGmem }), errno("EIO"));
    assert.throws(() => daemon.checkExtension(244, theirVm), errno("EIO"));
  });

  test("a received guest_memfd is the sender's file: same st_dev and st_ino; another guest_memfd or a memfd differs", async () => {
    // SCM_RIGHTS installs the sender's struct file in the receiver (scm_detach_fds -> receive_fd),
    // so fstat sees the same inode; every guest_memfd has an inode of its own
    // (kvm_gmem_create -> anon_inode_create_getfile, not the shared anon_inode_getfile inode).
    const { vmm, daemon, vm, gmem, theirGmem } = await handOver();
    const id = (kernel: FakeKernel, fd: Fd): [bigint, bigint] => {
      const { device, inode } = kernel.identifyFd(fd);
      return [device, inode];
    };
    assert.deepEqual(id(daemon, theirGmem), id(vmm, gmem));
    assert.deepEqual(id(daemon, daemon.dupCloexec(theirGmem)), id(vmm, gmem));
    assert.notDeepEqual(id(vmm, vmm.createGuestMemfd(vm, 8n * MiB, SHARED)), id(vmm, gmem));
    const memfd = vmm.memfdCreate("m", "shmem");
    assert.notDeepEqual(id(vmm, memfd), id(vmm, gmem));
    assert.notDeepEqual(id(vmm, vmm.memfdCreate("m", "shmem")), id(vmm, memfd));
  });

  test("a received guest_memfd cannot be bound into the receiver's own VM (EINVAL)", async () => {
    const { daemon, theirGmem } = await handOver();
    const own = daemon.createVm(0);
    assert.throws(() => daemon.setUserMemoryRegion2(own, { slot: 0, flags: KVM_MEM_GUEST_MEMFD, guestPhysAddr: 0n, memorySize: 2n * MiB, userspaceAddr: 0n, guestMemfd: theirGmem }), errno("EINVAL"));
  });

  test("when the VMM exits its fds close, the daemon's copy keeps the memory, and the watch fires", async () => {
    const { host, vmm, daemon, theirGmem } = await handOver();
    const watch = daemon.watchProcessExit(vmm.pid);
    await daemon.fallocate(theirGmem, FALLOCATE_POPULATE, 0n, 4n * MiB);
    vmm.exit();
    await watch.exited;
    assert.deepEqual(vmm.openFds(), []);
    assert.equal(daemon.populatedBytes(theirGmem), 4n * MiB);
    assert.equal(host.populatedBytes(), 4n * MiB);
    // Holding a guest_memfd keeps the VM's state alive (KERNEL.md §3): drop it, and all is freed.
    daemon.close(theirGmem);
    for (const fd of daemon.openFds()) daemon.close(fd);
    assert.deepEqual(host.liveFiles(), []);
    assert.equal(host.populatedBytes(), 0n);
    host.assertInvariants();
  });

  test("an fd in flight keeps its file alive; a message never received releases it when the socket closes", async () => {
    const host = new FakeHost();
    const a = host.process();
    const listener = a.listenSeqpacket("/s");
    const accepted = listener.accept();
    const client = await a.connectSeqpacket("/s");
    const server = await accepted;
    assert.ok(server !== null);
    const memfd = a.memfdCreate("inflight", "shmem");
    a.ftruncate(memfd, 2n * MiB);
    await a.fallocate(memfd, FALLOCATE_POPULATE, 0n, 2n * MiB);
    await client.send(new Uint8Array([1]), [memfd]);
    a.close(memfd);
    assert.equal(host.populatedBytes(), 2n * MiB, "the message holds the file");
    server.close();
    client.close();
    listener.close();
    assert.deepEqual(host.liveFiles(), []);
  });

  test("a watch of a process that already exited is ESRCH; closing a watch stops it", async () => {
    const host = new FakeHost();
    const daemon = host.process();
    const vmm = host.process();
    const watch = daemon.watchProcessExit(vmm.pid);
    watch.close();
    vmm.exit();
    const settled = await Promise.race([watch.exited.then(() => "exited"), new Promise((resolve) => setTimeout(() => resolve("pending"), 10))]);
    assert.equal(settled, "pending");
    assert.throws(() => daemon.watchProcessExit(vmm.pid), errno("ESRCH"));
  });

  test("a process's sockets close when it exits: the peer reads end of stream", async () => {
    const host = new FakeHost();
    const daemon = host.process();
    const vmm = host.process();
    const listener = daemon.listenSeqpacket("/s");
    const accepted = listener.accept();
    await vmm.connectSeqpacket("/s");
    const server = await accepted;
    assert.ok(server !== null);
    const pending = server.receive();
    vmm.exit();
    assert.equal(await pending, null);
    listener.close();
  });
});
