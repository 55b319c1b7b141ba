/**
 * The client side of the fd channel protocol (docs/api.md "The fd channel") over one
 * SeqpacketSocket connection: SEND_FD / RECEIVE_FD / CANCEL requests, each with a fresh
 * `sequence`, matched to their replies through a map of pending requests; FD_DELIVERY messages
 * matched to the RECEIVE_FD whose sequence they echo (fd-delivery.ts).
 *
 * Ownership:
 * - fds passed to `sendFd` are borrowed (the kernel installs a copy in the daemon).
 * - a delivered fd belongs to its FdDelivery; one that matches nothing is closed at once, as is
 *   any fd on a message that should carry none.
 * - the connection belongs to this object; `close()` (or the daemon closing it) fails every
 *   pending request and delivery. Tokens are bound to the connection: when it closes, the
 *   daemon revokes them, so a new connection starts with none.
 *
 * Invariants: every pending request's sequence is below `#nextSequence`; a pending entry exists
 * only while its reply has not come; the socket is held (keeps the event loop alive) exactly
 * while something is pending.
 */
import { errorForStatus, InternalError, NotFoundError, UnavailableError, type PoolError } from "../pool-errors.ts";
import type { FdType } from "../resources.ts";
import { remainingMs } from "../deadline.ts";
import { FdDelivery } from "./fd-delivery.ts";
import type { FdChannel, SentFd } from "./fd-channel.ts";
import { FD_CHANNEL_VERSION, FD_MESSAGE_KIND, FD_MESSAGE_MAGIC } from "@gmempool/contract";
import { decodeFdReply, encodeFdRequest, FD_TYPE_NUMBER_BY_NAME, type FdReply } from "./fd-message.ts";
import { closeFd, isKernelError } from "@gmempool/sys";
import { SeqpacketSocket, type ReceivedMessage } from "./seqpacket-socket.ts";


interface PendingRequest {
  readonly kind: number;
  readonly operation: string;
  readonly resolve: (reply: FdReply) => void;
  readonly reject: (error: PoolError) => void;
  readonly timer: NodeJS.Timeout;
}

const FD_TYPE_BY_NUMBER = new Map<number, FdType>(Object.entries(FD_TYPE_NUMBER_BY_NAME).map(([name, n]) => [n, name as FdType]));
const REPLY_KIND: Readonly<Record<number, number>> = {
  [FD_MESSAGE_KIND.SEND_FD]: FD_MESSAGE_KIND.SEND_FD_REPLY,
  [FD_MESSAGE_KIND.RECEIVE_FD]: FD_MESSAGE_KIND.RECEIVE_FD_REPLY,
  [FD_MESSAGE_KIND.CANCEL]: FD_MESSAGE_KIND.CANCEL_REPLY,
};

export interface FdChannelClientOptions {
  /** Called once when the connection ends by the daemon's doing (not by `close()`). */
  readonly onClose?: (error: Error | null) => void;
}

export class FdChannelClient implements FdChannel {
  readonly path: string;
  readonly #socket: SeqpacketSocket;
  readonly #pending = new Map<bigint, PendingRequest>();
  /** Expected deliveries by the sequence of their RECEIVE_FD. */
  readonly #deliveries = new Map<bigint, FdDelivery>();
  readonly #onClose: ((error: Error | null) => void) | undefined;
  #nextSequence = 1n;
  #closed = false;

  private constructor(path: string, socket: SeqpacketSocket, onClose: ((error: Error | null) => void) | undefined) {
    this.path = path;
    this.#socket = socket;
    this.#onClose = onClose;
  }

  /** Connects; an absent or refusing socket is UnavailableError (unreachable) naming the path. */
  static async connect(path: string, options: FdChannelClientOptions = {}): Promise<FdChannelClient> {
    let client: FdChannelClient | undefined;
    try {
      const socket = await SeqpacketSocket.connect(path, {
        onMessage: (message) => {
          if (client !== undefined) client.#onMessage(message);
          else for (const fd of message.fds) closeFd(fd);
        },
        onClose: (error) => {
          if (client !== undefined) client.#onSocketClose(error);
        },
      });
      client = new FdChannelClient(path, socket, options.onClose);
      return client;
    } catch (error) {
      const unreachable = isKernelError(error, "ENOENT") || isKernelError(error, "ECONNREFUSED");
      throw new UnavailableError(`cannot connect to the fd channel at ${path}: ${error instanceof Error ? error.message : String(error)}`, { operation: "fd channel connect", cause: error, unreachable });
    }
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** SEND_FD: `fd` (borrowed) claimed to be `fdType`; resolves with the token, rejects with the daemon's error. */
  async sendFd(fd: number, fdType: FdType, deadline: number): Promise<SentFd> {
    const reply = await this.#request({ kind: FD_MESSAGE_KIND.SEND_FD, fdType: FD_TYPE_NUMBER_BY_NAME[fdType] }, [fd], deadline, "fd channel SEND_FD");
    const verified = FD_TYPE_BY_NUMBER.get(reply.fdType);
    if (verified === undefined) throw new InternalError(`the daemon verified the fd as fd_type ${reply.fdType}, which this client does not know`, { operation: "fd channel SEND_FD" });
    return { token: reply.token, fdType: verified, sizeBytes: reply.sizeBytes };
  }

  /** RECEIVE_FD: a token and the delivery that will bring its fd (take it or abandon it). */
  async receiveFd(deadline: number): Promise<FdDelivery> {
    const sequence = this.#nextSequence;
    const reply = await this.#request({ kind: FD_MESSAGE_KIND.RECEIVE_FD }, [], deadline, "fd channel RECEIVE_FD");
    const delivery = new FdDelivery(reply.token);
    this.#deliveries.set(sequence, delivery);
    return delivery;
  }

  /** Forgets a delivery (after take or abandon). */
  forget(delivery: FdDelivery): void {
    for (const [sequence, d] of this.#deliveries) if (d === delivery) this.#deliveries.delete(sequence);
  }

  /** CANCEL: revokes a pending token; resolves false if the daemon had no such token (used, expired). */
  async cancel(token: Buffer, deadline: number): Promise<boolean> {
    try {
      await this.#request({ kind: FD_MESSAGE_KIND.CANCEL, token }, [], deadline, "fd channel CANCEL");
      return true;
    } catch (error) {
      if (error instanceof NotFoundError) return false;
      throw error;
    }
  }

  /** Closes the connection; pending requests and deliveries fail with UnavailableError. Idempotent. */
  close(): void {
    this.#shutdown(new UnavailableError("the fd channel connection was closed by the client", { operation: "fd channel" }));
    this.#socket.close();
  }

  #request(fields: { kind: number; fdType?: number; token?: Buffer }, fds: readonly number[], deadline: number, operation: string): Promise<FdReply> {
    if (this.#closed) return Promise.reject(new UnavailableError(`the fd channel connection to ${this.path} is closed`, { operation }));
    const sequence = this.#nextSequence++;
    return new Promise<FdReply>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#settle(sequence);
        reject(errorForStatus(4, `no reply from the daemon on the fd channel before the deadline`, { operation }));
      }, remainingMs(deadline));
      this.#pending.set(sequence, { kind: fields.kind, operation, resolve, reject, timer });
      this.#socket.hold();
      this.#socket.send(encodeFdRequest({ ...fields, sequence }), fds).catch((error: unknown) => {
        if (this.#settle(sequence) === undefined) return;
        reject(new UnavailableError(`cannot send on the fd channel: ${error instanceof Error ? error.message : String(error)}`, { operation, cause: error }));
      });
    });
  }

  /** Removes a pending request (its reply came, or it failed); undefined if it was not pending. */
  #settle(sequence: bigint): PendingRequest | undefined {
    const pending = this.#pending.get(sequence);
    if (pending === undefined) return undefined;
    this.#pending.delete(sequence);
    clearTimeout(pending.timer);
    this.#socket.unhold();
    return pending;
  }

  #onMessage(message: ReceivedMessage): void {
    let reply: FdReply;
    try {
      reply = decodeFdReply(message.payload);
    } catch (error) {
      for (const fd of message.fds) closeFd(fd);
      this.#fatal(`the daemon sent an undecodable message: ${error instanceof Error ? error.message : String(error)}`);
      return;
    }
    if (reply.magic !== FD_MESSAGE_MAGIC) {
      for (const fd of message.fds) closeFd(fd);
      this.#fatal(`the daemon sent a message with magic 0x${reply.magic.toString(16)}`);
      return;
    }
    if (reply.kind === FD_MESSAGE_KIND.FD_DELIVERY) {
      this.#onDelivery(reply, message.fds);
      return;
    }
    for (const fd of message.fds) closeFd(fd); // replies carry no fds
    if (reply.kind === FD_MESSAGE_KIND.UNSPECIFIED) {
      // A framing error: the daemon closes the connection after this reply (docs/api.md).
      this.#fatal(`the daemon refused a message as badly framed (status ${reply.status}): ${reply.detail}`);
      return;
    }
    const pending = this.#pending.get(reply.sequence);
    if (pending === undefined || REPLY_KIND[pending.kind] !== reply.kind) return; // a reply to a request that timed out
    this.#settle(reply.sequence);
    if (reply.status !== 0) {
      const detail = reply.status === 12 ? `${reply.detail} (this client speaks version ${FD_CHANNEL_VERSION}, the daemon ${reply.version})` : reply.detail;
      pending.reject(errorForStatus(reply.status, detail, { operation: pending.operation }));
    } else {
      pending.resolve(reply);
    }
  }

  #onDelivery(reply: FdReply, fds: readonly number[]): void {
    const [fd, ...extra] = fds;
    for (const e of extra) closeFd(e);
    if (fd === undefined) return;
    const delivery = this.#deliveries.get(reply.sequence);
    const fdType = FD_TYPE_BY_NUMBER.get(reply.fdType);
    if (delivery === undefined || !delivery.token.equals(reply.token) || fdType === undefined) {
      closeFd(fd);
      return;
    }
    delivery.deliver({ fd, fdType, sizeBytes: reply.sizeBytes });
  }

  /** The daemon broke the protocol (or we could not read it): give up on this connection. */
  #fatal(why: string): void {
    if (this.#closed) return;
    const error = new UnavailableError(`fd channel ${this.path}: ${why}`, { operation: "fd channel" });
    this.#shutdown(error);
    this.#socket.close();
    this.#onClose?.(error);
  }

  #onSocketClose(error: Error | null): void {
    if (this.#closed) return;
    const why = error === null ? "the daemon closed the fd channel connection" : `the fd channel connection failed: ${error.message}`;
    this.#shutdown(new UnavailableError(why, { operation: "fd channel", cause: error ?? undefined, unreachable: true }));
    this.#onClose?.(error);
  }

  #shutdown(error: PoolError): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const sequence of [...this.#pending.keys()]) this.#settle(sequence)?.reject(error);
    for (const delivery of this.#deliveries.values()) delivery.fail(error);
    this.#deliveries.clear();
  }
}
