/**
 * A small client of the daemon for tests and benchmarks: promisified Pool/Admin calls over the
 * API socket and the fd channel's SEND_FD / RECEIVE_FD handshakes over a kernel port's SEQPACKET
 * connection (the real port across processes, a fake process's port in transport tests).
 *
 * It is not the client library (clients/ imports nothing from src/); it exists so that tests
 * drive the daemon exactly as a VMM would, through both sockets.
 */
import * as grpc from "@grpc/grpc-js";
import type { Fd } from "@gmempool/sys";
import type { KernelPort, SeqpacketConnection } from "../../kvm/kernel-port.ts";
import { FD_MESSAGE_KIND, FD_TYPE_NUMBER } from "@gmempool/contract";
import { encodeFdMessage, readFdMessageDetail, readFdMessageHeader, type FdMessage } from "../../server/fd-channel/fd-message.ts";
import type { AdminClient } from "@gmempool/contract/generated/gmempool/v1/Admin";
import type { PoolClient } from "@gmempool/contract/generated/gmempool/v1/Pool";
import type { ProtoGrpcType as AdminProto } from "@gmempool/contract/generated/admin";
import type { ProtoGrpcType as PoolProto } from "@gmempool/contract/generated/pool";
import { gmempoolPackageDefinition } from "@gmempool/contract";

/** A failed call: its gRPC code and message, as the client sees them. */
export interface CallFailure {
  readonly code: grpc.status;
  readonly details: string;
  readonly metadata: grpc.Metadata;
}

export function isCallFailure(value: unknown): value is CallFailure & Error {
  return value instanceof Error && typeof (value as { code?: unknown }).code === "number" && typeof (value as { details?: unknown }).details === "string";
}

type Unary<Req, Res> = (request: Req, metadata: grpc.Metadata, options: grpc.CallOptions, callback: (error: grpc.ServiceError | null, response?: Res) => void) => grpc.ClientUnaryCall;
/** Request and response types of a generated method, read from its last overload (argument, callback). */
type Req<F> = F extends (argument: infer R, callback: infer _C) => grpc.ClientUnaryCall ? R : never;
type Res<F> = F extends (argument: never, callback: grpc.requestCallback<infer R>) => grpc.ClientUnaryCall ? R : never;

/** The unary method names of a generated client (their PascalCase spelling). */
type UnaryNames<C> = { [K in keyof C]: K extends `${Uppercase<string>}${string}` ? (C[K] extends (...args: never[]) => grpc.ClientUnaryCall ? K : never) : never }[keyof C] & string;

let packageCache: (PoolProto & AdminProto) | undefined;
function grpcPackage(): PoolProto & AdminProto {
  packageCache ??= grpc.loadPackageDefinition(gmempoolPackageDefinition()) as unknown as PoolProto & AdminProto;
  return packageCache;
}

export interface TestClientOptions {
  readonly apiSocket: string;
  /** Per-call deadline (default 30 s). */
  readonly deadlineMs?: number;
}

export class TestClient {
  readonly pool: PoolClient;
  readonly admin: AdminClient;
  readonly #deadlineMs: number;

  constructor(options: TestClientOptions) {
    const pkg = grpcPackage();
    const target = `unix://${options.apiSocket}`;
    const channelOptions = { "grpc.max_receive_message_length": 64 * 1024 * 1024 };
    this.pool = new pkg.gmempool.v1.Pool(target, grpc.credentials.createInsecure(), channelOptions);
    this.admin = new pkg.gmempool.v1.Admin(target, grpc.credentials.createInsecure(), channelOptions);
    this.#deadlineMs = options.deadlineMs ?? 30_000;
  }

  #call<F>(client: grpc.Client, name: string, request: unknown, options: grpc.CallOptions = {}): Promise<Res<F>> {
    const method = (client as unknown as Record<string, Unary<unknown, Res<F>>>)[name];
    if (method === undefined) throw new Error(`no method ${name}`);
    return new Promise((resolve, reject) => {
      method.call(client, request, new grpc.Metadata(), { deadline: Date.now() + this.#deadlineMs, ...options }, (error, response) => {
        if (error !== null) reject(error);
        else resolve(response as Res<F>);
      });
    });
  }

  /** A Pool RPC: resolves with the response, rejects with a grpc ServiceError (code, details). */
  call<N extends UnaryNames<PoolClient>>(name: N, request: Req<PoolClient[N]>, options?: grpc.CallOptions): Promise<Res<PoolClient[N]>> {
    return this.#call<PoolClient[N]>(this.pool, name, request, options);
  }

  /** An Admin RPC. */
  callAdmin<N extends UnaryNames<AdminClient>>(name: N, request: Req<AdminClient[N]>, options?: grpc.CallOptions): Promise<Res<AdminClient[N]>> {
    return this.#call<AdminClient[N]>(this.admin, name, request, options);
  }

  /** The failure of a call that must fail (rejects if it succeeds). */
  async failure<N extends UnaryNames<PoolClient>>(name: N, request: Req<PoolClient[N]>): Promise<CallFailure> {
    try {
      await this.call(name, request);
    } catch (error) {
      if (isCallFailure(error)) return { code: error.code, details: error.details, metadata: error.metadata };
      throw error;
    }
    throw new Error(`${name} succeeded; a failure was expected`);
  }

  close(): void {
    this.pool.close();
    this.admin.close();
  }
}

/** One reply on the fd channel, decoded, with any fds that came with it (owned by the caller). */
export interface FdReply extends FdMessage {
  readonly detail: string;
  readonly fds: readonly Fd[];
}

/** The client side of the fd channel, on a kernel port's SEQPACKET connection. */
export class FdChannelClient {
  readonly connection: SeqpacketConnection;
  #sequence = 1n;

  private constructor(connection: SeqpacketConnection) {
    this.connection = connection;
  }

  static async connect(kernel: Pick<KernelPort, "connectSeqpacket">, path: string): Promise<FdChannelClient> {
    return new FdChannelClient(await kernel.connectSeqpacket(path));
  }

  async receive(): Promise<FdReply> {
    const message = await this.connection.receive();
    if (message === null) throw new Error("the daemon closed the fd channel connection");
    return { ...readFdMessageHeader(message.payload), detail: readFdMessageDetail(message.payload), fds: message.fds };
  }

  /** Sends a raw datagram (tests of framing errors). */
  async sendRaw(payload: Uint8Array, fds: readonly Fd[] = []): Promise<void> {
    await this.connection.send(payload, fds);
  }

  /** SEND_FD: `fd` (borrowed) claimed to be `fdType`; the reply (token on success). */
  async sendFd(fd: Fd, fdType: keyof typeof FD_TYPE_NUMBER): Promise<FdReply> {
    await this.connection.send(encodeFdMessage({ kind: FD_MESSAGE_KIND.SEND_FD, sequence: this.#sequence++, fdType: FD_TYPE_NUMBER[fdType] }), [fd]);
    return this.receive();
  }

  /** SEND_FD that must succeed: the token. */
  async sendFdToken(fd: Fd, fdType: keyof typeof FD_TYPE_NUMBER): Promise<Buffer> {
    const reply = await this.sendFd(fd, fdType);
    if (reply.status !== 0) throw new Error(`SEND_FD failed with status ${reply.status}: ${reply.detail}`);
    return Buffer.from(reply.token);
  }

  /** RECEIVE_FD that must succeed: the token. */
  async receiveFdToken(): Promise<Buffer> {
    await this.connection.send(encodeFdMessage({ kind: FD_MESSAGE_KIND.RECEIVE_FD, sequence: this.#sequence++ }));
    const reply = await this.receive();
    if (reply.status !== 0) throw new Error(`RECEIVE_FD failed with status ${reply.status}: ${reply.detail}`);
    return Buffer.from(reply.token);
  }

  /** CANCEL: the reply's status (0 or NOT_FOUND). */
  async cancel(token: Uint8Array): Promise<FdReply> {
    await this.connection.send(encodeFdMessage({ kind: FD_MESSAGE_KIND.CANCEL, sequence: this.#sequence++, token }));
    return this.receive();
  }

  close(): void {
    this.connection.close();
  }
}
