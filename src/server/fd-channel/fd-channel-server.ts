/**
 * The fd channel server: an AF_UNIX SOCK_SEQPACKET listener (fd.sock in the runtime
 * directory) speaking the framing of fd_channel.proto, so that fds cross between VMMs and the
 * daemon in SCM_RIGHTS only, joined to gRPC calls by tokens (fd-token-table.ts).
 *
 * Per connection, messages are handled one at a time in arrival order; every request gets
 * exactly one reply carrying its `sequence`. The channel never blocks the daemon: a reply or
 * delivery that the socket cannot take within `sendTimeoutMs` (the client is not reading) closes
 * the connection, revoking its tokens.
 *
 * Ownership: every fd received with a message belongs to this server until it is handed to a
 * SEND_FD token (which then owns it) — every other received fd is closed before the reply is
 * sent. Delivered fds are borrowed from the daemon (the kernel duplicates them into the message).
 */
import { chmodSync, existsSync } from "node:fs";
import { status } from "@grpc/grpc-js";
import type { Logger } from "pino";
import { type FdInspection, type FdType, type FdInspector } from "../../daemon/pool-service.ts";
import { GmempoolError } from "../../pool/errors.ts";
import { type Fd, isKernelError } from "@gmempool/sys";
import type { KernelPort, SeqpacketConnection, SeqpacketListener, SeqpacketMessage } from "../../kvm/kernel-port.ts";
import { statusForError } from "../error-status.ts";
import { FD_CHANNEL_VERSION, FD_MESSAGE_KIND, FD_TYPE_NUMBER } from "@gmempool/contract";
import { decodeFdRequest, encodeFdMessage, type FdMessage, type FdMessageFields } from "./fd-message.ts";
import type { FdTokenTable } from "./fd-token-table.ts";

/** FdType number on the wire -> the daemon's spelling. */
export const FD_TYPE_BY_NUMBER: ReadonlyMap<number, FdType> = new Map<number, FdType>([
  [FD_TYPE_NUMBER.GUEST_MEMFD, "guest_memfd"],
  [FD_TYPE_NUMBER.MEMFD_SHMEM, "memfd_shmem"],
  [FD_TYPE_NUMBER.MEMFD_HUGETLB, "memfd_hugetlb"],
  [FD_TYPE_NUMBER.PIDFD, "pidfd"],
]);

export function fdTypeNumber(type: FdType): number {
  switch (type) {
    case "guest_memfd":
      return FD_TYPE_NUMBER.GUEST_MEMFD;
    case "memfd_shmem":
      return FD_TYPE_NUMBER.MEMFD_SHMEM;
    case "memfd_hugetlb":
      return FD_TYPE_NUMBER.MEMFD_HUGETLB;
    case "pidfd":
      return FD_TYPE_NUMBER.PIDFD;
  }
}

/** A reply or delivery the peer's socket cannot take in this time closes the connection. */
export const DEFAULT_FD_SEND_TIMEOUT_MS = 1000;

export interface FdChannelServerOptions {
  readonly path: string;
  readonly kernel: Pick<KernelPort, "listenSeqpacket" | "close">;
  readonly service: FdInspector;
  readonly tokens: FdTokenTable;
  readonly logger: Logger;
  readonly sendTimeoutMs?: number;
  /** File mode of the socket (default 0o660); chmod'ed right after bind. */
  readonly mode?: number;
  /** Connections one uid may hold open (default 64): past it a connection is closed at once (issue 12). */
  readonly maxConnectionsPerUid?: number;
}

/** fd channel connections one uid may hold open: a VMM needs one; 64 leaves room for many VMMs of one uid. */
export const DEFAULT_MAX_FD_CONNECTIONS_PER_UID = 64;

interface ChannelConnection {
  readonly id: number;
  readonly socket: SeqpacketConnection;
  closed: boolean;
}

class SendTimeout extends Error {
  constructor(ms: number) {
    super(`the peer did not take the message within ${ms} ms (socket buffer full)`);
    this.name = "SendTimeout";
  }
}

export class FdChannelServer {
  readonly path: string;
  readonly #kernel: Pick<KernelPort, "listenSeqpacket" | "close">;
  readonly #service: FdInspector;
  readonly #tokens: FdTokenTable;
  readonly #logger: Logger;
  readonly #sendTimeoutMs: number;
  readonly #mode: number;
  readonly #maxConnectionsPerUid: number;
  readonly #connections = new Map<number, ChannelConnection>();
  readonly #serving = new Set<Promise<void>>();
  #listener: SeqpacketListener | null = null;
  #acceptLoop: Promise<void> | null = null;
  #nextConnectionId = 1;

  constructor(options: FdChannelServerOptions) {
    this.path = options.path;
    this.#kernel = options.kernel;
    this.#service = options.service;
    this.#tokens = options.tokens;
    this.#logger = options.logger;
    this.#sendTimeoutMs = options.sendTimeoutMs ?? DEFAULT_FD_SEND_TIMEOUT_MS;
    this.#mode = options.mode ?? 0o660;
    this.#maxConnectionsPerUid = options.maxConnectionsPerUid ?? DEFAULT_MAX_FD_CONNECTIONS_PER_UID;
  }

  get connectionCount(): number {
    return this.#connections.size;
  }

  /** Binds the socket (the path must not exist) and starts accepting. */
  listen(): void {
    if (this.#listener !== null) throw new Error("fd channel: already listening");
    const listener = this.#kernel.listenSeqpacket(this.path);
    this.#listener = listener;
    // The fake kernel's sockets live in memory, not in the file system: nothing to chmod.
    if (existsSync(this.path)) chmodSync(this.path, this.#mode);
    this.#acceptLoop = this.#accept(listener);
  }

  /** Stops accepting, closes every connection (revoking its tokens), unlinks the socket. */
  async close(): Promise<void> {
    this.#listener?.close();
    for (const connection of this.#connections.values()) this.#closeConnection(connection);
    await this.#acceptLoop;
    await Promise.all([...this.#serving]);
  }

  async #accept(listener: SeqpacketListener): Promise<void> {
    for (;;) {
      let socket: SeqpacketConnection | null;
      try {
        socket = await listener.accept();
      } catch (error) {
        // accept4 failing (EMFILE, ENOBUFS) is transient for the listener: log and go on.
        this.#logger.warn({ err: error }, "fd channel: accept failed");
        await new Promise((resolve) => setTimeout(resolve, 50));
        continue;
      }
      if (socket === null) return;
      const uid = socket.peer.uid;
      const limit = this.#maxConnectionsPerUid;
      let ofUid = 0;
      for (const c of this.#connections.values()) if (c.socket.peer.uid === uid) ofUid++;
      if (ofUid >= limit) {
        this.#logger.warn({ uid, open: ofUid, limit }, "fd channel: connection refused: the uid holds the most connections allowed");
        socket.close();
        continue;
      }
      const connection: ChannelConnection = { id: this.#nextConnectionId++, socket, closed: false };
      this.#connections.set(connection.id, connection);
      this.#logger.debug({ connection: connection.id, peer: socket.peer }, "fd channel: connection");
      const serving = this.#serve(connection).finally(() => this.#serving.delete(serving));
      this.#serving.add(serving);
    }
  }

  async #serve(connection: ChannelConnection): Promise<void> {
    try {
      while (!connection.closed) {
        let message: SeqpacketMessage | null;
        try {
          message = await connection.socket.receive();
        } catch (error) {
          // The port reports a truncated datagram (MSG_TRUNC / MSG_CTRUNC) as EMSGSIZE.
          if (isKernelError(error, "EMSGSIZE")) await this.#framingError(connection, `message truncated: ${error.message}`);
          else this.#logger.warn({ err: error, connection: connection.id }, "fd channel: receive failed");
          return;
        }
        if (message === null) return;
        try {
          await this.#handle(connection, message);
        } catch (error) {
          // A bug here must cost this connection, never the daemon (an unhandled rejection).
          this.#logger.error({ err: error, connection: connection.id }, "fd channel: handling a message failed; connection closed");
          return;
        }
      }
    } finally {
      this.#closeConnection(connection);
    }
  }

  #closeConnection(connection: ChannelConnection): void {
    if (connection.closed) return;
    connection.closed = true;
    this.#tokens.revokeConnection(connection.id);
    connection.socket.close();
    this.#connections.delete(connection.id);
  }

  /** Closes received fds that nobody took. */
  #closeFds(fds: readonly Fd[]): void {
    for (const fd of fds) this.#kernel.close(fd);
  }

  async #handle(connection: ChannelConnection, received: SeqpacketMessage): Promise<void> {
    const decoded = decodeFdRequest(received.payload);
    if ("framingError" in decoded) {
      this.#closeFds(received.fds);
      await this.#framingError(connection, decoded.framingError);
      return;
    }
    const request = decoded.message;
    // The fds still ours to close: #answer empties it once it hands them on (a token owns them
    // from issueSend on, also when issueSend refuses: it closes them itself).
    const held = { fds: received.fds };
    let reply: FdMessageFields;
    try {
      reply = this.#answer(connection, request, held);
      held.fds = []; // #answer took them (or closed them)
    } catch (error) {
      const failure = statusForError(error);
      this.#closeFds(held.fds);
      reply = { kind: replyKind(request.kind), status: failure.code, detail: failure.details, sequence: request.sequence };
    }
    await this.#send(connection, encodeFdMessage(reply));
  }

  /**
   * The reply to one well-framed request; throws GmempoolError for request-level errors. Takes
   * `fds`: on return they are owned by a token or closed; on a throw the caller closes them.
   */
  #answer(connection: ChannelConnection, request: FdMessage, held: { fds: readonly Fd[] }): FdMessageFields {
    const fds = held.fds;
    const kind = replyKind(request.kind);
    if (request.version !== FD_CHANNEL_VERSION) {
      this.#closeFds(fds);
      return { kind, version: FD_CHANNEL_VERSION, status: status.UNIMPLEMENTED, sequence: request.sequence, detail: `fd channel version ${request.version} is not supported; this daemon speaks version ${FD_CHANNEL_VERSION}` };
    }
    if (request.flags !== 0 || request.reserved !== 0n) throw invalid(`flags (0x${request.flags.toString(16)}) and reserved (0x${request.reserved.toString(16)}) must be 0`);
    if (request.status !== 0) throw invalid(`status must be 0 in a request, got ${request.status}`);
    const owner = { connectionId: connection.id, uid: connection.socket.peer.uid, pid: connection.socket.peer.pid };
    switch (request.kind) {
      case FD_MESSAGE_KIND.SEND_FD: {
        if (fds.length !== 1) throw invalid(`SEND_FD carries exactly one fd in SCM_RIGHTS, got ${fds.length}`);
        const claimed = FD_TYPE_BY_NUMBER.get(request.fdType);
        if (claimed === undefined) throw invalid(`fd_type ${request.fdType} is not an FdType (1 guest_memfd, 2 shmem memfd, 3 hugetlb memfd, 4 pidfd)`);
        const fd = fds[0]!;
        const inspection: FdInspection = this.#service.inspectFd(fd, claimed);
        // From here the token table owns the fd (it closes it itself if it refuses the token).
        held.fds = [];
        const token = this.#tokens.issueSend(owner, fd, inspection);
        return { kind, sequence: request.sequence, token, fdType: fdTypeNumber(inspection.fdType), sizeBytes: inspection.sizeBytes };
      }
      case FD_MESSAGE_KIND.RECEIVE_FD: {
        if (fds.length !== 0) throw invalid(`RECEIVE_FD carries no fds, got ${fds.length}`);
        if (request.fdType !== 0) throw invalid(`RECEIVE_FD has fd_type 0, got ${request.fdType}`);
        const sequence = request.sequence;
        const token = this.#tokens.issueReceive(owner, (fd, info) =>
          this.#deliver(connection, { kind: FD_MESSAGE_KIND.FD_DELIVERY, sequence, token, fdType: fdTypeNumber(info.fdType), sizeBytes: info.sizeBytes }, fd),
        );
        return { kind, sequence, token };
      }
      case FD_MESSAGE_KIND.CANCEL: {
        if (fds.length !== 0) throw invalid(`CANCEL carries no fds, got ${fds.length}`);
        if (!this.#tokens.cancel(connection.id, request.token)) {
          return { kind, sequence: request.sequence, status: status.NOT_FOUND, detail: "no pending token of this connection matches (unknown, expired, used or in use)" };
        }
        return { kind, sequence: request.sequence };
      }
      default:
        throw invalid(`kind ${request.kind} is not a request (SEND_FD 1, RECEIVE_FD 3, CANCEL 6)`);
    }
  }

  /** FD_DELIVERY: rejects (so that the daemon creates nothing) if the fd cannot be sent. */
  async #deliver(connection: ChannelConnection, fields: FdMessageFields, fd: Fd): Promise<void> {
    if (connection.closed) throw new Error("the fd channel connection that asked for the fd is closed");
    if (!(await this.#send(connection, encodeFdMessage(fields), [fd]))) throw new Error("the fd could not be sent on the fd channel connection (closed, or its socket buffer full)");
  }

  async #framingError(connection: ChannelConnection, why: string): Promise<void> {
    this.#logger.info({ connection: connection.id, peer: connection.socket.peer, why }, "fd channel: framing error, closing the connection");
    await this.#send(connection, encodeFdMessage({ kind: FD_MESSAGE_KIND.UNSPECIFIED, status: status.INVALID_ARGUMENT, detail: `framing error: ${why}` }));
    this.#closeConnection(connection);
  }

  /** Sends one message; false (and the connection closed) if it failed or timed out. */
  async #send(connection: ChannelConnection, payload: Uint8Array, fds: readonly Fd[] = []): Promise<boolean> {
    if (connection.closed) return false;
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        connection.socket.send(payload, fds),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => {
            reject(new SendTimeout(this.#sendTimeoutMs));
          }, this.#sendTimeoutMs);
        }),
      ]);
      return true;
    } catch (error) {
      this.#logger.info({ err: error, connection: connection.id }, "fd channel: send failed, closing the connection");
      this.#closeConnection(connection);
      return false;
    } finally {
      clearTimeout(timer);
    }
  }
}

/** A request-level error: answered with INVALID_ARGUMENT; the connection stays. */
function invalid(message: string): GmempoolError {
  return new GmempoolError("invalid-argument", message);
}

/** The reply kind of a request kind (0 for a kind that is not a request). */
function replyKind(requestKind: number): number {
  switch (requestKind) {
    case FD_MESSAGE_KIND.SEND_FD:
      return FD_MESSAGE_KIND.SEND_FD_REPLY;
    case FD_MESSAGE_KIND.RECEIVE_FD:
      return FD_MESSAGE_KIND.RECEIVE_FD_REPLY;
    case FD_MESSAGE_KIND.CANCEL:
      return FD_MESSAGE_KIND.CANCEL_REPLY;
    default:
      return FD_MESSAGE_KIND.UNSPECIFIED;
  }
}
