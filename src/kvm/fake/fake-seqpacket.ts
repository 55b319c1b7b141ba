/**
 * SOCK_SEQPACKET with SCM_RIGHTS between fake processes: an in-process pair of queues. A sent
 * fd takes a reference on its file for the time it is in flight (like an skb holding a struct
 * file); the receiver's fd table then adopts that reference with close-on-exec set
 * (MSG_CMSG_CLOEXEC). Messages never received are dropped with their references when the
 * receiving end closes (unix_release purges the queue).
 */
import { type Fd, type KernelErrno, KernelError } from "@gmempool/sys";
import type { FakeFileObject } from "./fake-file-object.ts";
import {
  SEQPACKET_MAX_FDS,
  SEQPACKET_MAX_PAYLOAD_BYTES,
  type FdAccess,
  type PeerCredentials,
  type SeqpacketConnection,
  type SeqpacketListener,
  type SeqpacketMessage,
} from "../kernel-port.ts";

/** What a fake socket needs from the process that owns it (implemented by FakeKernel). */
export interface FakeSocketOwner {
  readonly credentials: PeerCredentials;
  /** The file behind `fd`, or EBADF as a KernelError naming `syscall`. */
  fileForFd(fd: Fd, syscall: string): FakeFileObject;
  /** Installs a file whose reference the caller hands over; returns the new (cloexec) fd. */
  adoptFile(file: FakeFileObject, access?: FdAccess): Fd;
  /** The access mode of `fd`, which SCM_RIGHTS carries with the file. */
  accessOf(fd: Fd): FdAccess;
  /** Throws the injected failure for `op`, if one is queued. */
  injected(op: "send" | "receive" | "accept" | "connectSeqpacket", syscall: string): void;
  forgetSocket(socket: { close(): void }): void;
}

interface InFlight {
  readonly payload: Uint8Array;
  readonly files: readonly { readonly file: FakeFileObject; readonly access: FdAccess }[];
}

export class FakeSeqpacketConnection implements SeqpacketConnection {
  readonly peer: PeerCredentials;
  readonly #owner: FakeSocketOwner;
  #other: FakeSeqpacketConnection | null = null;
  readonly #queue: InFlight[] = [];
  readonly #receivers: ((message: SeqpacketMessage | null) => void)[] = [];
  #closed = false;
  #peerClosed = false;

  constructor(owner: FakeSocketOwner, peer: PeerCredentials) {
    this.#owner = owner;
    this.peer = peer;
  }

  /** Connects two ends. */
  static pair(a: FakeSeqpacketConnection, b: FakeSeqpacketConnection): void {
    a.#other = b;
    b.#other = a;
  }

  send(payload: Uint8Array, fds: readonly Fd[] = []): Promise<void> {
    if (payload.length === 0) return Promise.reject(new RangeError("SEQPACKET payload must not be empty: a zero-length read means end of stream"));
    if (payload.length > SEQPACKET_MAX_PAYLOAD_BYTES) return Promise.reject(new RangeError(`SEQPACKET payload of ${payload.length} bytes exceeds ${SEQPACKET_MAX_PAYLOAD_BYTES}`));
    if (fds.length > SEQPACKET_MAX_FDS) return Promise.reject(new RangeError(`${fds.length} fds in one message exceed ${SEQPACKET_MAX_FDS}`));
    try {
      this.#owner.injected("send", "sendmsg(SCM_RIGHTS)");
      if (this.#closed) throw new KernelError("sendmsg", "EBADF", { detail: "connection closed" });
      const other = this.#other;
      // unix_dgram_sendmsg / unix_stream_sendmsg: a peer that is gone is EPIPE (MSG_NOSIGNAL: no SIGPIPE).
      if (other === null || this.#peerClosed || other.#closed) throw new KernelError("sendmsg(SCM_RIGHTS)", "EPIPE");
      // scm_fp_copy: every fd must be open in the sender (EBADF); each file gains a reference.
      const files = fds.map((fd) => this.#owner.fileForFd(fd, "sendmsg(SCM_RIGHTS)"));
      other.#deliver({ payload: payload.slice(), files: files.map((f, i) => ({ file: f.get(), access: this.#owner.accessOf(fds[i]!) })) });
      return Promise.resolve();
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
  }

  #deliver(message: InFlight): void {
    const receiver = this.#receivers.shift();
    if (receiver === undefined) this.#queue.push(message);
    else receiver(this.#install(message));
  }

  #install(message: InFlight): SeqpacketMessage {
    return { payload: message.payload, fds: message.files.map(({ file, access }) => this.#owner.adoptFile(file, access)) };
  }

  receive(): Promise<SeqpacketMessage | null> {
    try {
      this.#owner.injected("receive", "recvmsg");
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
    if (this.#closed) return Promise.resolve(null);
    const next = this.#queue.shift();
    if (next !== undefined) return Promise.resolve(this.#install(next));
    if (this.#peerClosed) return Promise.resolve(null);
    return new Promise((resolve) => this.#receivers.push(resolve));
  }

  #peerGone(): void {
    this.#peerClosed = true;
    if (this.#queue.length === 0) for (const r of this.#receivers.splice(0)) r(null);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const message of this.#queue.splice(0)) for (const { file } of message.files) file.put();
    for (const r of this.#receivers.splice(0)) r(null);
    if (this.#other !== null) this.#other.#peerGone();
    this.#owner.forgetSocket(this);
  }

  /** Messages queued and not yet received (for leak checks). */
  get queued(): number {
    return this.#queue.length;
  }
}

export class FakeSeqpacketListener implements SeqpacketListener {
  readonly path: string;
  readonly #owner: FakeSocketOwner;
  readonly #onClose: () => void;
  readonly #backlog: FakeSeqpacketConnection[] = [];
  readonly #acceptors: ((connection: SeqpacketConnection | null) => void)[] = [];
  #closed = false;

  constructor(path: string, owner: FakeSocketOwner, onClose: () => void) {
    this.path = path;
    this.#owner = owner;
    this.#onClose = onClose;
  }

  /** A client connects: its end is returned, ours waits in the backlog until accepted. */
  connectFrom(client: FakeSocketOwner): FakeSeqpacketConnection {
    // SO_PEERCRED: each end sees the credentials of the other process as of connect()/listen().
    const serverEnd = new FakeSeqpacketConnection(this.#owner, client.credentials);
    const clientEnd = new FakeSeqpacketConnection(client, this.#owner.credentials);
    FakeSeqpacketConnection.pair(serverEnd, clientEnd);
    const acceptor = this.#acceptors.shift();
    if (acceptor === undefined) this.#backlog.push(serverEnd);
    else acceptor(serverEnd);
    return clientEnd;
  }

  accept(): Promise<SeqpacketConnection | null> {
    try {
      this.#owner.injected("accept", "accept4");
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
    if (this.#closed) return Promise.resolve(null);
    const next = this.#backlog.shift();
    if (next !== undefined) return Promise.resolve(next);
    return new Promise((resolve) => this.#acceptors.push(resolve));
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    // Connections never accepted are reset: their clients read end of stream.
    for (const pending of this.#backlog.splice(0)) pending.close();
    for (const a of this.#acceptors.splice(0)) a(null);
    this.#onClose();
    this.#owner.forgetSocket(this);
  }
}

/** The errno a connect() to `path` gets when nothing listens there (the socket file is gone). */
export const CONNECT_NO_LISTENER: KernelErrno = "ENOENT";
