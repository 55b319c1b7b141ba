/**
 * What an fd of the fake kernel points at (the fake's `struct file`): a VM, a guest_memfd or a
 * memfd. Reference-counted like a struct file: each fd-table entry, each mapping and each
 * message in flight on a socket holds one reference; the last `put` releases the object, which
 * is when the kernel frees a file's memory (kvm_gmem_release / shmem_evict_inode).
 */
import { type KernelErrno, KernelError } from "@gmempool/sys";

/** Inode numbers of fake files: unique per fake host process lifetime, like st_ino on one device. */
let nextInode = 1n;

export abstract class FakeFileObject {
  abstract readonly kind: "vm" | "guest_memfd" | "memfd" | "pidfd";
  /** st_ino: identifies the open file description's inode, so two fds of one file compare equal. */
  readonly inode = nextInode++;
  #refs = 0;
  #onRelease: ((object: FakeFileObject) => void) | undefined;

  /** Called once, when the last reference goes (the host uses it for its list of live files). */
  onRelease(callback: (object: FakeFileObject) => void): void {
    this.#onRelease = callback;
  }

  get refs(): number {
    return this.#refs;
  }

  get(): this {
    this.#refs++;
    return this;
  }

  put(): void {
    if (this.#refs <= 0) throw new Error(`${this.kind}: reference count underflow`);
    if (--this.#refs === 0) {
      this.released();
      this.#onRelease?.(this);
    }
  }

  /** The last reference is gone. */
  protected abstract released(): void;

  /** Bytes of memory the object holds (0 for a VM). */
  abstract get populatedBytes(): bigint;

  /** One line for leak reports. */
  abstract describe(): string;
}

/** Throws the KernelError a failing syscall would give. */
export function fail(syscall: string, errno: KernelErrno, detail?: string): never {
  throw new KernelError(syscall, errno, detail === undefined ? {} : { detail });
}

export const hex = (value: bigint): string => `0x${value.toString(16)}`;
