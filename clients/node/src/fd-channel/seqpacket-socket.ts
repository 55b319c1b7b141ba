/**
 * A connected AF_UNIX SOCK_SEQPACKET socket carrying fds in SCM_RIGHTS, driven by the Node event
 * loop through @gmempool/sys's FdPoller (libuv's uv_poll): `net.Socket({ fd })` refuses
 * SEQPACKET. The syscalls and their rules (non-blocking, close-on-exec, MSG_NOSIGNAL, the
 * SCM_RIGHTS layout) are @gmempool/sys's, shared with the daemon's end; the send queue, the
 * dispatch of messages and the event-loop reference are this client's.
 *
 * Ownership and lifetimes:
 * - the socket owns its fd (SOCK_CLOEXEC | SOCK_NONBLOCK) and its poll handle; `close()` frees
 *   both. An open poll handle at process exit can abort Node, so the owner must close.
 * - fds received (MSG_CMSG_CLOEXEC: close-on-exec from the first instant) belong to whoever
 *   `onMessage` hands them to.
 * - fds passed to `send` are borrowed: the kernel installs copies in the peer when sendmsg
 *   returns, so the caller may close its own at once after the promise resolves.
 *
 * The poller always watches for readability, so a daemon that goes away (the peer closes:
 * recvmsg returns 0) is noticed at once; it does not keep the process alive while nothing is
 * awaited (an idle channel must not), and does while a reply is expected (`hold`).
 */
import {
  closeFd,
  connectSeqpacket,
  type Fd,
  FdPoller,
  IncomingMessageBuffers,
  isKernelError,
  KernelError,
  OutgoingMessage,
  recvSeqpacket,
  sendSeqpacket,
} from "@gmempool/sys";

/** Room for the largest fd channel message (64-byte header + 192 bytes of detail). */
const MAX_PAYLOAD_BYTES = 256;
/** The channel carries at most one fd per message; room for a few more so extras are seen and closed. */
const MAX_FDS = 4;

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

/** A KernelError of this socket's, naming its path. */
function onPath(error: unknown, path: string): Error {
  if (isKernelError(error)) return new KernelError(error.syscall, error.errno, { detail: path, cause: error });
  return error instanceof Error ? error : new Error(String(error));
}

export class SeqpacketSocket {
  readonly path: string;
  readonly #fd: Fd;
  readonly #handlers: SeqpacketHandlers;
  readonly #poller: FdPoller;
  readonly #incoming = new IncomingMessageBuffers(MAX_PAYLOAD_BYTES, MAX_FDS);
  readonly #sendQueue: { message: OutgoingMessage; resolve: () => void; reject: (e: Error) => void }[] = [];
  #refs = 0;
  #closed = false;

  private constructor(path: string, fd: Fd, handlers: SeqpacketHandlers) {
    this.path = path;
    this.#fd = fd;
    this.#handlers = handlers;
    this.#poller = new FdPoller(fd, this.#onPoll);
    this.#poller.keepAlive(false);
    this.#poller.want(true, false);
  }

  /**
   * Connects to a listening SEQPACKET socket at `path`; retries while its backlog is full. Fails
   * with KernelError("connect"): ENOENT or ECONNREFUSED when nobody listens there.
   */
  static async connect(path: string, handlers: SeqpacketHandlers): Promise<SeqpacketSocket> {
    const fd = await connectSeqpacket(path);
    try {
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
    if (this.#refs++ === 0) this.#poller.keepAlive(true);
  }

  unhold(): void {
    if (this.#closed || this.#refs === 0) return;
    if (--this.#refs === 0) this.#poller.keepAlive(false);
  }

  /** Sends one datagram with `fds` (borrowed) in SCM_RIGHTS. */
  send(payload: Uint8Array, fds: readonly number[] = []): Promise<void> {
    if (this.#closed) return Promise.reject(new Error(`the fd channel connection to ${this.path} is closed`));
    return new Promise((resolve, reject) => {
      this.#sendQueue.push({ message: new OutgoingMessage(payload, fds), resolve, reject });
      this.#flush();
    });
  }

  /** Closes the socket and its poller; queued sends reject. Idempotent. */
  close(): void {
    this.#shutdown(null, false);
  }

  #shutdown(error: Error | null, notify: boolean): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#poller.close();
    closeFd(this.#fd);
    for (const s of this.#sendQueue.splice(0)) s.reject(error ?? new Error(`the fd channel connection to ${this.path} was closed`));
    if (notify) this.#handlers.onClose(error);
  }

  /** A libuv error status shows in the next recvmsg. */
  readonly #onPoll = (): void => {
    if (this.#closed) return;
    this.#flush();
    this.#drain();
  };

  /** Sends what the socket takes now; waits for writability for the rest. */
  #flush(): void {
    while (!this.#closed && this.#sendQueue.length > 0) {
      const head = this.#sendQueue[0]!;
      let sent: boolean;
      try {
        sent = sendSeqpacket(this.#fd, head.message);
      } catch (error) {
        this.#sendQueue.shift();
        head.reject(onPath(error, this.path));
        continue;
      }
      if (!sent) break;
      this.#sendQueue.shift();
      head.resolve();
    }
    if (!this.#closed) this.#poller.want(true, this.#sendQueue.length > 0);
  }

  /** Reads every datagram there is; dispatches each; notices the peer's close. */
  #drain(): void {
    while (!this.#closed) {
      let received;
      try {
        received = recvSeqpacket(this.#fd, this.#incoming);
      } catch (error) {
        this.#shutdown(onPath(error, this.path), true);
        return;
      }
      switch (received.kind) {
        case "again":
          return;
        case "end":
          this.#shutdown(null, true);
          return;
        case "truncated":
          for (const fd of received.fds) closeFd(fd);
          this.#shutdown(new Error(`recvmsg(${this.path}): a message from the daemon was truncated (msg_flags 0x${received.flags.toString(16)})`), true);
          return;
        case "message":
          this.#handlers.onMessage({ payload: Buffer.from(received.payload), fds: received.fds });
      }
    }
  }
}
