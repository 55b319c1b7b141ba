/**
 * The syscalls of an AF_UNIX SOCK_SEQPACKET socket carrying fds in SCM_RIGHTS, one call each
 * and non-blocking: what the daemon's kernel port (its listener and connections, DESIGN.md §6)
 * and the client library's fd channel both do (SO_PEERCRED is the daemon's alone:
 * src/kvm/seqpacket.ts). Who waits for readiness (FdPoller) and queues
 * the sends and receives is theirs.
 *
 * Rules for both ends: every socket is SOCK_NONBLOCK | SOCK_CLOEXEC; every received fd is
 * close-on-exec from the first instant (MSG_CMSG_CLOEXEC); sends use MSG_NOSIGNAL, so a
 * vanished peer is EPIPE, not a SIGPIPE that kills the process.
 */
import { asFd, type Fd } from "./fd.ts";
import { errnoNumber } from "./errno-names.ts";
import {
  AF_UNIX,
  MSG_CMSG_CLOEXEC,
  MSG_CTRUNC,
  MSG_DONTWAIT,
  MSG_NOSIGNAL,
  MSG_TRUNC,
  SOCK_CLOEXEC,
  SOCK_NONBLOCK,
  SOCK_SEQPACKET,
} from "./kernel-constants.ts";
import { KernelError } from "./kernel-error.ts";
import { lastErrno, libc } from "./libc.ts";
import { stableBuffer, type IncomingMessageBuffers, type OutgoingMessage } from "./scm-rights.ts";
import { sockaddr_un } from "./structs.ts";
import { check, kernelError } from "./syscall-check.ts";

const EAGAIN = errnoNumber("EAGAIN");
const EINTR = errnoNumber("EINTR");
/** A full listener backlog makes a non-blocking unix connect() fail with EAGAIN: retry this long. */
const CONNECT_RETRY_MS = 10;
const CONNECT_RETRIES = 300;

/** struct sockaddr_un for `path` and the length to pass with it. */
export function seqpacketAddress(path: string): { readonly address: Buffer; readonly length: number } {
  const bytes = Buffer.from(path, "utf8");
  // sun_path holds 108 bytes including the terminating NUL.
  if (bytes.length === 0 || bytes.length > 107) throw new KernelError("bind", "ENAMETOOLONG", { detail: `socket path of ${bytes.length} bytes (at most 107): ${path}` });
  const address = stableBuffer(sockaddr_un.size);
  address.writeUInt16LE(AF_UNIX, 0);
  bytes.copy(address, 2);
  return { address, length: 2 + bytes.length + 1 };
}

/** socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC). The caller owns the fd. */
export function seqpacketSocket(): Fd {
  return asFd(check(libc.socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), "socket(AF_UNIX, SOCK_SEQPACKET)"));
}

/**
 * A new socket connected to the listener at `path`; retries while its backlog is full (EAGAIN).
 * Fails with KernelError("connect", errno): ENOENT or ECONNREFUSED when nobody listens there.
 * The caller owns the fd.
 */
export async function connectSeqpacket(path: string): Promise<Fd> {
  const { address, length } = seqpacketAddress(path);
  const fd = seqpacketSocket();
  try {
    for (let attempt = 0; ; attempt++) {
      const result = libc.connect(fd, address, length);
      const errno = result === -1 ? lastErrno() : 0;
      if (result === 0) return fd;
      if ((errno !== EAGAIN && errno !== EINTR) || attempt >= CONNECT_RETRIES) throw kernelError("connect", errno, path);
      await new Promise((resolve) => setTimeout(resolve, CONNECT_RETRY_MS));
    }
  } catch (error) {
    libc.close(fd);
    throw error;
  }
}

/**
 * One non-blocking sendmsg of `message` on `fd` (borrowed): true when sent, false when the
 * socket is full (EAGAIN, EINTR: wait for writability and call again); any other errno throws
 * KernelError("sendmsg(SCM_RIGHTS)").
 */
export function sendSeqpacket(fd: number, message: OutgoingMessage): boolean {
  const sent = libc.sendmsg(fd, message.header, MSG_NOSIGNAL | MSG_DONTWAIT);
  const errno = sent === -1 ? lastErrno() : 0;
  if (sent !== -1) return true;
  if (errno === EAGAIN || errno === EINTR) return false;
  throw kernelError("sendmsg(SCM_RIGHTS)", errno);
}

/**
 * What one recvmsg found. The fds of "message" and "truncated" were installed in this process
 * by the kernel and are the caller's from the moment recvSeqpacket returns, whatever it does
 * with the message.
 */
export type ReceivedSeqpacket =
  /** Nothing there yet (EAGAIN, EINTR): wait for readability. */
  | { readonly kind: "again" }
  /** The peer closed the connection (a zero-length read with no fds). */
  | { readonly kind: "end" }
  | { readonly kind: "message"; readonly payload: Uint8Array; readonly fds: readonly Fd[] }
  /** The payload or the control data did not fit the buffers (MSG_TRUNC, MSG_CTRUNC). */
  | { readonly kind: "truncated"; readonly flags: number; readonly fds: readonly Fd[] };

/**
 * One non-blocking recvmsg on `fd` (borrowed) into `buffers`; an errno other than EAGAIN and
 * EINTR throws KernelError("recvmsg"). Nothing can throw after recvmsg returned fds, so none
 * leak.
 */
export function recvSeqpacket(fd: number, buffers: IncomingMessageBuffers): ReceivedSeqpacket {
  buffers.reset();
  const received = libc.recvmsg(fd, buffers.header, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
  const errno = received === -1 ? lastErrno() : 0;
  if (received === -1) {
    if (errno === EAGAIN || errno === EINTR) return { kind: "again" };
    throw kernelError("recvmsg", errno);
  }
  const fds = buffers.fds();
  const flags = buffers.flags();
  if (received === 0 && fds.length === 0) return { kind: "end" };
  if ((flags & (MSG_TRUNC | MSG_CTRUNC)) !== 0) return { kind: "truncated", flags, fds };
  return { kind: "message", payload: buffers.payload(received), fds };
}
