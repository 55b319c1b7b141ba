/**
 * The contract of the kernel port: one suite, registered against the fake (fake-kernel.test.ts)
 * and against the real kernel (linux-kernel.kvm.test.ts, hugetlb.kvm.test.ts). Each test name
 * is a sentence about the kernel's behaviour; each expectation is a fact of KERNEL.md (most of
 * them reproduced by the probes in shared/reference/probes).
 *
 * Where kernels legitimately differ (private memory, in-place conversion), a test branches on
 * the port's own capability report, so the fake with each preset and the real kernel each take
 * the branch their capabilities say — and the report itself is under test.
 *
 * Every test closes what it opened; afterEach fails the test on an fd the port still lists.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe as nodeDescribe, test as nodeTest } from "node:test";
import {
  asFd,
  FALLOC_FL_KEEP_SIZE,
  FALLOC_FL_PUNCH_HOLE,
  FALLOC_FL_ZERO_RANGE,
  FALLOCATE_POPULATE,
  FALLOCATE_PUNCH,
  type Fd,
  GUEST_MEMFD_FLAG_INIT_SHARED,
  GUEST_MEMFD_FLAG_MMAP,
  GUEST_MEMFD_LINK,
  GUEST_MEMFD_ST_MODE,
  HUGETLB_PAGE_BYTES,
  type KernelErrno,
  KernelError,
  KVM_CAP_GUEST_MEMFD_FLAGS,
  KVM_CAP_USER_MEMORY2,
  KVM_MEM_GUEST_MEMFD,
  KVM_MEM_LOG_DIRTY_PAGES,
  KVM_MEM_READONLY,
  KVM_MEMORY_ATTRIBUTE_PRIVATE,
  KVM_X86_DEFAULT_VM,
} from "@gmempool/sys";
import { fallocateChunked, FallocateChunkedError } from "../fallocate-chunked.ts";
import { PAGE_BYTES, UNIT_BYTES } from "@gmempool/contract";
import type { KernelPort, Mapping, SeqpacketConnection, SeqpacketListener } from "../kernel-port.ts";

// node:test's describe/test return promises that the runner itself awaits; eslint.config.js
// exempts them only in *.test.ts files, and this file is a library of tests.
const describe = (name: string, fn: () => void): void => {
  void nodeDescribe(name, fn);
};
const test = (name: string, fn: () => void | Promise<void>): void => {
  void nodeTest(name, fn);
};

export interface ContractEnvironment<P extends KernelPort = KernelPort> {
  /** A fresh port for each test. */
  readonly createPort: () => P;
  /** The pid the kernel reports (SO_PEERCRED) for connections made through `port`. */
  readonly pidOf: (port: P) => number;
  /** Starts another process on the same machine; `stop` makes it exit (idempotent). */
  readonly startProcess: (port: P) => Promise<{ readonly pid: number; stop(): Promise<void> }>;
}

const MiB = 1024n * 1024n;
const GMEM_SHARED = GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_INIT_SHARED;

/** assert.throws / assert.rejects validator: a KernelError with this errno. */
export function errno(name: KernelErrno, syscallPrefix?: string): (error: unknown) => boolean {
  return (error) => {
    assert.ok(error instanceof KernelError, `expected a KernelError ${name}, got ${String(error)}`);
    assert.equal(error.errno, name, error.message);
    if (syscallPrefix !== undefined) assert.ok(error.syscall.startsWith(syscallPrefix), `syscall "${error.syscall}" should start with "${syscallPrefix}"`);
    return true;
  };
}

/** Everything a test opened, released in reverse order even when the test fails. */
class Scope {
  readonly port: KernelPort;
  readonly #undo: (() => void)[] = [];

  constructor(port: KernelPort) {
    this.port = port;
  }

  fd(fd: Fd): Fd {
    this.#undo.push(() => {
      if (this.port.openFds().includes(fd)) this.port.close(fd);
    });
    return fd;
  }

  readonly #mappings = new Set<Mapping>();

  map(mapping: Mapping): Mapping {
    this.#mappings.add(mapping);
    this.#undo.push(() => {
      if (this.#mappings.delete(mapping)) this.port.munmap(mapping);
    });
    return mapping;
  }

  /** Unmaps now (the test checks something that happens after munmap). */
  unmap(mapping: Mapping): void {
    if (this.#mappings.delete(mapping)) this.port.munmap(mapping);
  }

  socket<T extends SeqpacketConnection | SeqpacketListener>(socket: T): T {
    this.#undo.push(() => {
      socket.close();
    });
    return socket;
  }

  later(action: () => void): void {
    this.#undo.push(action);
  }

  dispose(): void {
    for (const undo of this.#undo.splice(0).reverse()) undo();
  }

  // Shorthands.
  vm(): Fd {
    return this.fd(this.port.createVm(KVM_X86_DEFAULT_VM));
  }

  gmem(vm: Fd, size: bigint, flags = GMEM_SHARED): Fd {
    return this.fd(this.port.createGuestMemfd(vm, size, flags));
  }

  memfd(size: bigint, name = "contract"): Fd {
    const fd = this.fd(this.port.memfdCreate(name, "shmem"));
    this.port.ftruncate(fd, size);
    return fd;
  }
}

const bytes = (...values: number[]): Uint8Array => new Uint8Array(values);

export function registerKernelContract<P extends KernelPort>(name: string, env: ContractEnvironment<P>): void {
  describe(`kernel port contract: ${name}`, () => {
    let port: P;
    let scope: Scope;
    let dir: string;

    beforeEach(() => {
      port = env.createPort();
      scope = new Scope(port);
      dir = mkdtempSync(join(tmpdir(), "gmempool-contract-"));
    });

    afterEach(() => {
      scope.dispose();
      const leaked = port.openFds();
      for (const fd of leaked) port.close(fd);
      port.release();
      rmSync(dir, { recursive: true, force: true });
      assert.deepEqual(leaked, [], "fds left open by the test");
    });

    describe("capabilities", () => {
      test("report API version 12, memslots v2 and guest_memfd with at least MMAP and INIT_SHARED", () => {
        const caps = port.capabilities();
        assert.equal(caps.apiVersion, 12);
        assert.equal(caps.userMemory2, true);
        assert.equal(caps.guestMemfd, true);
        assert.equal(caps.guestMemfdFlags & GMEM_SHARED, GMEM_SHARED);
        assert.ok(caps.vmTypes.includes(KVM_X86_DEFAULT_VM));
        assert.ok(caps.maxMemslots > 0);
        assert.ok(["absent", "unusable", "usable"].includes(caps.inPlaceConversion.state));
      });

      test("a VM answers KVM_CHECK_EXTENSION for guest_memfd flags like /dev/kvm does", () => {
        const vm = scope.vm();
        assert.equal(port.checkExtension(KVM_CAP_GUEST_MEMFD_FLAGS, vm), port.checkExtension(KVM_CAP_GUEST_MEMFD_FLAGS));
        assert.equal(port.checkExtension(KVM_CAP_USER_MEMORY2, vm), 1);
      });

      test("creating a VM of a type the host does not accept is EINVAL", () => {
        const unsupported = [0, 1, 2, 3, 4, 5, 6, 7].find((t) => !port.capabilities().vmTypes.includes(t));
        assert.notEqual(unsupported, undefined);
        assert.throws(() => port.createVm(unsupported ?? 7), errno("EINVAL", "ioctl(KVM_CREATE_VM)"));
      });
    });

    describe("guest_memfd creation and identity", () => {
      test("a size of 0 or not 4 KiB aligned is EINVAL", () => {
        const vm = scope.vm();
        for (const size of [0n, 4097n, 2n * MiB + 1n]) assert.throws(() => scope.gmem(vm, size), errno("EINVAL", "ioctl(KVM_CREATE_GUEST_MEMFD)"));
      });

      test("a flag the host does not accept is EINVAL", () => {
        const vm = scope.vm();
        const unsupported = 1n << 62n;
        assert.throws(() => scope.gmem(vm, 2n * MiB, unsupported), errno("EINVAL", "ioctl(KVM_CREATE_GUEST_MEMFD)"));
      });

      test("a new guest_memfd is close-on-exec and identifies as anon_inode:[kvm-gmem], mode 0100600, with its size", () => {
        const vm = scope.vm();
        const gmem = scope.gmem(vm, 8n * MiB);
        const id = port.identifyFd(gmem);
        assert.equal(id.kind, "guest_memfd");
        assert.equal(id.link, GUEST_MEMFD_LINK);
        assert.equal(id.mode, GUEST_MEMFD_ST_MODE);
        assert.equal(id.size, 8n * MiB);
        assert.equal(id.cloexec, true);
        const vmId = port.identifyFd(vm);
        assert.equal(vmId.kind, "other");
        assert.equal(vmId.cloexec, true);
      });

      test("the size of a guest_memfd is fixed: ftruncate is EINVAL", () => {
        const gmem = scope.gmem(scope.vm(), 8n * MiB);
        assert.throws(() => port.ftruncate(gmem, 16n * MiB), errno("EINVAL", "ftruncate"));
        assert.throws(() => port.ftruncate(gmem, 4n * MiB), errno("EINVAL"));
        assert.equal(port.identifyFd(gmem).size, 8n * MiB);
      });

      test("an fd that is not open is EBADF", async () => {
        const notOpen = asFd(1_000_000);
        assert.throws(() => port.identifyFd(notOpen), errno("EBADF"));
        await assert.rejects(port.fallocate(notOpen, FALLOCATE_POPULATE, 0n, PAGE_BYTES), errno("EBADF"));
      });

      test("dupCloexec gives a second close-on-exec fd for the same file", () => {
        const gmem = scope.gmem(scope.vm(), 2n * MiB);
        const dup = scope.fd(port.dupCloexec(gmem));
        assert.notEqual(dup, gmem);
        assert.equal(port.identifyFd(dup).kind, "guest_memfd");
        assert.equal(port.identifyFd(dup).cloexec, true);
        const a = scope.map(port.mmap(gmem, 0n, 2n * MiB, "read-write"));
        const b = scope.map(port.mmap(dup, 0n, 2n * MiB, "read-write"));
        port.writeMapped(a, 0x1234n, bytes(0x5a));
        assert.deepEqual(port.readMapped(b, 0x1234n, 1), bytes(0x5a));
      });

      test("two fds of one guest_memfd share st_dev and st_ino; another guest_memfd differs", () => {
        const vm = scope.vm();
        const gmem = scope.gmem(vm, 2n * MiB);
        const dup = scope.fd(port.dupCloexec(gmem));
        const other = scope.gmem(vm, 2n * MiB);
        const [a, b, c] = [gmem, dup, other].map((fd) => port.identifyFd(fd));
        assert.deepEqual([b!.device, b!.inode], [a!.device, a!.inode]);
        assert.notDeepEqual([c!.device, c!.inode], [a!.device, a!.inode]);
      });
    });

    describe("guest_memfd fallocate (kvm_gmem_fallocate)", () => {
      test("populate without KEEP_SIZE, PUNCH_HOLE without KEEP_SIZE and ZERO_RANGE are EOPNOTSUPP", async () => {
        const gmem = scope.gmem(scope.vm(), 8n * MiB);
        await assert.rejects(port.fallocate(gmem, 0, 0n, 2n * MiB), errno("EOPNOTSUPP", "fallocate(0)"));
        await assert.rejects(port.fallocate(gmem, FALLOC_FL_PUNCH_HOLE, 0n, PAGE_BYTES), errno("EOPNOTSUPP"));
        await assert.rejects(port.fallocate(gmem, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, 0n, PAGE_BYTES), errno("EOPNOTSUPP"));
      });

      test("an unaligned offset or length is EINVAL, and the error names the call: fallocate(PUNCH_HOLE) failed: EINVAL", async () => {
        const gmem = scope.gmem(scope.vm(), 8n * MiB);
        await assert.rejects(port.fallocate(gmem, FALLOCATE_POPULATE, PAGE_BYTES + 1n, PAGE_BYTES), errno("EINVAL", "fallocate(KEEP_SIZE)"));
        await assert.rejects(port.fallocate(gmem, FALLOCATE_PUNCH, 100n, PAGE_BYTES), (error: unknown) => {
          assert.ok(error instanceof KernelError);
          assert.match(error.message, /^fallocate\(PUNCH_HOLE\) failed: EINVAL/);
          return true;
        });
        await assert.rejects(port.fallocate(gmem, FALLOCATE_PUNCH, 0n, 100n), errno("EINVAL"));
      });

      test("populating past the size is EINVAL, punching past the size is fine", async () => {
        const gmem = scope.gmem(scope.vm(), 8n * MiB);
        await assert.rejects(port.fallocate(gmem, FALLOCATE_POPULATE, 6n * MiB, 4n * MiB), errno("EINVAL"));
        await assert.rejects(port.fallocate(gmem, FALLOCATE_POPULATE, 8n * MiB, PAGE_BYTES), errno("EINVAL"));
        await port.fallocate(gmem, FALLOCATE_POPULATE, 0n, 8n * MiB);
        await port.fallocate(gmem, FALLOCATE_PUNCH, 6n * MiB, 4n * MiB);
      });

      test("populated memory reads as zeros, keeps what is written, and reads as zeros again after a punch", async () => {
        const gmem = scope.gmem(scope.vm(), 8n * MiB);
        await port.fallocate(gmem, FALLOCATE_POPULATE, 0n, 4n * MiB);
        const map = scope.map(port.mmap(gmem, 0n, 8n * MiB, "read-write"));
        assert.deepEqual(port.readMapped(map, 2n * MiB + 17n, 4), bytes(0, 0, 0, 0));
        port.writeMapped(map, 2n * MiB + 17n, bytes(1, 2, 3, 4));
        port.writeMapped(map, 6n * MiB, bytes(9)); // an unpopulated page: the store faults it in
        assert.deepEqual(port.readMapped(map, 2n * MiB + 17n, 4), bytes(1, 2, 3, 4));
        await port.fallocate(gmem, FALLOCATE_PUNCH, 2n * MiB, 2n * MiB);
        assert.deepEqual(port.readMapped(map, 2n * MiB + 17n, 4), bytes(0, 0, 0, 0));
        assert.deepEqual(port.readMapped(map, 6n * MiB, 1), bytes(9));
      });

      test("a chunked populate running past the end reports exactly the chunks that were done", async () => {
        const gmem = scope.gmem(scope.vm(), 4n * MiB);
        const error = await fallocateChunked(port, gmem, FALLOCATE_POPULATE, { offset: 0n, length: 8n * MiB }, { parallelism: 1 }).then(
          () => undefined,
          (e: unknown) => e,
        );
        assert.ok(error instanceof FallocateChunkedError, String(error));
        assert.equal(error.errno, "EINVAL");
        assert.deepEqual(error.completed, [{ offset: 0n, length: 4n * MiB }]);
        assert.deepEqual(error.failed.map((f) => f.range), [{ offset: 4n * MiB, length: UNIT_BYTES }]);
        assert.deepEqual(error.notAttempted, [{ offset: 6n * MiB, length: UNIT_BYTES }]);
        await fallocateChunked(port, gmem, FALLOCATE_PUNCH, { offset: 0n, length: 4n * MiB }, { parallelism: 4 });
      });
    });

    describe("guest_memfd mmap (kvm_gmem_mmap, kvm_gmem_fault_user_mapping)", () => {
      test("mmap of a guest_memfd without GUEST_MEMFD_FLAG_MMAP is ENODEV", () => {
        const gmem = scope.gmem(scope.vm(), 2n * MiB, 0n);
        assert.throws(() => port.mmap(gmem, 0n, 2n * MiB, "read-write"), errno("ENODEV", "mmap"));
      });

      test("without INIT_SHARED every host access is refused like a SIGBUS: EFAULT for read, write and MADV_POPULATE_WRITE", async () => {
        const gmem = scope.gmem(scope.vm(), 2n * MiB, GUEST_MEMFD_FLAG_MMAP);
        await port.fallocate(gmem, FALLOCATE_POPULATE, 0n, 2n * MiB);
        const map = scope.map(port.mmap(gmem, 0n, 2n * MiB, "read-write"));
        assert.throws(() => port.readMapped(map, 0n, 4), errno("EFAULT", "process_vm_readv"));
        assert.throws(() => port.writeMapped(map, 4096n, bytes(1)), errno("EFAULT", "process_vm_writev"));
        await assert.rejects(port.madvisePopulateWrite(map, 0n, PAGE_BYTES), errno("EFAULT", "madvise(MADV_POPULATE_WRITE)"));
      });

      test("host access past the end of the file is refused like a SIGBUS: EFAULT", () => {
        const gmem = scope.gmem(scope.vm(), 2n * MiB);
        const map = scope.map(port.mmap(gmem, 0n, 4n * MiB, "read-write"));
        assert.deepEqual(port.readMapped(map, 2n * MiB - 1n, 1), bytes(0));
        assert.throws(() => port.readMapped(map, 2n * MiB, 1), errno("EFAULT"));
      });

      test("MADV_POPULATE_WRITE faults in a shared mapping", async () => {
        const gmem = scope.gmem(scope.vm(), 4n * MiB);
        const map = scope.map(port.mmap(gmem, 0n, 4n * MiB, "read-write"));
        await port.madvisePopulateWrite(map, 0n, 2n * MiB);
        assert.deepEqual(port.readMapped(map, 2n * MiB - 2n, 2), bytes(0, 0));
      });

      test("a read-only mapping refuses stores with EFAULT", () => {
        const gmem = scope.gmem(scope.vm(), 2n * MiB);
        const map = scope.map(port.mmap(gmem, 0n, 2n * MiB, "read"));
        assert.deepEqual(port.readMapped(map, 0n, 1), bytes(0));
        assert.throws(() => port.writeMapped(map, 0n, bytes(1)), errno("EFAULT"));
      });

      test("a mapping keeps its file: after close(fd) the memory is still there until munmap", async () => {
        const vm = scope.vm();
        const gmem = port.createGuestMemfd(vm, 2n * MiB, GMEM_SHARED);
        const map = scope.map(port.mmap(gmem, 0n, 2n * MiB, "read-write"));
        await port.fallocate(gmem, FALLOCATE_POPULATE, 0n, 2n * MiB);
        port.writeMapped(map, 0n, bytes(7));
        port.close(gmem);
        assert.deepEqual(port.readMapped(map, 0n, 1), bytes(7));
        scope.unmap(map);
      });

      test("a VM fd can be neither mapped nor fallocated (ENODEV: not a regular file)", async () => {
        const vm = scope.vm();
        assert.throws(() => port.mmap(vm, 0n, PAGE_BYTES, "read-write"), errno("ENODEV"));
        await assert.rejects(port.fallocate(vm, FALLOCATE_POPULATE, 0n, PAGE_BYTES), errno("ENODEV"));
      });

      test("the guest_memfd outlives its VM fd: populate, map and punch still work", async () => {
        const vm = port.createVm(KVM_X86_DEFAULT_VM);
        const gmem = scope.gmem(vm, 4n * MiB);
        port.close(vm);
        await port.fallocate(gmem, FALLOCATE_POPULATE, 0n, 2n * MiB);
        const map = scope.map(port.mmap(gmem, 0n, 4n * MiB, "read-write"));
        port.writeMapped(map, 5n, bytes(9));
        assert.deepEqual(port.readMapped(map, 5n, 1), bytes(9));
        await port.fallocate(gmem, FALLOCATE_PUNCH, 0n, 4n * MiB);
        assert.deepEqual(port.readMapped(map, 5n, 1), bytes(0));
      });
    });

    describe("memslots (__kvm_set_memory_region, kvm_gmem_bind)", () => {
      const slot = (n: number, gpa: bigint, size: bigint, gmem: Fd, offset: bigint, uaddr = 0n, flags = KVM_MEM_GUEST_MEMFD) => ({
        slot: n,
        flags,
        guestPhysAddr: gpa,
        memorySize: size,
        userspaceAddr: uaddr,
        guestMemfd: gmem,
        guestMemfdOffset: offset,
      });

      test("a guest_memfd binds into its VM; the slot can be deleted and the range bound again", () => {
        const vm = scope.vm();
        const gmem = scope.gmem(vm, 8n * MiB);
        const map = scope.map(port.mmap(gmem, 0n, 8n * MiB, "read-write"));
        port.setUserMemoryRegion2(vm, slot(1, 256n * MiB, 2n * MiB, gmem, 2n * MiB, map.address + 2n * MiB));
        port.setUserMemoryRegion2(vm, slot(1, 256n * MiB, 0n, gmem, 2n * MiB, map.address + 2n * MiB));
        port.setUserMemoryRegion2(vm, slot(1, 256n * MiB, 2n * MiB, gmem, 2n * MiB, map.address + 2n * MiB));
      });

      test("a guest_memfd of another VM cannot be bound (EINVAL)", () => {
        const vm = scope.vm();
        const other = scope.vm();
        const gmem = scope.gmem(other, 2n * MiB);
        assert.throws(() => port.setUserMemoryRegion2(vm, slot(1, 0n, 2n * MiB, gmem, 0n)), errno("EINVAL", "ioctl(KVM_SET_USER_MEMORY_REGION2)"));
      });

      test("a memfd is not a guest_memfd (EINVAL)", () => {
        const vm = scope.vm();
        const memfd = scope.memfd(2n * MiB);
        assert.throws(() => port.setUserMemoryRegion2(vm, slot(1, 0n, 2n * MiB, memfd, 0n)), errno("EINVAL"));
      });

      test("an unaligned guest_memfd offset or a range past its end is EINVAL", () => {
        const vm = scope.vm();
        const gmem = scope.gmem(vm, 8n * MiB);
        assert.throws(() => port.setUserMemoryRegion2(vm, slot(1, 0n, 2n * MiB, gmem, 4097n)), errno("EINVAL"));
        assert.throws(() => port.setUserMemoryRegion2(vm, slot(1, 0n, 2n * MiB, gmem, 7n * MiB)), errno("EINVAL"));
      });

      test("two slots cannot bind overlapping ranges of one guest_memfd (EINVAL); adjacent ranges are fine", () => {
        const vm = scope.vm();
        const gmem = scope.gmem(vm, 8n * MiB);
        port.setUserMemoryRegion2(vm, slot(1, 256n * MiB, 2n * MiB, gmem, 2n * MiB));
        assert.throws(() => port.setUserMemoryRegion2(vm, slot(2, 512n * MiB, 2n * MiB, gmem, 3n * MiB)), errno("EINVAL"));
        port.setUserMemoryRegion2(vm, slot(2, 512n * MiB, 2n * MiB, gmem, 4n * MiB));
      });

      test("a guest_memfd slot is immutable: moving it or changing its flags is EINVAL; READONLY and dirty logging are refused", () => {
        const vm = scope.vm();
        const gmem = scope.gmem(vm, 8n * MiB);
        port.setUserMemoryRegion2(vm, slot(1, 256n * MiB, 2n * MiB, gmem, 2n * MiB));
        assert.throws(() => port.setUserMemoryRegion2(vm, slot(1, 768n * MiB, 2n * MiB, gmem, 2n * MiB)), errno("EINVAL"));
        assert.throws(() => port.setUserMemoryRegion2(vm, { slot: 1, flags: 0, guestPhysAddr: 256n * MiB, memorySize: 2n * MiB, userspaceAddr: 0n }), errno("EINVAL"));
        assert.throws(() => port.setUserMemoryRegion2(vm, slot(3, 0n, 2n * MiB, gmem, 0n, 0n, KVM_MEM_GUEST_MEMFD | KVM_MEM_READONLY)), errno("EINVAL"));
        assert.throws(() => port.setUserMemoryRegion2(vm, slot(3, 0n, 2n * MiB, gmem, 0n, 0n, KVM_MEM_GUEST_MEMFD | KVM_MEM_LOG_DIRTY_PAGES)), errno("EINVAL"));
      });

      test("slots overlapping in guest physical space are EEXIST", () => {
        const vm = scope.vm();
        const gmem = scope.gmem(vm, 8n * MiB);
        port.setUserMemoryRegion2(vm, slot(1, 256n * MiB, 4n * MiB, gmem, 0n));
        assert.throws(() => port.setUserMemoryRegion2(vm, slot(2, 258n * MiB, 2n * MiB, gmem, 4n * MiB)), errno("EEXIST"));
      });

      test("deleting a slot that does not exist is EINVAL", () => {
        const vm = scope.vm();
        assert.throws(() => port.setUserMemoryRegion2(vm, { slot: 9, flags: 0, guestPhysAddr: 0n, memorySize: 0n, userspaceAddr: 0n }), errno("EINVAL"));
      });

      test("memory bound to a slot can be punched", async () => {
        const vm = scope.vm();
        const gmem = scope.gmem(vm, 4n * MiB);
        await port.fallocate(gmem, FALLOCATE_POPULATE, 0n, 4n * MiB);
        port.setUserMemoryRegion2(vm, slot(1, 0n, 4n * MiB, gmem, 0n));
        await port.fallocate(gmem, FALLOCATE_PUNCH, 2n * MiB, 2n * MiB);
      });
    });

    describe("memory attributes", () => {
      test("KVM_SET_MEMORY_ATTRIBUTES on a default VM: ENOTTY where the capability is 0, else EINVAL (no private memory)", () => {
        const vm = scope.vm();
        const expected = port.capabilities().memoryAttributes === 0n ? "ENOTTY" : "EINVAL";
        assert.throws(() => port.setMemoryAttributes(vm, { address: 0n, size: PAGE_BYTES, attributes: KVM_MEMORY_ATTRIBUTE_PRIVATE }), errno(expected, "ioctl(KVM_SET_MEMORY_ATTRIBUTES)"));
      });

      test("KVM_SET_MEMORY_ATTRIBUTES2 on a guest_memfd: ENOTTY when absent, EINVAL on a VM without private memory", () => {
        const gmem = scope.gmem(scope.vm(), 2n * MiB);
        const expected = port.capabilities().inPlaceConversion.state === "absent" ? "ENOTTY" : "EINVAL";
        assert.throws(() => port.setMemoryAttributes2(gmem, { offset: 0n, size: PAGE_BYTES, attributes: KVM_MEMORY_ATTRIBUTE_PRIVATE }), errno(expected, "ioctl(KVM_SET_MEMORY_ATTRIBUTES2)"));
      });

      test("KVM_SET_MEMORY_ATTRIBUTES2 on a memfd is ENOTTY", () => {
        const memfd = scope.memfd(2n * MiB);
        assert.throws(() => port.setMemoryAttributes2(memfd, { offset: 0n, size: PAGE_BYTES, attributes: 0n }), errno("ENOTTY"));
      });
    });

    describe("shmem memfd", () => {
      test("a memfd is close-on-exec, identifies as /memfd:NAME, and holds what is written until punched", async () => {
        const memfd = scope.memfd(4n * MiB, "contract-shmem");
        const id = port.identifyFd(memfd);
        assert.equal(id.kind, "memfd");
        assert.match(id.link, /^\/memfd:contract-shmem/);
        assert.equal(id.size, 4n * MiB);
        assert.equal(id.blockSize, 4096);
        assert.equal(id.cloexec, true);
        await port.fallocate(memfd, FALLOCATE_POPULATE, 0n, 4n * MiB);
        const map = scope.map(port.mmap(memfd, 0n, 4n * MiB, "read-write"));
        port.writeMapped(map, 3n * MiB, bytes(1, 2));
        await port.fallocate(memfd, FALLOCATE_PUNCH, 2n * MiB, 2n * MiB);
        assert.deepEqual(port.readMapped(map, 3n * MiB, 2), bytes(0, 0));
      });

      test("fallocate without KEEP_SIZE grows a memfd; ZERO_RANGE is EOPNOTSUPP", async () => {
        const memfd = scope.memfd(0n);
        await port.fallocate(memfd, 0, 0n, 2n * MiB);
        assert.equal(port.identifyFd(memfd).size, 2n * MiB);
        await port.fallocate(memfd, FALLOCATE_POPULATE, 0n, 4n * MiB);
        assert.equal(port.identifyFd(memfd).size, 2n * MiB);
        await assert.rejects(port.fallocate(memfd, FALLOC_FL_ZERO_RANGE, 0n, PAGE_BYTES), errno("EOPNOTSUPP"));
      });

      test("a memfd access past its size is EFAULT", () => {
        const memfd = scope.memfd(2n * MiB);
        const map = scope.map(port.mmap(memfd, 0n, 4n * MiB, "read-write"));
        assert.throws(() => port.readMapped(map, 2n * MiB, 1), errno("EFAULT"));
      });
    });

    describe("fd passing over SOCK_SEQPACKET", () => {
      async function pair(): Promise<{ listener: SeqpacketListener; server: SeqpacketConnection; client: SeqpacketConnection }> {
        const listener = scope.socket(port.listenSeqpacket(join(dir, "fd.sock")));
        const accepted = listener.accept();
        const client = scope.socket(await port.connectSeqpacket(listener.path));
        const server = await accepted;
        assert.ok(server !== null);
        scope.socket(server);
        return { listener, server, client };
      }

      test("a message carries its payload and fds; the received fds are close-on-exec and name the same files", async () => {
        const { server, client } = await pair();
        const gmem = scope.gmem(scope.vm(), 2n * MiB);
        const memfd = scope.memfd(2n * MiB);
        await client.send(new TextEncoder().encode("hello"), [gmem, memfd]);
        const message = await server.receive();
        assert.ok(message !== null);
        assert.equal(new TextDecoder().decode(message.payload), "hello");
        assert.equal(message.fds.length, 2);
        const [rGmem, rMemfd] = message.fds.map((fd) => scope.fd(fd));
        assert.ok(rGmem !== undefined && rMemfd !== undefined);
        assert.notEqual(rGmem, gmem);
        assert.equal(port.identifyFd(rGmem).kind, "guest_memfd");
        assert.equal(port.identifyFd(rGmem).cloexec, true);
        assert.equal(port.identifyFd(rMemfd).kind, "memfd");
        assert.equal(port.identifyFd(rMemfd).cloexec, true);
        const mine = scope.map(port.mmap(memfd, 0n, 2n * MiB, "read-write"));
        const theirs = scope.map(port.mmap(rMemfd, 0n, 2n * MiB, "read-write"));
        port.writeMapped(theirs, 100n, bytes(42));
        assert.deepEqual(port.readMapped(mine, 100n, 1), bytes(42));
      });

      test("message boundaries are kept and messages may carry no fds", async () => {
        const { server, client } = await pair();
        for (const text of ["one", "two", "three"]) await client.send(new TextEncoder().encode(text));
        for (const text of ["one", "two", "three"]) {
          const message = await server.receive();
          assert.equal(message === null ? null : new TextDecoder().decode(message.payload), text);
          assert.deepEqual(message?.fds, []);
        }
        await server.send(bytes(1, 2, 3));
        assert.deepEqual((await client.receive())?.payload, bytes(1, 2, 3));
      });

      test("SO_PEERCRED names the process at the other end", async () => {
        const { server, client } = await pair();
        assert.equal(server.peer.pid, env.pidOf(port));
        assert.equal(client.peer.pid, env.pidOf(port));
        assert.equal(typeof server.peer.uid, "number");
      });

      test("a receive pending when the peer closes resolves with null; sending to a closed peer is EPIPE", async () => {
        const { server, client } = await pair();
        const pending = server.receive();
        client.close();
        assert.equal(await pending, null);
        assert.equal(await server.receive(), null);
        await assert.rejects(server.send(bytes(1)), errno("EPIPE"));
      });

      test("an empty payload is refused: a zero-length SEQPACKET read means end of stream", async () => {
        const { client } = await pair();
        await assert.rejects(client.send(new Uint8Array(0)), RangeError);
      });

      test("connecting where nobody listens is ENOENT; listening on a taken path is EADDRINUSE", async () => {
        await assert.rejects(port.connectSeqpacket(join(dir, "nobody.sock")), errno("ENOENT", "connect"));
        scope.socket(port.listenSeqpacket(join(dir, "taken.sock")));
        assert.throws(() => port.listenSeqpacket(join(dir, "taken.sock")), errno("EADDRINUSE", "bind"));
      });

      test("closing a listener resolves a pending accept with null", async () => {
        const listener = scope.socket(port.listenSeqpacket(join(dir, "closing.sock")));
        const pending = listener.accept();
        listener.close();
        assert.equal(await pending, null);
      });
    });

    describe("process exit (pidfd)", () => {
      test("a watch resolves when the process exits", async () => {
        const peer = await env.startProcess(port);
        scope.later(() => {
          void peer.stop();
        });
        const watch = port.watchProcessExit(peer.pid);
        scope.later(() => {
          watch.close();
        });
        let exited = false;
        void watch.exited.then(() => (exited = true));
        await new Promise((resolve) => setTimeout(resolve, 20));
        assert.equal(exited, false);
        await peer.stop();
        await watch.exited;
      });

      test("watching a process that does not exist is ESRCH", () => {
        assert.throws(() => port.watchProcessExit(0x3ffffff0), errno("ESRCH", "pidfd_open"));
      });
    });
  });
}

/**
 * The hugetlb part of the contract. It changes the machine's pool, so it saves nr_hugepages
 * before and restores it after, whatever happens.
 */
export function registerHugetlbContract(name: string, env: Pick<ContractEnvironment, "createPort">): void {
  describe(`kernel port contract, hugetlb: ${name}`, () => {
    let port: KernelPort;
    let scope: Scope;
    let saved: number;

    beforeEach(async () => {
      port = env.createPort();
      scope = new Scope(port);
      saved = port.hugetlbPool().nrHugepages;
      const want = saved + 8;
      const got = await port.setNrHugepages(want);
      assert.ok(got >= want, `could only reserve ${got} of ${want} hugetlb pages`);
    });

    afterEach(async () => {
      try {
        scope.dispose();
        const leaked = port.openFds();
        for (const fd of leaked) port.close(fd);
        assert.deepEqual(leaked, [], "fds left open by the test");
      } finally {
        await port.setNrHugepages(saved);
        port.release();
      }
    });

    function hugetlbMemfd(size: bigint): Fd {
      const fd = scope.fd(port.memfdCreate("contract-hugetlb", "hugetlb-2m"));
      port.ftruncate(fd, size);
      return fd;
    }

    test("a hugetlb memfd has 2 MiB blocks and only 2 MiB-multiple sizes (EINVAL otherwise)", () => {
      const fd = hugetlbMemfd(4n * MiB);
      assert.equal(port.identifyFd(fd).blockSize, Number(HUGETLB_PAGE_BYTES));
      assert.equal(port.identifyFd(fd).kind, "memfd");
      assert.throws(() => port.ftruncate(fd, 3n * MiB), errno("EINVAL", "ftruncate"));
    });

    test("populate takes 2 MiB pages from the pool, a punch gives them back, and the bytes survive in between", async () => {
      const before = port.hugetlbPool().freeHugepages;
      const fd = hugetlbMemfd(8n * MiB);
      await fallocateChunked(port, fd, FALLOCATE_POPULATE, { offset: 0n, length: 8n * MiB }, { parallelism: 4 });
      assert.equal(port.hugetlbPool().freeHugepages, before - 4);
      const map = scope.map(port.mmap(fd, 0n, 8n * MiB, "read-write"));
      port.writeMapped(map, 6n * MiB + 3n, bytes(0xee));
      assert.deepEqual(port.readMapped(map, 6n * MiB + 3n, 1), bytes(0xee));
      await port.fallocate(fd, FALLOCATE_PUNCH, 6n * MiB, 2n * MiB);
      assert.equal(port.hugetlbPool().freeHugepages, before - 3);
      assert.deepEqual(port.readMapped(map, 6n * MiB + 3n, 1), bytes(0));
      scope.unmap(map);
      await port.fallocate(fd, FALLOCATE_PUNCH, 0n, 8n * MiB);
      assert.equal(port.hugetlbPool().freeHugepages, before);
    });

    test("populating more than the pool holds is ENOSPC", async () => {
      const free = port.hugetlbPool().freeHugepages;
      const fd = hugetlbMemfd(BigInt(free + 2) * HUGETLB_PAGE_BYTES);
      await assert.rejects(port.fallocate(fd, FALLOCATE_POPULATE, 0n, BigInt(free + 2) * HUGETLB_PAGE_BYTES), errno("ENOSPC"));
      await port.fallocate(fd, FALLOCATE_PUNCH, 0n, BigInt(free + 2) * HUGETLB_PAGE_BYTES);
      assert.equal(port.hugetlbPool().freeHugepages, free);
    });

    test("a hugetlb mapping must start on a 2 MiB boundary (EINVAL)", () => {
      const fd = hugetlbMemfd(4n * MiB);
      assert.throws(() => port.mmap(fd, PAGE_BYTES, 2n * MiB, "read-write"), errno("EINVAL", "mmap"));
    });
  });
}
