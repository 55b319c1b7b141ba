/**
 * The gRPC side of the client: one grpc-js channel to the daemon's API socket carrying both
 * services (gmempool.v1.Pool and gmempool.v1.Admin), and the plumbing every unary call shares:
 * an absolute deadline, AbortSignal cancellation, error conversion (grpc-errors.ts), and the
 * set of calls in flight so that `close()` can cancel them (they reject with CancelledError).
 *
 * Nothing here knows what a call means; PoolClient builds requests and decodes responses.
 */
import { resolve } from "node:path";
import * as grpc from "@grpc/grpc-js";
import type { ProtoGrpcType as AdminProto } from "@gmempool/contract/generated/admin";
import type { AdminClient } from "@gmempool/contract/generated/gmempool/v1/Admin";
import type { PoolClient as PoolStub } from "@gmempool/contract/generated/gmempool/v1/Pool";
import type { ProtoGrpcType as PoolProto } from "@gmempool/contract/generated/pool";
import { CancelledError, DeadlineExceededError, InternalError } from "../pool-errors.ts";
import { gmempoolPackageDefinition } from "@gmempool/contract";
import { errorFromGrpc } from "./grpc-errors.ts";

/**
 * Channel options.
 * - The reconnect backoff is short because the peer is a local daemon: after a restart
 *   (typically under a second here) the channel should find it again at once rather than after
 *   grpc-js's default 1 s..120 s backoff. While a backoff runs, calls fail fast with UNAVAILABLE.
 * - A local subchannel pool: grpc-js otherwise shares one connection (and its backoff state)
 *   between every channel of the process to the same address, so a client connected right
 *   after a daemon restart would fail at once because an older client's connection is still in
 *   backoff (seen in pool-client.test.ts's restart test).
 */
const CHANNEL_OPTIONS: grpc.ChannelOptions = {
  "grpc.max_receive_message_length": 64 * 1024 * 1024,
  "grpc.initial_reconnect_backoff_ms": 100,
  "grpc.max_reconnect_backoff_ms": 1000,
  "grpc.use_local_subchannel_pool": 1,
};

/** What one call needs besides its request: its name (for messages), deadline and signal. */
export interface CallContext {
  /** "Allocate", "Admin.SetPolicy": prefixes error messages. */
  readonly operation: string;
  /** Absolute, in Date.now() milliseconds. */
  readonly deadline: number;
  readonly signal?: AbortSignal | undefined;
  /**
   * Wait for the daemon to be reachable (until the deadline) instead of failing fast with
   * UNAVAILABLE: for the background reattach, never for a caller's call.
   */
  readonly waitForReady?: boolean;
}

/** Starts a generated unary method with the metadata, options and callback given. */
export type UnaryStarter<Res> = (metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<Res>) => grpc.ClientUnaryCall;

type UnaryMethod = (request: unknown, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<unknown>) => grpc.ClientUnaryCall;
/** Request and response types of a generated method, read from its last overload (argument, callback). */
export type RequestOf<F> = F extends (argument: infer R, callback: infer _C) => grpc.ClientUnaryCall ? R : never;
export type ResponseOf<F> = F extends (argument: never, callback: grpc.requestCallback<infer R>) => grpc.ClientUnaryCall ? R : never;
/** The unary RPC names of a generated stub (PascalCase; the camelCase aliases are left out). */
export type UnaryNames<C> = { [K in keyof C]: K extends `${Uppercase<string>}${string}` ? (C[K] extends (...args: never[]) => grpc.ClientUnaryCall ? K : never) : never }[keyof C] & string;

let packageCache: (PoolProto & AdminProto) | undefined;
function grpcPackage(): PoolProto & AdminProto {
  packageCache ??= grpc.loadPackageDefinition(gmempoolPackageDefinition()) as unknown as PoolProto & AdminProto;
  return packageCache;
}

/** The error a call that never started rejects with, when its signal is already aborted. */
export function abortedError(operation: string): CancelledError {
  return new CancelledError("cancelled by the caller's AbortSignal before it started", { operation });
}

export class GrpcChannel {
  /** Absolute path of the API socket. */
  readonly apiSocket: string;
  readonly pool: PoolStub;
  readonly admin: AdminClient;
  /** Calls and streams in flight: cancelled by close(). */
  readonly #active = new Set<grpc.Call>();
  #closed = false;

  /**
   * `stubs`: the test double's in-process stubs (test-double/in-process-stubs.ts), which take
   * calls exactly as grpc-js's generated ones do; absent: grpc-js stubs on `apiSocket`.
   */
  constructor(apiSocket: string, stubs?: { readonly pool: PoolStub; readonly admin: AdminClient }) {
    if (stubs !== undefined) {
      this.apiSocket = apiSocket;
      this.pool = stubs.pool;
      this.admin = stubs.admin;
      return;
    }
    this.apiSocket = resolve(apiSocket);
    const pkg = grpcPackage();
    const target = `unix://${this.apiSocket}`;
    this.pool = new pkg.gmempool.v1.Pool(target, grpc.credentials.createInsecure(), CHANNEL_OPTIONS);
    // The Admin stub shares the Pool stub's channel: one connection, one reconnect state.
    this.admin = new pkg.gmempool.v1.Admin(target, grpc.credentials.createInsecure(), { ...CHANNEL_OPTIONS, channelOverride: this.pool.getChannel() });
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Runs one unary call; resolves with its response or rejects with a PoolError. */
  unary<Res>(context: CallContext, start: UnaryStarter<Res>): Promise<Res> {
    const { operation, signal } = context;
    if (this.#closed) return Promise.reject(new CancelledError("the client is closed", { operation }));
    if (signal?.aborted === true) return Promise.reject(abortedError(operation));
    if (context.deadline <= Date.now()) return Promise.reject(new DeadlineExceededError("the deadline passed before the call started", { operation }));
    return new Promise<Res>((resolvePromise, reject) => {
      let call: grpc.ClientUnaryCall | undefined = undefined;
      const onAbort = (): void => call?.cancel();
      const settle = (): void => {
        signal?.removeEventListener("abort", onAbort);
        if (call !== undefined) this.#active.delete(call);
      };
      // grpc-js takes waitForReady as a metadata option, not a call option.
      const metadata = new grpc.Metadata(context.waitForReady === true ? { waitForReady: true } : {});
      call = start(metadata, { deadline: context.deadline }, (error, response) => {
        settle();
        if (error !== null) reject(error.code === grpc.status.CANCELLED ? this.#cancelled(operation, signal, error) : errorFromGrpc(error, operation, this.apiSocket));
        else if (response === undefined) reject(new InternalError("the daemon's reply is empty", { operation }));
        else resolvePromise(response);
      });
      this.#active.add(call);
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  /** Why a call was cancelled: by close(), by the caller's signal, or (rarely) by the daemon. */
  #cancelled(operation: string, signal: AbortSignal | undefined, error: grpc.ServiceError): CancelledError {
    if (this.#closed) return new CancelledError("the client was closed while the call was in flight", { operation, cause: error });
    if (signal?.aborted === true) return new CancelledError("cancelled by the caller's AbortSignal", { operation, cause: error });
    return new CancelledError(error.details, { operation, cause: error });
  }

  /** A gmempool.v1.Pool RPC by name, typed by the generated stub. */
  callPool<N extends UnaryNames<PoolStub>>(context: CallContext, name: N, request: RequestOf<PoolStub[N]>): Promise<ResponseOf<PoolStub[N]>> {
    return this.#callByName(this.pool, context, name, request);
  }

  /** A gmempool.v1.Admin RPC by name. */
  callAdmin<N extends UnaryNames<AdminClient>>(context: CallContext, name: N, request: RequestOf<AdminClient[N]>): Promise<ResponseOf<AdminClient[N]>> {
    return this.#callByName(this.admin, context, name, request);
  }

  #callByName<Res>(stub: grpc.Client, context: CallContext, name: string, request: unknown): Promise<Res> {
    const method = (stub as unknown as Record<string, UnaryMethod | undefined>)[name];
    if (method === undefined) return Promise.reject(new InternalError(`the stub has no method ${name}`, { operation: context.operation }));
    return this.unary<Res>(context, (metadata, options, callback) => method.call(stub, request, metadata, options, callback as grpc.requestCallback<unknown>));
  }

  /** Registers a server stream (Watch) so that close() cancels it; returns the unregister. */
  track(call: grpc.Call): () => void {
    this.#active.add(call);
    return () => this.#active.delete(call);
  }

  /** Cancels every call in flight (each rejects with CancelledError) and closes the channel. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const call of [...this.#active]) call.cancel();
    this.#active.clear();
    this.admin.close();
    this.pool.close();
  }
}
