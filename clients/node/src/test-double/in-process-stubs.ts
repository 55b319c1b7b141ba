/**
 * The client half of the in-process transport: stubs that take calls exactly as grpc-js's
 * generated ones do (`Allocate(request, metadata, options, callback)`, `Watch(request)`), so
 * PoolClient's GrpcChannel drives them unchanged, and hand serialized protobuf bytes to the
 * daemon half (src/server/in-process/in-process-server.ts). What grpc-js does on the client
 * side is done here: the request is serialized and the response deserialized with the API's
 * package definition; the deadline is enforced (DEADLINE_EXCEEDED) and `cancel()` answers
 * CANCELLED; a call with `waitForReady` waits for a daemon that is restarting, one without fails
 * fast with UNAVAILABLE as a dropped connection does. Statuses become grpc-js ServiceErrors, so
 * grpc-errors.ts turns them into the same PoolErrors as on a socket.
 */
import { EventEmitter } from "node:events";
import { Metadata, status, type CallOptions, type ServiceError, type StatusObject } from "@grpc/grpc-js";
import type { MethodDefinition } from "@grpc/proto-loader";
import { gmempoolPackageDefinition } from "@gmempool/contract";
import { StatusError } from "../../../../src/server/in-process/in-process-server.ts";

/** What the daemon half offers one client process (InProcessConnection, or a faulting wrapper). */
export interface RpcEndpoint {
  unary(path: string, request: Buffer, onCancel: (cancel: () => void) => void): Promise<{ readonly response: Buffer }>;
  serverStream(path: string, request: Buffer, reader: { message(bytes: Buffer): void; end(): void; fail(status: StatusObject): void }): { pause(): void; resume(): void; cancel(): void };
}

/**
 * The endpoint of the daemon now serving; rejects with an UNAVAILABLE status while none is
 * (a restart), unless `waitForReady`, which waits for the next.
 */
export type EndpointProvider = (waitForReady: boolean) => Promise<RpcEndpoint>;

type Callback = (error: ServiceError | null, value?: unknown) => void;

/** A status as grpc-js's ServiceError: the daemon half's StatusError, one shape for both halves. */
function serviceError(failure: Pick<StatusObject, "code" | "details"> & { readonly metadata?: Metadata }): ServiceError {
  return failure instanceof StatusError ? failure : new StatusError(failure);
}

function asServiceError(reason: unknown): ServiceError {
  if (typeof reason === "object" && reason !== null && typeof (reason as Partial<StatusObject>).code === "number") return serviceError(reason as StatusObject);
  return serviceError({ code: status.INTERNAL, details: reason instanceof Error ? reason.message : String(reason) });
}

function deadlineMsOf(options: CallOptions | undefined): number | undefined {
  const deadline = options?.deadline;
  if (deadline === undefined || deadline === Infinity) return undefined;
  return (deadline instanceof Date ? deadline.getTime() : deadline) - Date.now();
}

/** One service's stub (`serviceName` as in the protos, "gmempool.v1.Pool"), typed by the caller. */
export function inProcessStub(serviceName: string, endpoint: EndpointProvider): unknown {
  const service = gmempoolPackageDefinition()[serviceName];
  if (service === undefined || "format" in service) throw new Error(`${serviceName} is not a service in the API's protos`);
  const stub: Record<string, unknown> = {
    close: () => undefined,
    getChannel: () => undefined,
  };
  for (const [name, definition] of Object.entries(service)) {
    const method = definition as MethodDefinition<unknown, unknown>;
    stub[name] = method.responseStream ? (request: unknown) => new InProcessReadableCall(method, request, endpoint) : (request: unknown, metadata: Metadata, options: CallOptions, callback: Callback) => unaryCall(method, request, metadata, options, callback, endpoint);
  }
  return stub;
}

function unaryCall(method: MethodDefinition<unknown, unknown>, request: unknown, metadata: Metadata, options: CallOptions, callback: Callback, endpoint: EndpointProvider): { cancel(): void } {
  let settled = false;
  let cancelOnServer: () => void = () => undefined;
  let timer: NodeJS.Timeout | undefined;
  const settle = (error: ServiceError | null, value?: unknown): void => {
    if (settled) return;
    settled = true;
    clearTimeout(timer);
    callback(error, value);
  };
  const remaining = deadlineMsOf(options);
  if (remaining !== undefined) {
    timer = setTimeout(() => {
      cancelOnServer();
      settle(serviceError({ code: status.DEADLINE_EXCEEDED, details: `Deadline exceeded after ${Math.max(0, remaining) / 1000}s` }));
    }, Math.max(0, remaining));
  }
  let bytes: Buffer;
  try {
    bytes = method.requestSerialize(request);
  } catch (error) {
    queueMicrotask(() => settle(serviceError({ code: status.INTERNAL, details: `Request message serialization failure: ${error instanceof Error ? error.message : String(error)}` })));
    return { cancel: () => undefined };
  }
  endpoint(metadata.getOptions().waitForReady === true)
    .then((e) =>
      e.unary(method.path, bytes, (cancel) => {
        cancelOnServer = cancel;
      }),
    )
    .then(
      (reply) => settle(null, method.responseDeserialize(reply.response)),
      (reason: unknown) => settle(asServiceError(reason)),
    );
  return {
    cancel: () => {
      cancelOnServer();
      settle(serviceError({ code: status.CANCELLED, details: "Cancelled on client" }));
    },
  };
}

/** What GrpcWatchStream uses of grpc-js's ClientReadableStream: data / error / end, pause, resume, cancel. */
class InProcessReadableCall extends EventEmitter {
  #controls: { pause(): void; resume(): void; cancel(): void } | undefined;
  #paused = false;
  #done = false;

  constructor(method: MethodDefinition<unknown, unknown>, request: unknown, endpoint: EndpointProvider) {
    super();
    let bytes: Buffer;
    try {
      bytes = method.requestSerialize(request);
    } catch (error) {
      queueMicrotask(() => this.#fail(serviceError({ code: status.INTERNAL, details: `Request message serialization failure: ${String(error)}` })));
      return;
    }
    endpoint(false).then(
      (e) => {
        if (this.#done) return;
        this.#controls = e.serverStream(method.path, bytes, {
          message: (message) => {
            if (!this.#done) this.emit("data", method.responseDeserialize(message));
          },
          end: () => {
            if (this.#done) return;
            this.#done = true;
            this.emit("end");
          },
          fail: (failure) => this.#fail(serviceError(failure)),
        });
        if (this.#paused) this.#controls.pause();
      },
      (reason: unknown) => this.#fail(asServiceError(reason)),
    );
  }

  pause(): this {
    this.#paused = true;
    this.#controls?.pause();
    return this;
  }

  resume(): this {
    this.#paused = false;
    this.#controls?.resume();
    return this;
  }

  cancel(): void {
    if (this.#done) return;
    this.#controls?.cancel();
    this.#fail(serviceError({ code: status.CANCELLED, details: "Cancelled on client" }));
  }

  #fail(error: ServiceError): void {
    if (this.#done) return;
    this.#done = true;
    this.emit("error", error);
  }
}
