/**
 * koffi 3 bindings of the libc calls gmempool makes — the daemon's kernel port, the client
 * library's fd channel and the example VMM — with their C names and typed signatures, bound once
 * (libc.so.6 is loaded once per process). Nothing here interprets results: callers check for -1
 * (`check`, syscall-check.ts) and read `koffi.errno()` on the very next statement (any JS in
 * between may run a syscall that overwrites errno).
 *
 * Conventions:
 *  - pointers are `void *`: a Buffer (koffi passes its memory, and the kernel may write into it)
 *    or a bigint address (mmap results, `koffi.address(buffer)` of a live Buffer);
 *  - ioctl and fcntl are variadic in C and are called with an explicit third argument type
 *    (`"void *"`, `"unsigned long"`, `"int"`), as koffi requires for variadic calls;
 *  - `fallocate` and `madvise` also have `.async` variants (koffi runs them on the libuv
 *    threadpool); the daemon's src/kvm/async-syscall.ts reads their errno inside the completion callback, where koffi
 *    3.2+ restores the worker thread's errno.
 *  - mmap returns `void *`, a bigint; failure is MAP_FAILED = 2^64 - 1, not null.
 */
import koffi, { type KoffiFunc } from "koffi";

const lib = koffi.load("libc.so.6");

type Pointer = Buffer | bigint | null;

export const MAP_FAILED = 0xffffffffffffffffn;

export const libc = {
  close: lib.func("int close(int fd)") as KoffiFunc<(fd: number) => number>,
  ioctl: lib.func("int ioctl(int fd, unsigned long request, ...)") as KoffiFunc<
    (fd: number, request: number, argType: "void *" | "unsigned long", arg: Pointer | number) => number
  >,
  fcntl: lib.func("int fcntl(int fd, int cmd, ...)") as KoffiFunc<(fd: number, cmd: number, argType: "int", arg: number) => number>,
  fallocate: lib.func("int fallocate(int fd, int mode, int64_t offset, int64_t len)") as KoffiFunc<
    (fd: number, mode: number, offset: bigint, length: bigint) => number
  >,
  ftruncate: lib.func("int ftruncate(int fd, int64_t length)") as KoffiFunc<(fd: number, length: bigint) => number>,
  memfd_create: lib.func("int memfd_create(const char *name, unsigned int flags)") as KoffiFunc<(name: string, flags: number) => number>,
  fstat: lib.func("int fstat(int fd, void *statbuf)") as KoffiFunc<(fd: number, statbuf: Buffer) => number>,
  mmap: lib.func("void *mmap(void *addr, size_t length, int prot, int flags, int fd, int64_t offset)") as KoffiFunc<
    (addr: Pointer, length: bigint, prot: number, flags: number, fd: number, offset: bigint) => bigint
  >,
  munmap: lib.func("int munmap(void *addr, size_t length)") as KoffiFunc<(addr: bigint, length: bigint) => number>,
  mincore: lib.func("int mincore(void *addr, size_t length, void *vec)") as KoffiFunc<(addr: bigint, length: bigint, vec: Buffer) => number>,
  madvise: lib.func("int madvise(void *addr, size_t length, int advice)") as KoffiFunc<(addr: bigint, length: bigint, advice: number) => number>,
  process_vm_readv: lib.func(
    "intptr_t process_vm_readv(int pid, void *local_iov, unsigned long liovcnt, void *remote_iov, unsigned long riovcnt, unsigned long flags)",
  ) as KoffiFunc<(pid: number, local: Buffer, liovcnt: number, remote: Buffer, riovcnt: number, flags: number) => number>,
  process_vm_writev: lib.func(
    "intptr_t process_vm_writev(int pid, void *local_iov, unsigned long liovcnt, void *remote_iov, unsigned long riovcnt, unsigned long flags)",
  ) as KoffiFunc<(pid: number, local: Buffer, liovcnt: number, remote: Buffer, riovcnt: number, flags: number) => number>,
  socket: lib.func("int socket(int domain, int type, int protocol)") as KoffiFunc<(domain: number, type: number, protocol: number) => number>,
  bind: lib.func("int bind(int fd, void *addr, uint32_t addrlen)") as KoffiFunc<(fd: number, addr: Buffer, addrlen: number) => number>,
  listen: lib.func("int listen(int fd, int backlog)") as KoffiFunc<(fd: number, backlog: number) => number>,
  accept4: lib.func("int accept4(int fd, void *addr, void *addrlen, int flags)") as KoffiFunc<
    (fd: number, addr: null, addrlen: null, flags: number) => number
  >,
  connect: lib.func("int connect(int fd, void *addr, uint32_t addrlen)") as KoffiFunc<(fd: number, addr: Buffer, addrlen: number) => number>,
  sendmsg: lib.func("intptr_t sendmsg(int fd, void *msg, int flags)") as KoffiFunc<(fd: number, msg: Buffer, flags: number) => number>,
  recvmsg: lib.func("intptr_t recvmsg(int fd, void *msg, int flags)") as KoffiFunc<(fd: number, msg: Buffer, flags: number) => number>,
  getsockopt: lib.func("int getsockopt(int fd, int level, int optname, void *optval, void *optlen)") as KoffiFunc<
    (fd: number, level: number, optname: number, optval: Buffer, optlen: Buffer) => number
  >,
  pidfd_open: lib.func("int pidfd_open(int pid, unsigned int flags)") as KoffiFunc<(pid: number, flags: number) => number>,
  /** poll(2) on an array of struct pollfd { int fd; short events; short revents; } (8 bytes each). */
  poll: lib.func("int poll(void *fds, unsigned long nfds, int timeout)") as KoffiFunc<(fds: Buffer, nfds: number, timeout: number) => number>,
  /** clock_gettime(2) into a struct timespec { int64 tv_sec; long tv_nsec; } (16 bytes). */
  clock_gettime: lib.func("int clock_gettime(int clockid, void *tp)") as KoffiFunc<(clockid: number, tp: Buffer) => number>,
};

/** The errno of the libc call that just returned on this thread (see the file comment). */
export function lastErrno(): number {
  return koffi.errno();
}
