/**
 * The other process of guest.kvm.test.ts — the daemon's situation: it connects to the test's
 * SEQPACKET socket, receives a VMM's guest_memfd and VM fd, populates and punches the
 * guest_memfd, writes into it, tries VM ioctls on the received VM fd (EIO: not its VM), and
 * reports back. Run as `node --import tsx src/kvm/gmem-peer-child.ts SOCKET`.
 */
import { fallocateChunked } from "./fallocate-chunked.ts";
import {
  FALLOCATE_POPULATE,
  FALLOCATE_PUNCH,
  GUEST_MEMFD_FLAG_INIT_SHARED,
  GUEST_MEMFD_FLAG_MMAP,
  KernelError,
  KVM_MEM_GUEST_MEMFD,
} from "@gmempool/sys";
import { LinuxKernel } from "./linux-kernel.ts";

/** What the test asks for. Offsets are decimal strings (JSON has no bigint). */
export interface PeerRequest {
  readonly size: string;
  readonly markerOffset: string;
  readonly guestByteOffset: string;
  readonly guestByte: number;
  readonly punchOffset: string;
  readonly punchLength: string;
}

export interface PeerReport {
  readonly pid: number;
  readonly kind: string;
  readonly link: string;
  readonly size: string;
  readonly cloexec: boolean;
  readonly marker: number;
  readonly punchedByteBefore: number;
  readonly punchedByteAfter: number;
  readonly createGuestMemfdErrno: string;
  readonly bindErrno: string;
  readonly openFdsAtEnd: number;
}

function errnoOf(action: () => void): string {
  try {
    action();
    return "none";
  } catch (error) {
    return error instanceof KernelError ? error.errno : String(error);
  }
}

async function main(socketPath: string): Promise<void> {
  const kernel = new LinuxKernel();
  const connection = await kernel.connectSeqpacket(socketPath);
  try {
    const message = await connection.receive();
    if (message === null) throw new Error("the test closed the socket before sending");
    const request = JSON.parse(new TextDecoder().decode(message.payload)) as PeerRequest;
    const [gmem, vm] = message.fds;
    if (gmem === undefined || vm === undefined) throw new Error(`expected 2 fds, got ${message.fds.length}`);
    const size = BigInt(request.size);
    const identity = kernel.identifyFd(gmem);
    const map = kernel.mmap(gmem, 0n, size, "read-write");
    const punchOffset = BigInt(request.punchOffset);
    const marker = kernel.readMapped(map, BigInt(request.markerOffset), 1)[0] ?? -1;
    await fallocateChunked(kernel, gmem, FALLOCATE_POPULATE, { offset: 0n, length: size }, { parallelism: 4 });
    kernel.writeMapped(map, BigInt(request.guestByteOffset), new Uint8Array([request.guestByte]));
    kernel.writeMapped(map, punchOffset, new Uint8Array([0xcc]));
    const punchedByteBefore = kernel.readMapped(map, punchOffset, 1)[0] ?? -1;
    await kernel.fallocate(gmem, FALLOCATE_PUNCH, punchOffset, BigInt(request.punchLength));
    const punchedByteAfter = kernel.readMapped(map, punchOffset, 1)[0] ?? -1;
    const createGuestMemfdErrno = errnoOf(() => kernel.close(kernel.createGuestMemfd(vm, 2n << 20n, GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_INIT_SHARED)));
    const bindErrno = errnoOf(() => {
      kernel.setUserMemoryRegion2(vm, { slot: 5, flags: KVM_MEM_GUEST_MEMFD, guestPhysAddr: 1n << 30n, memorySize: 2n << 20n, userspaceAddr: map.address, guestMemfd: gmem, guestMemfdOffset: 0n });
    });
    kernel.munmap(map);
    kernel.close(gmem);
    kernel.close(vm);
    const report: PeerReport = {
      pid: process.pid,
      kind: identity.kind,
      link: identity.link,
      size: identity.size.toString(),
      cloexec: identity.cloexec,
      marker,
      punchedByteBefore,
      punchedByteAfter,
      createGuestMemfdErrno,
      bindErrno,
      openFdsAtEnd: kernel.openFds().length,
    };
    await connection.send(new TextEncoder().encode(JSON.stringify(report)));
    // Stay until the test has read the report and closed its end.
    await connection.receive();
  } finally {
    connection.close();
    kernel.release();
  }
}

const socketPath = process.argv[2];
if (socketPath === undefined) {
  process.stderr.write("usage: gmem-peer-child.ts SOCKET\n");
  process.exitCode = 2;
} else {
  main(socketPath).catch((error: unknown) => {
    process.stderr.write(`gmem-peer-child: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = 1;
  });
}
