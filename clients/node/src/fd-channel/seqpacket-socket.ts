/**
 * A connected AF_UNIX SOCK_SEQPACKET socket carrying fds in SCM_RIGHTS, driven by the Node event
 * loop through `koffi.node.poll` (libuv's uv_poll): `net.Socket({ fd })` refuses SEQPACKET.
 *
 * Ownership and lifetimes:
 * - the socket owns its fd (SOCK_CLOEXEC | SOCK_NONBLOCK) and its poll handle; `close()` frees
 *   both. An open poll handle at process exit can abort Node, so the owner must close.
 * - fds received (MSG_CMSG_CLOEXEC: close-on-exec from the first instant) belong to whoever
 *   `onMessage` hands them to.
 * - fds passed to `send` are borrowed: the kernel installs copies in the peer when sendmsg
 *   returns, so the caller may close its own at once after the promise resolves.
 *
 * The poll handle always watches for readability, so a daemon that goes away (the peer closes:
 * recvmsg returns 0) is noticed at once; it is `unref`'d while nothing is awaited, so an idle
 * channel does not keep the process alive, and `ref`'d while a reply is expected.
 */
import koffi from "koffi";
import {
  AF_UNIX,
  EAGAIN,
  EINTR,
  MSG_CMSG_CLOEXEC,
  MSG_CTRUNC,
  MSG_DONTWAIT,
  MSG_NOSIGNAL,
  MSG_TRUNC,
  SCM_RIGHTS,
  SOCK_CLOEXEC,
  SOCK_NONBLOCK,
  SOCK_SEQPACKET,
  SOL_SOCKET,
  addressOf,
  closeFd,
  errnoName,
  lastErrno,
  libc,
} from "./libc.ts";

/** Room for the largest fd channel message (64-byte header + 192 bytes of detail). */
const MAX_PAYLOAD_BYTES = 256;
/** The channel carries at most one fd per message; room for a few more so extras are seen and closed. */
const MAX_FDS = 4;
const MSGHDR_BYTES = 56;
const CMSG_HEADER_BYTES = 16;
const CONNECT_RETRY_MS = 10;
const CONNECT_RETRIES = 300;

const align8 = (n: number): number => (n + 7) & ~7;
/** A Buffer whose memory never moves (its own ArrayBuffer), safe to point to from a msghdr. */
const stableBuffer = (bytes: number): Buffer => Buffer.from(new ArrayBuffer(bytes));

export interface ReceivedMessage {
  readonly payload: Buffer;
  /** Owned by the receiver of the message. */
  readonly fds: readonly number[];
}

export interface SeqpacketHandlers {
  onMessage(message: ReceivedMessage): void;
  /** The connection ended: null for an orderly close by the peer, else the error. */
  onClose(error: Error | null): void;
}

/** Thrown by `connect` when nobody listens at the path (no socket file, connection refused). */
export class SeqpacketConnectError extends Error {
  readonly errno: number;
  constructor(path: string, errno: number) {
    super(`connect(${path}): ${errnoName(errno)}`);
    this.name = "SeqpacketConnectError";
    this.errno = errno;
  }
}

interface PollHandle {
  start(opts: { readable: boolean; writable: boolean }, callback: (...args: unknown[]) => void): void;
  stop(): void;
  close(): void;
  ref(): void;
  unref(): void;
}

/** struct msghdr (x86_64 / aarch64 layout) pointing at `iov` and `control`. */
function msghdr(iov: Buffer, control: Buffer | null): Buffer {
  const header = stableBuffer(MSGHDR_BYTES);
  header.writeBigUInt64LE(addressOf(iov), 16); // msg_iov
  header.writeBigUInt64LE(1n, 24); // msg_iovlen
  header.writeBigUInt64LE(control === null ? 0n : addressOf(control), 32); // msg_control
  header.writeBigUInt64LE(BigInt(control?.length ?? 0), 40); // msg_controllen
  return header;
}

function iovec(data: Buffer): Buffer {
  const iov = stableBuffer(16);
  iov.writeBigUInt64LE(addressOf(data), 0);
  iov.writeBigUInt64LE(BigInt(data.length), 8);
  return iov;
}

export class SeqpacketSocket {
  readonly path: string;
  readonly #fd: number;
  readonly #handlers: SeqpacketHandlers;
  readonly #poll: PollHandle;
  // recvmsg buffers, reused: the payload, its iovec, the control data and the header.
  readonly #inPayload = stableBuffer(MAX_PAYLOAD_BYTES);
  readonly #inIov = iovec(this.#inPayload);
  readonly #inControl = stableBuffer(CMSG_HEADER_BYTES + align8(4 * MAX_FDS));
  readonly #sendQueue: { payload: Uint8Array; fds: readonly number[]; resolve: () => void; reject: (e: Error) => void }[] = [];
  #wantWritable = false;
  #refs = 0;
  #closed = false;

  private constructor(path: string, fd: number, handlers: SeqpacketHandlers) {
    this.path = path;
    this.#fd = fd;
    this.#handlers = handlers;
    this.#poll = koffi.node.poll(fd, { readable: true, writable: false }, this.#onPoll);
    this.#poll.unref();
  }

  /** Connects to a listening SEQPACKET socket at `path`; retries while its backlog is full. */
  static async connect(path: string, handlers: SeqpacketHandlers): Promise<SeqpacketSocket> {
    const pathBytes = Buffer.from(path, "utf8");
    // sockaddr_un: sa_family_t, then sun_path[108] with its terminating NUL.
    if (pathBytes.length === 0 || pathBytes.length > 107) throw new RangeError(`socket path of ${pathBytes.length} bytes (at most 107): ${path}`);
    const address = stableBuffer(110);
    address.writeUInt16LE(AF_UNIX, 0);
    pathBytes.copy(address, 2);
    const fd = libc.socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd === -1) throw new Error(`socket(AF_UNIX, SOCK_SEQPACKET): ${errnoName(lastErrno())}`);
    try {
      for (let attempt = 0; ; attempt++) {
        const result = libc.connect(fd, address, 2 + pathBytes.length + 1);
        const errno = result === -1 ? lastErrno() : 0;
        if (result === 0) break;
        // A non-blocking connect to a unix socket whose backlog is full fails with EAGAIN.
        if ((errno !== EAGAIN && errno !== EINTR) || attempt >= CONNECT_RETRIES) throw new SeqpacketConnectError(path, errno);
        await new Promise((resolve) => setTimeout(resolve, CONNECT_RETRY_MS));
      }
      return new SeqpacketSocket(path, fd, handlers);
    } catch (error) {
      closeFd(fd);
      throw error;
    }
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Keeps the event loop alive while someone awaits a message (pair with `unhold`). */
  hold(): void {
    if (this.#closed) return;
    if (this.#refs++ === 0) this.#poll.ref();
  }

  unhold(): void {
    if (this.#closed || this.#refs === 0) return;
    if (--this.#refs === 0) this.#poll.unref();
  }

  /** Sends one datagram with `fds` (borrowed) in SCM_RIGHTS. */
  send(payload: Uint8Array, fds: readonly number[] = []): Promise<void> {
    if (this.#closed) return Promise.reject(new Error(`the fd channel connection to ${this.path} is closed`));
    return new Promise((resolve, reject) => {
      this.#sendQueue.push({ payload, fds, resolve, reject });
      this.#flush();
    });
  }

  /** Closes the socket and its poll handle; queued sends reject. Idempotent. */
  close(): void {
    this.#shutdown(null, false);
  }

  #shutdown(error: Error | null, notify: boolean): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#poll.close();
    closeFd(this.#fd);
    for (const s of this.#sendQueue.splice(0)) s.reject(error ?? new Error(`the fd channel connection to ${this.path} was closed`));
    if (notify) this.#handlers.onClose(error);
  }

  /** koffi calls back with (status, events); a libuv error status shows in the next recvmsg. */
  readonly #onPoll = (): void => {
    if (this.#closed) return;
    this.#flush();
    this.#drain();
  };

  #updatePoll(): void {
    const writable = this.#sendQueue.length > 0;
    if (writable === this.#wantWritable) return;
    this.#wantWritable = writable;
    this.#poll.start({ readable: true, writable }, this.#onPoll);
  }

  /** Sends what the socket takes now; waits for writability for the rest. */
  #flush(): void {
    while (!this.#closed && this.#sendQueue.length > 0) {
      const head = this.#sendQueue[0]!;
      const data = stableBuffer(head.payload.length);
      data.set(head.payload);
      const iov = iovec(data);
      let control: Buffer | null = null;
      if (head.fds.length > 0) {
        control = stableBuffer(CMSG_HEADER_BYTES + align8(4 * head.fds.length));
        control.writeBigUInt64LE(BigInt(CMSG_HEADER_BYTES + 4 * head.fds.length), 0); // cmsg_len = CMSG_LEN(n)
        control.writeInt32LE(SOL_SOCKET, 8);
        control.writeInt32LE(SCM_RIGHTS, 12);
        head.fds.forEach((fd, i) => control?.writeInt32LE(fd, CMSG_HEADER_BYTES + 4 * i));
      }
      const header = msghdr(iov, control);
      // MSG_NOSIGNAL: a vanished daemon is EPIPE, not a SIGPIPE that kills the VMM.
      const sent = libc.sendmsg(this.#fd, header, MSG_NOSIGNAL | MSG_DONTWAIT);
      const errno = sent === -1 ? lastErrno() : 0;
      if (sent === -1 && (errno === EAGAIN || errno === EINTR)) break;
      this.#sendQueue.shift();
      if (sent === -1) head.reject(new Error(`sendmsg(${this.path}): ${errnoName(errno)}`));
      else head.resolve();
    }
    if (!this.#closed) this.#updatePoll();
  }

  /** Reads every datagram there is; dispatches each; notices the peer's close. */
  #drain(): void {
    while (!this.#closed) {
      this.#inControl.fill(0);
      const header = msghdr(this.#inIov, this.#inControl);
      const received = libc.recvmsg(this.#fd, header, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
      const errno = received === -1 ? lastErrno() : 0;
      if (received === -1 && (errno === EAGAIN || errno === EINTR)) return;
      if (received === -1) {
        this.#shutdown(new Error(`recvmsg(${this.path}): ${errnoName(errno)}`), true);
        return;
      }
      // The fds are in our table as soon as recvmsg returns: collect them before any check.
      const fds = this.#receivedFds(header);
      const flags = header.readInt32LE(48);
      if (received === 0 && fds.length === 0) {
        this.#shutdown(null, true);
        return;
      }
      if ((flags & (MSG_TRUNC | MSG_CTRUNC)) !== 0) {
        for (const fd of fds) closeFd(fd);
        this.#shutdown(new Error(`recvmsg(${this.path}): a message from the daemon was truncated (msg_flags 0x${flags.toString(16)})`), true);
        return;
      }
      this.#handlers.onMessage({ payload: Buffer.from(this.#inPayload.subarray(0, received)), fds });
    }
  }

  #receivedFds(header: Buffer): number[] {
    const controlLength = Number(header.readBigUInt64LE(40));
    const fds: number[] = [];
    for (let at = 0; at + CMSG_HEADER_BYTES <= controlLength; ) {
      const length = Number(this.#inControl.readBigUInt64LE(at));
      if (length < CMSG_HEADER_BYTES) break;
      if (this.#inControl.readInt32LE(at + 8) === SOL_SOCKET && this.#inControl.readInt32LE(at + 12) === SCM_RIGHTS) {
        for (let i = CMSG_HEADER_BYTES; i + 4 <= length; i += 4) fds.push(this.#inControl.readInt32LE(at + i));
      }
      at += align8(length);
    }
    return fds;
  }
}
