/**
 * The VMM's own mapping of an arena's file (the guest_memfd, or the memfd the daemon delivered):
 * how the VMM reads and writes guest memory, and, in KVM mode, the `userspace_addr` of its
 * memslots (KERNEL.md §4: the mapping of the SAME guest_memfd range). Owns the mapping, not the
 * fd (a MAP_SHARED mapping keeps its file alive by itself; the fd may be closed first).
 *
 * Access copies through short-lived koffi views of exactly the bytes asked for: no ArrayBuffer
 * over this memory outlives a call, so nothing can touch it after `unmap()`.
 */
import koffi from "koffi";
import { check, errnoName, KernelError, lastErrno, libc, MAP_FAILED, MAP_SHARED, PROT_READ, PROT_WRITE } from "@gmempool/sys";
import { PAGE_BYTES } from "../../node/src/units.ts";

const hex = (n: bigint): string => `0x${n.toString(16)}`;

export class HostMapping {
  /** Where the file's byte 0 is mapped in this process. */
  readonly address: bigint;
  readonly sizeBytes: bigint;
  #mapped = true;

  private constructor(address: bigint, sizeBytes: bigint) {
    this.address = address;
    this.sizeBytes = sizeBytes;
  }

  /**
   * mmap(MAP_SHARED, read-write) of bytes [0, sizeBytes) of `fd` (borrowed). A guest_memfd maps
   * only if created with GUEST_MEMFD_FLAG_MMAP (kvm_gmem_mmap: else ENODEV) and only MAP_SHARED;
   * without GUEST_MEMFD_FLAG_INIT_SHARED every access would be SIGBUS (KERNEL.md §4).
   */
  static map(fd: number, sizeBytes: bigint): HostMapping {
    const address = libc.mmap(null, sizeBytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0n);
    if (address === MAP_FAILED) {
      const errno = lastErrno();
      throw new KernelError("mmap(MAP_SHARED)", errnoName(errno), { detail: `fd ${fd}, ${sizeBytes} bytes` });
    }
    return new HostMapping(address, sizeBytes);
  }

  /** Copies `data` into the file at `offset`. */
  write(offset: bigint, data: Uint8Array): void {
    this.#check(offset, BigInt(data.length));
    if (data.length === 0) return;
    new Uint8Array(koffi.view(this.address + offset, data.length)).set(data);
  }

  /** A copy of `length` bytes of the file at `offset`. */
  read(offset: bigint, length: number): Uint8Array {
    this.#check(offset, BigInt(length));
    if (length === 0) return new Uint8Array(0);
    return new Uint8Array(koffi.view(this.address + offset, length).slice(0));
  }

  /**
   * How many of the 4 KiB pages of [offset, offset + length) are in the file's page cache
   * (mincore(2); for a shared file mapping it looks the file up, mincore_page, whether or not
   * this process ever touched the page). Asks without faulting anything in: the way to see that
   * the daemon populated a range (fallocate) or punched it, without undoing the punch.
   */
  residentPages(offset: bigint, length: bigint): number {
    this.#check(offset, length);
    if (offset % PAGE_BYTES !== 0n || length % PAGE_BYTES !== 0n) throw new RangeError(`mincore range ${hex(offset)}+${hex(length)} is not 4 KiB aligned`);
    const vector = Buffer.alloc(Number(length / PAGE_BYTES));
    check(libc.mincore(this.address + offset, length, vector), "mincore", `${hex(offset)}+${hex(length)}`);
    return vector.reduce((sum, byte) => sum + (byte & 1), 0);
  }

  unmap(): void {
    if (!this.#mapped) return;
    this.#mapped = false;
    check(libc.munmap(this.address, this.sizeBytes), "munmap", hex(this.address));
  }

  #check(offset: bigint, length: bigint): void {
    if (!this.#mapped) throw new Error("the mapping is gone (unmap)");
    if (offset < 0n || length < 0n || offset + length > this.sizeBytes) throw new RangeError(`range ${hex(offset)}+${hex(length)} outside a mapping of ${hex(this.sizeBytes)}`);
  }
}
