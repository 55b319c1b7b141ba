/**
 * The daemon's transport without sockets, for the client library's test double: the same
 * handlers the sockets serve (service-handlers.ts), called in-process with serialized protobuf
 * bytes in and out, so that a client over it runs exactly the daemon's decoding, rules, error
 * statuses and encoding — only the bytes do not cross a socket.
 *
 * One `InProcessConnection` stands for one client process's pair of connections (api.sock and
 * fd.sock) with the peer credentials SO_PEERCRED would report: its caller is identified once
 * by the service, like an accepted socket's (unix-grpc-listener.ts), and its fd tokens are
 * bound to it. Fds cross as the kernel port's `Fd`s of the daemon's process: the caller of
 * `sendFd` hands over an fd the daemon's port owns from then on (as SCM_RIGHTS installs one),
 * and a delivery lends the caller the daemon's fd for the length of the `deliver` call.
 *
 * What grpc-js would do and this does too: a call already cancelled is not started; a handler
 * sees `cancelled` and the "cancelled" event; statuses are plain { code, details, metadata };
 * a server stream honours flow control (`write` returns false while the reader is paused and
 * "drain" follows). Deadlines are the client side's (grpc-js enforces them in the client).
 */
import { EventEmitter } from "node:events";
import { Metadata, status, type StatusObject } from "@grpc/grpc-js";
import type * as protoLoader from "@grpc/proto-loader";
import type { Logger } from "pino";
import type { FdDelivery, FdInspection, FdType, PeerCredentials, PoolService } from "../../daemon/pool-service.ts";
import type { Fd } from "@gmempool/sys";
import { statusForError } from "../error-status.ts";
import type { FdTokenOwner } from "../fd-channel/fd-token-table.ts";
import { gmempoolPackageDefinition, REPLAYED_METADATA_KEY } from "@gmempool/contract";
import { tolerantDeserializers } from "../request-decoding.ts";
import { ServiceHandlers } from "../service-handlers.ts";

/** What GetCapabilities reports as the fd channel's path: there is no socket. */
export const IN_PROCESS_FD_SOCKET = "(in-process)";

/** Messages a server stream buffers for a paused reader before `write` returns false. */
const STREAM_HIGH_WATER_MARK = 16;

export interface InProcessServerOptions {
  readonly service: PoolService;
  /** The daemon's kernel port close (fds the token table owns). */
  readonly closeFd: (fd: Fd) => void;
  readonly logger: Logger;
}

/** A unary call's outcome as bytes: the response, and whether the daemon replayed it. */
export interface UnaryReply {
  readonly response: Buffer;
  readonly replayed: boolean;
}

/** The reading end of a server stream, as the client half sees it. */
export interface StreamReader {
  /** A serialized message. */
  message(bytes: Buffer): void;
  /** The stream ended with OK. */
  end(): void;
  /** The stream ended with a status other than OK. */
  fail(status: StatusObject): void;
}

type Handler = (call: unknown, callback: (error: StatusObject | null, value?: unknown) => void) => void;

interface MethodEntry {
  readonly definition: protoLoader.MethodDefinition<unknown, unknown>;
  readonly handler: Handler;
}

export class InProcessServer {
  readonly handlers: ServiceHandlers;
  readonly service: PoolService;
  readonly closeFd: (fd: Fd) => void;
  readonly #methods = new Map<string, MethodEntry>();
  readonly #connections = new Set<InProcessConnection>();
  #nextConnectionId = 1;
  #closed = false;

  constructor(options: InProcessServerOptions) {
    this.service = options.service;
    this.closeFd = options.closeFd;
    this.handlers = new ServiceHandlers({ service: options.service, closeFd: options.closeFd, logger: options.logger, fdSocketPath: IN_PROCESS_FD_SOCKET });
    const definition = gmempoolPackageDefinition();
    for (const [serviceName, handlers] of [
      ["gmempool.v1.Pool", this.handlers.pool],
      ["gmempool.v1.Admin", this.handlers.admin],
    ] as const) {
      const service = definition[serviceName];
      if (service === undefined || "format" in service) throw new Error(`${serviceName} is not a service in the loaded protos`);
      for (const [name, method] of Object.entries(tolerantDeserializers(service))) {
        const handler = (handlers as unknown as Record<string, Handler | undefined>)[name];
        if (handler === undefined) throw new Error(`no handler for ${method.path}`);
        this.#methods.set(method.path, { definition: method as protoLoader.MethodDefinition<unknown, unknown>, handler });
      }
    }
  }

  /** A client process's connections, with the credentials SO_PEERCRED would give. */
  connect(peer: PeerCredentials): InProcessConnection {
    if (this.#closed) throw new Error("the in-process server is closed");
    const connection = new InProcessConnection(this, this.#nextConnectionId++, peer, this.service.identify(peer));
    this.#connections.add(connection);
    return connection;
  }

  /** The method at `path` ("/gmempool.v1.Pool/Allocate"). */
  method(path: string): MethodEntry | undefined {
    return this.#methods.get(path);
  }

  forget(connection: InProcessConnection): void {
    this.#connections.delete(connection);
  }

  /** Shutdown: Watch streams end with UNAVAILABLE, every connection closes (its tokens revoked). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.handlers.watches.endAll();
    for (const connection of [...this.#connections]) connection.close();
    this.handlers.tokens.revokeAll();
  }
}

/** The socket-shaped object ConnectionCallers tags; "close" ends the registration. */
class PeerSocket extends EventEmitter {
  destroy(): void {
    this.emit("close");
  }
}

export class InProcessConnection {
  readonly id: number;
  readonly peer: PeerCredentials;
  readonly #server: InProcessServer;
  readonly #socket = new PeerSocket();
  readonly #tag: string;
  #closed = false;

  constructor(server: InProcessServer, id: number, peer: PeerCredentials, caller: ReturnType<PoolService["identify"]>) {
    this.#server = server;
    this.id = id;
    this.peer = peer;
    this.#tag = server.handlers.callers.register(this.#socket, caller);
  }

  get closed(): boolean {
    return this.#closed;
  }

  /**
   * One unary call. `onCancel` receives the function that cancels the call (grpc-js's
   * ServerUnaryCall "cancelled"). Rejects with the call's status.
   */
  unary(path: string, request: Buffer, onCancel: (cancel: () => void) => void): Promise<UnaryReply> {
    return new Promise<UnaryReply>((resolve, reject) => {
      const entry = this.#entry(path);
      if (entry.definition.responseStream) throw unimplemented(`${path} is a streaming method`);
      let replayed = false;
      const call = this.#serverCall(entry, request, (metadata) => {
        if (metadata.get(REPLAYED_METADATA_KEY)[0] === "true") replayed = true;
      });
      onCancel(() => call.cancel());
      entry.handler(call, (error, value) => {
        if (error !== null) reject(new StatusError(error));
        else resolve({ response: entry.definition.responseSerialize(value), replayed });
      });
    });
  }

  /** A server-streaming call (Watch). Returns the reader's controls: pause, resume, cancel. */
  serverStream(path: string, request: Buffer, reader: StreamReader): { pause(): void; resume(): void; cancel(): void } {
    const entry = this.#entry(path);
    const stream = new ServerStream(entry, reader);
    const call = this.#serverCall(entry, request, () => undefined, stream);
    queueMicrotask(() => entry.handler(call, () => undefined));
    return { pause: () => stream.pause(), resume: () => stream.resume(), cancel: () => call.cancel() };
  }

  /**
   * SEND_FD: `fd` (the daemon's, now owned by the token table) claimed to be `claimed`; checked
   * by the service as the fd channel checks it. Throws the status the fd channel would reply.
   */
  sendFd(fd: Fd, claimed: FdType): { token: Buffer; inspection: FdInspection } {
    let inspection: FdInspection;
    try {
      if (this.#closed) throw unavailable("the connection is closed");
      inspection = this.#server.service.inspectFd(fd, claimed);
    } catch (error) {
      // As the fd channel closes what it received when it refuses it.
      this.#server.closeFd(fd);
      throw error instanceof StatusError ? error : new StatusError(statusForError(error));
    }
    // From here the token table owns the fd (it closes it itself if it refuses the token).
    return { token: Buffer.from(this.#server.handlers.tokens.issueSend(this.#owner(), fd, inspection)), inspection };
  }

  /** RECEIVE_FD: a token whose delivery calls `deliver` with the daemon's fd (borrowed). */
  receiveFd(deliver: FdDelivery): Buffer {
    return Buffer.from(this.#server.handlers.tokens.issueReceive(this.#owner(), deliver));
  }

  /** CANCEL: false when no pending token of this connection matches. */
  cancelToken(token: Buffer): boolean {
    return this.#server.handlers.tokens.cancel(this.id, token);
  }

  /** Its fd channel connection closes: its tokens are revoked (the API connection stays). */
  closeFdChannel(): void {
    this.#server.handlers.tokens.revokeConnection(this.id);
  }

  /** The process's sockets close: its tokens are revoked, its caller forgotten. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#server.handlers.tokens.revokeConnection(this.id);
    this.#socket.emit("close");
    this.#server.forget(this);
  }

  #owner(): FdTokenOwner {
    return { connectionId: this.id, uid: this.peer.uid, pid: this.peer.pid };
  }

  #entry(path: string): MethodEntry {
    if (this.#closed) throw unavailable("the connection is closed");
    const entry = this.#server.method(path);
    if (entry === undefined) throw unimplemented(`the daemon has no method ${path}`);
    return entry;
  }

  /** The handler's call object (bytes that do not decode are an UndecodableRequest: request-decoding.ts). */
  #serverCall(entry: MethodEntry, request: Buffer, sendMetadata: (metadata: Metadata) => void, stream?: ServerStream): ServerCall {
    return new ServerCall(entry.definition.requestDeserialize(request), this.#tag, sendMetadata, stream);
  }
}

/** What the handlers use of grpc-js's ServerUnaryCall / ServerWritableStream. */
class ServerCall extends EventEmitter {
  readonly request: unknown;
  readonly metadata = new Metadata();
  cancelled = false;
  readonly #peer: string;
  readonly #sendMetadata: (metadata: Metadata) => void;
  readonly #stream: ServerStream | undefined;

  constructor(request: unknown, peer: string, sendMetadata: (metadata: Metadata) => void, stream: ServerStream | undefined) {
    super();
    this.request = request;
    this.#peer = peer;
    this.#sendMetadata = sendMetadata;
    this.#stream = stream;
    if (stream !== undefined) {
      stream.onDrain = () => this.emit("drain");
      // A handler ends a stream with a status by emitting "error" (grpc-js's convention).
      this.on("error", (failure: StatusObject) => stream.fail(failure));
    }
  }

  getPeer(): string {
    return this.#peer;
  }

  sendMetadata(metadata: Metadata): void {
    this.#sendMetadata(metadata);
  }

  write(message: unknown): boolean {
    return this.#stream?.write(message) ?? false;
  }

  end(): void {
    this.#stream?.end();
    this.emit("close");
  }

  cancel(): void {
    if (this.cancelled) return;
    this.cancelled = true;
    this.emit("cancelled");
    this.#stream?.fail(new StatusError({ code: status.CANCELLED, details: "Cancelled on client" }));
  }
}

/** A server stream's messages on their way to the reader, buffered while it is paused. */
class ServerStream {
  readonly #entry: MethodEntry;
  readonly #reader: StreamReader;
  readonly #buffered: Buffer[] = [];
  #paused = false;
  #ended = false;
  onDrain: () => void = () => undefined;

  constructor(entry: MethodEntry, reader: StreamReader) {
    this.#entry = entry;
    this.#reader = reader;
  }

  write(message: unknown): boolean {
    if (this.#ended) return false;
    this.#buffered.push(this.#entry.definition.responseSerialize(message));
    if (!this.#paused) queueMicrotask(() => this.#flush());
    return this.#buffered.length < STREAM_HIGH_WATER_MARK;
  }

  end(): void {
    this.#finish(() => this.#reader.end());
  }

  fail(failure: StatusObject): void {
    this.#finish(() => this.#reader.fail(failure));
  }

  pause(): void {
    this.#paused = true;
  }

  resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    queueMicrotask(() => this.#flush());
  }

  #flush(): void {
    const wasFull = this.#buffered.length >= STREAM_HIGH_WATER_MARK;
    while (!this.#paused && this.#buffered.length > 0) this.#reader.message(this.#buffered.shift()!);
    if (wasFull && this.#buffered.length < STREAM_HIGH_WATER_MARK) this.onDrain();
  }

  /** Ends after the buffered messages (what the reader reads before the status). */
  #finish(report: () => void): void {
    if (this.#ended) return;
    this.#ended = true;
    const deliver = (): void => {
      if (this.#paused && this.#buffered.length > 0) {
        setImmediate(deliver);
        return;
      }
      this.#flush();
      report();
    };
    queueMicrotask(deliver);
  }
}

/** A call's status other than OK, as an Error shaped like grpc-js's ServiceError ("5 NOT_FOUND: …"). */
export class StatusError extends Error implements StatusObject {
  readonly code: status;
  readonly details: string;
  readonly metadata: Metadata;

  constructor(failure: Pick<StatusObject, "code" | "details"> & { readonly metadata?: Metadata | undefined }) {
    super(`${failure.code} ${status[failure.code]}: ${failure.details}`);
    this.code = failure.code;
    this.details = failure.details;
    this.metadata = failure.metadata ?? new Metadata();
  }
}

function unimplemented(details: string): StatusError {
  return new StatusError({ code: status.UNIMPLEMENTED, details });
}

function unavailable(details: string): StatusError {
  return new StatusError({ code: status.UNAVAILABLE, details });
}
