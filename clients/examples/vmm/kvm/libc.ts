/**
 * The libc calls the example VMM makes, bound with koffi 3 in their C spelling. The VMM's own
 * small binding: clients import nothing from src/ (DESIGN.md §4), so this repeats what the
 * daemon's src/kvm/libc.ts learnt, for the few calls a VMM needs.
 *
 * Rules (STYLE.md, koffi 3):
 *  - callers check for -1 with `check()` (syscall-error.ts), which reads koffi.errno() on the
 *    very next statement;
 *  - ioctl and fcntl are variadic in C: every call passes an explicit third argument type
 *    ("void *" for a struct Buffer, "unsigned long" for an integer), as koffi requires;
 *  - mmap returns `void *` as a bigint, and failure is MAP_FAILED = 2^64 - 1, never null;
 *  - pointers are a Buffer (koffi passes its memory; the kernel may write into it) or a bigint
 *    address.
 */
import koffi, { type KoffiFunc } from "koffi";

const lib = koffi.load("libc.so.6");

type Pointer = Buffer | bigint | null;

export const MAP_FAILED = 0xffffffffffffffffn;

// <sys/mman.h>, <fcntl.h> on Linux x86_64.
export const PROT_READ = 0x1;
export const PROT_WRITE = 0x2;
export const MAP_SHARED = 0x01;
export const F_GETFD = 1;
export const F_SETFD = 2;
export const FD_CLOEXEC = 1;
export const MFD_CLOEXEC = 0x1;
/** The kernel's base page: mmap offsets and mincore addresses are multiples of it. */
export const PAGE_BYTES = 4096n;

export const libc = {
  close: lib.func("int close(int fd)") as KoffiFunc<(fd: number) => number>,
  ioctl: lib.func("int ioctl(int fd, unsigned long request, ...)") as KoffiFunc<
    (fd: number, request: number, argType: "void *" | "unsigned long", arg: Pointer | number) => number
  >,
  fcntl: lib.func("int fcntl(int fd, int cmd, ...)") as KoffiFunc<(fd: number, cmd: number, argType: "int", arg: number) => number>,
  mmap: lib.func("void *mmap(void *addr, size_t length, int prot, int flags, int fd, int64_t offset)") as KoffiFunc<
    (addr: Pointer, length: bigint, prot: number, flags: number, fd: number, offset: bigint) => bigint
  >,
  munmap: lib.func("int munmap(void *addr, size_t length)") as KoffiFunc<(addr: bigint, length: bigint) => number>,
  mincore: lib.func("int mincore(void *addr, size_t length, void *vec)") as KoffiFunc<(addr: bigint, length: bigint, vec: Buffer) => number>,
  /** For the tests of host-mapping.ts: a file to map without a daemon. */
  memfd_create: lib.func("int memfd_create(const char *name, unsigned int flags)") as KoffiFunc<(name: string, flags: number) => number>,
};
