/**
 * The libc calls the fd channel needs, bound with koffi 3 in the kernel's spelling so that a
 * grep from a man page lands here. The client library's own small binding: it shares nothing
 * with the daemon's (DESIGN.md §4, clients import nothing from src/).
 *
 * Rules (koffi 3.3, checked on this project's machines): read `koffi.errno()` on the very next
 * statement after a call that returned -1; variadic fcntl takes an explicit argument type;
 * pointers inside a msghdr are addresses of Buffers whose memory never moves (each backed by
 * its own ArrayBuffer) and that stay referenced while the call runs.
 */
import koffi, { type KoffiFunc } from "koffi";

const lib = koffi.load("libc.so.6");

export const libc = {
  socket: lib.func("int socket(int domain, int type, int protocol)") as KoffiFunc<(domain: number, type: number, protocol: number) => number>,
  connect: lib.func("int connect(int fd, void *addr, uint32_t addrlen)") as KoffiFunc<(fd: number, addr: Buffer, addrlen: number) => number>,
  sendmsg: lib.func("intptr_t sendmsg(int fd, void *msg, int flags)") as KoffiFunc<(fd: number, msg: Buffer, flags: number) => number>,
  recvmsg: lib.func("intptr_t recvmsg(int fd, void *msg, int flags)") as KoffiFunc<(fd: number, msg: Buffer, flags: number) => number>,
  close: lib.func("int close(int fd)") as KoffiFunc<(fd: number) => number>,
  fcntl: lib.func("int fcntl(int fd, int cmd, ...)") as KoffiFunc<(fd: number, cmd: number, argType: "int", arg: number) => number>,
};

/** errno of the libc call that just returned on this thread. */
export function lastErrno(): number {
  return koffi.errno();
}

/** The address of a Buffer's memory, for pointer fields inside structs. */
export function addressOf(buffer: Buffer): bigint {
  return koffi.address(buffer);
}

// <sys/socket.h>, <fcntl.h>, <errno.h> on Linux x86_64 / aarch64.
export const AF_UNIX = 1;
export const SOCK_SEQPACKET = 5;
export const SOCK_NONBLOCK = 0o4000;
export const SOCK_CLOEXEC = 0o2000000;
export const SOL_SOCKET = 1;
export const SCM_RIGHTS = 1;
export const MSG_CTRUNC = 0x8;
export const MSG_TRUNC = 0x20;
export const MSG_DONTWAIT = 0x40;
export const MSG_NOSIGNAL = 0x4000;
export const MSG_CMSG_CLOEXEC = 0x40000000;
export const F_GETFD = 1;
export const F_SETFD = 2;
export const F_DUPFD_CLOEXEC = 1030;
export const FD_CLOEXEC = 1;
export const EINTR = 4;
export const EAGAIN = 11;
export const EBADF = 9;
export const ENOENT = 2;
export const ECONNREFUSED = 111;

const ERRNO_NAMES: Readonly<Record<number, string>> = {
  1: "EPERM", 2: "ENOENT", 4: "EINTR", 9: "EBADF", 11: "EAGAIN", 12: "ENOMEM", 13: "EACCES", 22: "EINVAL",
  24: "EMFILE", 32: "EPIPE", 36: "ENAMETOOLONG", 90: "EMSGSIZE", 104: "ECONNRESET", 107: "ENOTCONN", 111: "ECONNREFUSED",
};

/** "ECONNREFUSED (111)". */
export function errnoName(errno: number): string {
  return `${ERRNO_NAMES[errno] ?? "errno"} (${errno})`;
}

/**
 * A dup of `fd` that is close-on-exec (F_DUPFD_CLOEXEC): what the client keeps of an arena's
 * file so that it can send it again after a daemon restart. The caller owns the result.
 */
export function dupCloexec(fd: number): number {
  const dup = libc.fcntl(fd, F_DUPFD_CLOEXEC, "int", 0);
  if (dup === -1) throw new Error(`fcntl(${fd}, F_DUPFD_CLOEXEC): ${errnoName(lastErrno())}`);
  return dup;
}

/** Sets FD_CLOEXEC on `fd` (borrowed). */
export function setCloexec(fd: number): void {
  const flags = libc.fcntl(fd, F_GETFD, "int", 0);
  if (flags === -1 || libc.fcntl(fd, F_SETFD, "int", flags | FD_CLOEXEC) === -1) throw new Error(`fcntl(${fd}, F_SETFD, FD_CLOEXEC): ${errnoName(lastErrno())}`);
}

/** True if `fd` is an open file descriptor of this process (F_GETFD succeeds). */
export function isOpenFd(fd: number): boolean {
  return Number.isInteger(fd) && fd >= 0 && libc.fcntl(fd, F_GETFD, "int", 0) !== -1;
}

/** True if `fd` has FD_CLOEXEC set. */
export function isCloexec(fd: number): boolean {
  const flags = libc.fcntl(fd, F_GETFD, "int", 0);
  if (flags === -1) throw new Error(`fcntl(${fd}, F_GETFD): ${errnoName(lastErrno())}`);
  return (flags & FD_CLOEXEC) !== 0;
}

/** close(2), for fds the library owns. Errors other than EBADF are ignored (Linux closes anyway). */
export function closeFd(fd: number): void {
  libc.close(fd);
}
