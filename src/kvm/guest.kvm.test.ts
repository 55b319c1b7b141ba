/**
 * A real guest on memory the port manages (KERNEL.md §3–§4): a VM and a guest_memfd
 * (MMAP | INIT_SHARED) bound with the host mapping as userspace_addr, a vCPU running a few
 * real-mode instructions that write a pattern — seen through the host mapping. Then the daemon's
 * real situation: the guest_memfd (and the VM fd) go over SEQPACKET to another process, which
 * populates it, writes into it and punches part of it; the guest and both processes still see
 * one memory, and the other process cannot issue the VM's ioctls (EIO).
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { closeSync, mkdtempSync, openSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, test } from "node:test";
import koffi from "koffi";
import {
  check,
  type Fd,
  GUEST_MEMFD_FLAG_INIT_SHARED,
  GUEST_MEMFD_FLAG_MMAP,
  KVM_GET_VCPU_MMAP_SIZE,
  KVM_MEM_GUEST_MEMFD,
  kvm_segment,
  kvm_sregs,
  libc,
  setTssAddr,
  Vcpu,
} from "@gmempool/sys";
import { kvmSkipReason } from "@gmempool/sys/testing";
import type { PeerReport, PeerRequest } from "./gmem-peer-child.ts";
import type { Mapping } from "./kernel-port.ts";
import { LinuxKernel } from "./linux-kernel.ts";

const skip = kvmSkipReason();
const MiB = 1n << 20n;
const GUEST_BYTES = 2n * MiB;
const CODE_AT = 0x1000n;
const PATTERN_AT = 0x2000n;
const INPUT_AT = 0x3000n;
const PATTERN_BYTES = 16;

/**
 * Real mode, at 0x1000:
 *   mov di, 0x2000; mov al, SEED; mov cx, 16
 *   l: mov [di], al; inc al; inc di; loop l      -- the pattern SEED, SEED+1, ... at 0x2000
 *   mov al, [0x3000]; out 0x10, al; hlt         -- report the byte the host put at 0x3000
 */
function guestCode(seed: number): Uint8Array {
  return new Uint8Array([0xbf, 0x00, 0x20, 0xb0, seed, 0xb9, 0x10, 0x00, 0x88, 0x05, 0xfe, 0xc0, 0x47, 0xe2, 0xf9, 0xa0, 0x00, 0x30, 0xe6, 0x10, 0xf4]);
}

const pattern = (seed: number): Uint8Array => Uint8Array.from({ length: PATTERN_BYTES }, (_, i) => (seed + i) & 0xff);

/** KVM_GET_VCPU_MMAP_SIZE of /dev/kvm: the bytes of a vCPU's kvm_run mapping. */
function vcpuMmapSize(): number {
  const kvm = openSync("/dev/kvm", "r+");
  try {
    return check(libc.ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, "unsigned long", 0), "ioctl(KVM_GET_VCPU_MMAP_SIZE)");
  } finally {
    closeSync(kvm);
  }
}

/**
 * Real mode, CS = DS = ES = SS = 0 (base 0, so real-mode addresses are guest physical ones, as
 * in the probe vm.c), IP = `rip`, interrupts off.
 */
function enterRealMode(vcpu: Vcpu, rip: bigint): void {
  const sregs = vcpu.getSregs();
  for (const segment of ["cs", "ds", "es", "ss"]) {
    const at = koffi.offsetof(kvm_sregs, segment);
    sregs.writeBigUInt64LE(0n, at + koffi.offsetof(kvm_segment, "base"));
    sregs.writeUInt16LE(0, at + koffi.offsetof(kvm_segment, "selector"));
  }
  vcpu.setSregs(sregs);
  vcpu.setRegs({ rip, rflags: 2n }); // bit 1 of rflags is reserved, always set
}

/** Runs the guest from 0x1000 to its hlt; returns the bytes it wrote to port 0x10. */
function runGuest(kernel: LinuxKernel, vcpu: Vcpu, map: Mapping, seed: number): number[] {
  kernel.writeMapped(map, CODE_AT, guestCode(seed));
  enterRealMode(vcpu, CODE_AT);
  const out: number[] = [];
  for (let exits = 0; exits < 16; exits++) {
    const exit = vcpu.run();
    if (exit.reason === "hlt") return out;
    assert.equal(exit.reason, "io", `unexpected exit ${JSON.stringify(exit)}`);
    assert.equal(exit.port, 0x10);
    out.push(...exit.data);
  }
  throw new Error("the guest did not halt");
}

/** A VM with one 2 MiB guest_memfd memslot at guest physical 0, mapped in this process. */
function guestVm(kernel: LinuxKernel): { vm: Fd; gmem: Fd; map: Mapping; vcpu: Vcpu; dispose(): void } {
  const vm = kernel.createVm(0);
  setTssAddr(vm);
  const gmem = kernel.createGuestMemfd(vm, GUEST_BYTES, GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_INIT_SHARED);
  const map = kernel.mmap(gmem, 0n, GUEST_BYTES, "read-write");
  // On a default VM the memslot's userspace_addr must be a mapping of the same guest_memfd range
  // (KERNEL.md §4), or emulated accesses see other memory.
  kernel.setUserMemoryRegion2(vm, { slot: 0, flags: KVM_MEM_GUEST_MEMFD, guestPhysAddr: 0n, memorySize: GUEST_BYTES, userspaceAddr: map.address, guestMemfd: gmem, guestMemfdOffset: 0n });
  const vcpu = Vcpu.create(vm, 0, vcpuMmapSize());
  return {
    vm,
    gmem,
    map,
    vcpu,
    dispose: () => {
      vcpu.close();
      kernel.munmap(map);
      kernel.close(gmem);
      kernel.close(vm);
    },
  };
}

describe("a real guest on a guest_memfd", { skip }, () => {
  test("the guest's stores land in the guest_memfd and show through the host mapping, and it reads what the host wrote", () => {
    const kernel = new LinuxKernel();
    const guest = guestVm(kernel);
    try {
      kernel.writeMapped(guest.map, INPUT_AT, new Uint8Array([0x77]));
      assert.deepEqual(runGuest(kernel, guest.vcpu, guest.map, 0xa0), [0x77]);
      assert.deepEqual(kernel.readMapped(guest.map, PATTERN_AT, PATTERN_BYTES), pattern(0xa0));
    } finally {
      guest.dispose();
      assert.deepEqual(kernel.openFds(), []);
      kernel.release();
    }
  });

  test("after another process received the guest_memfd over SEQPACKET, populated it, wrote to it and punched part of it, the guest and both processes still share one memory", async () => {
    const kernel = new LinuxKernel();
    const dir = mkdtempSync(join(tmpdir(), "gmempool-guest-"));
    const guest = guestVm(kernel);
    const listener = kernel.listenSeqpacket(join(dir, "fd.sock"));
    const childScript = fileURLToPath(new URL("./gmem-peer-child.ts", import.meta.url));
    const child = spawn(process.execPath, ["--import", "tsx", childScript, listener.path], { stdio: ["ignore", "inherit", "inherit"] });
    const childExit = once(child, "exit") as Promise<[number | null, NodeJS.Signals | null]>;
    try {
      kernel.writeMapped(guest.map, INPUT_AT, new Uint8Array([0x11]));
      assert.deepEqual(runGuest(kernel, guest.vcpu, guest.map, 0x30), [0x11]);
      kernel.writeMapped(guest.map, MiB + 5n, new Uint8Array([0xa5]));

      const connection = await listener.accept();
      assert.ok(connection !== null);
      try {
        assert.equal(connection.peer.pid, child.pid, "SO_PEERCRED names the child");
        const watch = kernel.watchProcessExit(connection.peer.pid);
        const request: PeerRequest = {
          size: GUEST_BYTES.toString(),
          markerOffset: (MiB + 5n).toString(),
          guestByteOffset: INPUT_AT.toString(),
          guestByte: 0x3c,
          punchOffset: MiB.toString(),
          punchLength: MiB.toString(),
        };
        await connection.send(new TextEncoder().encode(JSON.stringify(request)), [guest.gmem, guest.vm]);
        const reply = await connection.receive();
        assert.ok(reply !== null, "the child closed the socket without a report (see its stderr)");
        const report = JSON.parse(new TextDecoder().decode(reply.payload)) as PeerReport;
        assert.deepEqual(
          { ...report, pid: undefined },
          {
            pid: undefined,
            kind: "guest_memfd",
            link: "anon_inode:[kvm-gmem]",
            size: GUEST_BYTES.toString(),
            cloexec: true,
            marker: 0xa5,
            punchedByteBefore: 0xcc,
            punchedByteAfter: 0,
            createGuestMemfdErrno: "EIO",
            bindErrno: "EIO",
            openFdsAtEnd: 0,
          },
        );
        assert.equal(report.pid, child.pid);
        // The child's punch freed our marker; its store is what the guest now reads.
        assert.deepEqual(kernel.readMapped(guest.map, MiB + 5n, 1), new Uint8Array([0]));
        assert.deepEqual(runGuest(kernel, guest.vcpu, guest.map, 0x50), [0x3c]);
        assert.deepEqual(kernel.readMapped(guest.map, PATTERN_AT, PATTERN_BYTES), pattern(0x50));
        connection.close();
        await watch.exited;
        watch.close();
      } finally {
        connection.close();
      }
      const [code, signal] = await childExit;
      assert.deepEqual({ code, signal }, { code: 0, signal: null });
    } finally {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGKILL");
        await childExit;
      }
      listener.close();
      guest.dispose();
      rmSync(dir, { recursive: true, force: true });
      assert.deepEqual(kernel.openFds(), []);
      kernel.release();
    }
  });
});
