/**
 * AF_UNIX SOCK_SEQPACKET sockets with SCM_RIGHTS, driven by the event loop (FdPoller): the fd
 * side channel of DESIGN.md §6, the kernel port's listener and connections. The syscalls and
 * their rules (SOCK_NONBLOCK | SOCK_CLOEXEC, MSG_CMSG_CLOEXEC, MSG_NOSIGNAL) are
 * @gmempool/sys's, shared with the client library's end; the queues and SO_PEERCRED are here.
 */
import { rmSync } from "node:fs";
import {
  asFd,
  check,
  connectSeqpacket as connectSeqpacketFd,
  errnoNumber,
  type Fd,
  FdPoller,
  IncomingMessageBuffers,
  KernelError,
  kernelError,
  lastErrno,
  libc,
  OutgoingMessage,
  recvSeqpacket,
  seqpacketAddress,
  seqpacketSocket,
  sendSeqpacket,
  SO_PEERCRED,
  SOCK_CLOEXEC,
  SOCK_NONBLOCK,
  SOL_SOCKET,
  stableBuffer,
  ucred,
} from "@gmempool/sys";
import {
  SEQPACKET_MAX_FDS,
  SEQPACKET_MAX_PAYLOAD_BYTES,
  type PeerCredentials,
  type SeqpacketConnection,
  type SeqpacketListener,
  type SeqpacketMessage,
} from "./kernel-port.ts";

const EAGAIN = errnoNumber("EAGAIN");
const EINTR = errnoNumber("EINTR");
const ECONNABORTED = errnoNumber("ECONNABORTED");
const LISTEN_BACKLOG = 128;

/** What the connection reports to its port: fds it received (now owned by the caller). */
export interface FdTracker {
  adopt(fd: Fd): Fd;
}

/** SO_PEERCRED of a connected unix socket. */
export function peerCredentials(fd: Fd): PeerCredentials {
  const value = stableBuffer(ucred.size);
  const length = stableBuffer(4);
  length.writeUInt32LE(ucred.size, 0);
  check(libc.getsockopt(fd, SOL_SOCKET, SO_PEERCRED, value, length), "getsockopt(SO_PEERCRED)");
  return { pid: value.readInt32LE(0), uid: value.readUInt32LE(4), gid: value.readUInt32LE(8) };
}

interface PendingSend {
  readonly message: OutgoingMessage;
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
}

/**
 * One connected SEQPACKET socket. Owns its fd. Receives and sends are queued and served in
 * order; the poller watches only for what a queued operation waits on.
 */
export class LinuxSeqpacketConnection implements SeqpacketConnection {
  readonly peer: PeerCredentials;
  readonly #fd: Fd;
  readonly #tracker: FdTracker;
  readonly #poller: FdPoller;
  readonly #incoming = new IncomingMessageBuffers(SEQPACKET_MAX_PAYLOAD_BYTES, SEQPACKET_MAX_FDS);
  readonly #receivers: { resolve: (m: SeqpacketMessage | null) => void; reject: (e: Error) => void }[] = [];
  readonly #sends: PendingSend[] = [];
  #closed = false;
  #ended = false;

  constructor(fd: Fd, tracker: FdTracker) {
    this.#fd = fd;
    this.#tracker = tracker;
    this.peer = peerCredentials(fd);
    this.#poller = new FdPoller(fd, () => {
      this.#pump();
    });
  }

  send(payload: Uint8Array, fds: readonly Fd[] = []): Promise<void> {
    if (payload.length === 0) return Promise.reject(new RangeError("SEQPACKET payload must not be empty: a zero-length read means end of stream"));
    if (payload.length > SEQPACKET_MAX_PAYLOAD_BYTES) return Promise.reject(new RangeError(`SEQPACKET payload of ${payload.length} bytes exceeds ${SEQPACKET_MAX_PAYLOAD_BYTES}`));
    if (fds.length > SEQPACKET_MAX_FDS) return Promise.reject(new RangeError(`${fds.length} fds in one message exceed ${SEQPACKET_MAX_FDS}`));
    if (this.#closed) return Promise.reject(new KernelError("sendmsg", "EBADF", { detail: "connection closed" }));
    return new Promise((resolve, reject) => {
      this.#sends.push({ message: new OutgoingMessage(payload, fds), resolve, reject });
      this.#pump();
    });
  }

  receive(): Promise<SeqpacketMessage | null> {
    if (this.#closed || this.#ended) return Promise.resolve(null);
    return new Promise((resolve, reject) => {
      this.#receivers.push({ resolve, reject });
      this.#pump();
    });
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#poller.close();
    libc.close(this.#fd);
    for (const r of this.#receivers.splice(0)) r.resolve(null);
    for (const s of this.#sends.splice(0)) s.reject(new KernelError("sendmsg", "EBADF", { detail: "connection closed before the message was sent" }));
  }

  /** Does every queued operation the socket is ready for, then waits for what is left. */
  #pump(): void {
    while (!this.#closed && this.#sends.length > 0 && this.#trySend()) {
      // sent one; try the next
    }
    while (!this.#closed && this.#receivers.length > 0 && this.#tryReceive()) {
      // received one; try the next
    }
    if (!this.#closed) this.#poller.want(this.#receivers.length > 0, this.#sends.length > 0);
  }

  /** True when the head send finished (sent or failed); false when the socket is full. */
  #trySend(): boolean {
    const head = this.#sends[0];
    if (head === undefined) return false;
    let sent: boolean;
    try {
      sent = sendSeqpacket(this.#fd, head.message);
    } catch (error) {
      this.#sends.shift();
      head.reject(error instanceof Error ? error : new Error(String(error)));
      return true;
    }
    if (!sent) return false;
    this.#sends.shift();
    head.resolve();
    return true;
  }

  /** True when the head receive was settled; false when nothing is there yet. */
  #tryReceive(): boolean {
    if (this.#receivers.length === 0) return false;
    let received;
    try {
      received = recvSeqpacket(this.#fd, this.#incoming);
    } catch (error) {
      this.#receivers.shift()?.reject(error instanceof Error ? error : new Error(String(error)));
      return true;
    }
    if (received.kind === "again") return false;
    const head = this.#receivers.shift();
    if (head === undefined) throw new Error("unreachable: a receiver was queued");
    switch (received.kind) {
      case "end":
        this.#ended = true;
        head.resolve(null);
        for (const r of this.#receivers.splice(0)) r.resolve(null);
        return true;
      case "truncated": {
        // A truncated message is refused whole: nobody can use the fds that did arrive (the
        // kernel discarded the rest), so they are closed here, never handed on (issue 12: a
        // tenant sending 40 fds per datagram exhausted the daemon's fd table).
        for (const fd of received.fds) libc.close(fd);
        head.reject(new KernelError("recvmsg", "EMSGSIZE", { detail: `message truncated (msg_flags 0x${received.flags.toString(16)}); the ${received.fds.length} fds that arrived were closed` }));
        return true;
      }
      case "message":
        head.resolve({ payload: received.payload, fds: received.fds.map((fd) => this.#tracker.adopt(fd)) });
        return true;
    }
  }
}

/** A bound, listening SEQPACKET socket. Owns its fd and its socket file. */
export class LinuxSeqpacketListener implements SeqpacketListener {
  readonly path: string;
  readonly #fd: Fd;
  readonly #tracker: FdTracker;
  readonly #poller: FdPoller;
  readonly #acceptors: { resolve: (c: SeqpacketConnection | null) => void; reject: (e: Error) => void }[] = [];
  #closed = false;

  constructor(path: string, tracker: FdTracker) {
    this.path = path;
    this.#tracker = tracker;
    const { address, length } = seqpacketAddress(path);
    const fd = seqpacketSocket();
    try {
      check(libc.bind(fd, address, length), "bind", path);
      check(libc.listen(fd, LISTEN_BACKLOG), "listen", path);
    } catch (error) {
      libc.close(fd);
      throw error;
    }
    this.#fd = fd;
    this.#poller = new FdPoller(fd, () => {
      this.#pump();
    });
  }

  accept(): Promise<SeqpacketConnection | null> {
    if (this.#closed) return Promise.resolve(null);
    return new Promise((resolve, reject) => {
      this.#acceptors.push({ resolve, reject });
      this.#pump();
    });
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#poller.close();
    libc.close(this.#fd);
    rmSync(this.path, { force: true });
    for (const a of this.#acceptors.splice(0)) a.resolve(null);
  }

  #pump(): void {
    while (!this.#closed && this.#acceptors.length > 0) {
      const fd = libc.accept4(this.#fd, null, null, SOCK_NONBLOCK | SOCK_CLOEXEC);
      const errno = fd === -1 ? lastErrno() : 0;
      if (fd === -1 && (errno === EAGAIN || errno === EINTR || errno === ECONNABORTED)) break;
      const head = this.#acceptors.shift();
      if (head === undefined) break;
      if (fd === -1) {
        head.reject(kernelError("accept4", errno, this.path));
        continue;
      }
      try {
        head.resolve(new LinuxSeqpacketConnection(asFd(fd), this.#tracker));
      } catch (error) {
        libc.close(fd);
        head.reject(error instanceof Error ? error : new Error(String(error)));
      }
    }
    if (!this.#closed) this.#poller.want(this.#acceptors.length > 0, false);
  }
}

/** Connects to a listener at `path`; retries while its backlog is full (EAGAIN). */
export async function connectSeqpacket(path: string, tracker: FdTracker): Promise<SeqpacketConnection> {
  const fd = await connectSeqpacketFd(path);
  try {
    return new LinuxSeqpacketConnection(fd, tracker);
  } catch (error) {
    libc.close(fd);
    throw error;
  }
}
