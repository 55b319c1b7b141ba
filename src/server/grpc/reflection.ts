/**
 * gRPC server reflection (grpc.reflection.v1 and v1alpha, what grpcurl and grpcio ask) over the
 * API's real file descriptors (@gmempool/contract's descriptor set: the .proto files as written,
 * with their imports, snake_case field names and comments).
 *
 * @grpc/reflection's implementation does the protocol. It is handed the set's files instead of the package
 * definition the daemon decodes with: from a proto-loader definition it would serve what
 * proto-loader synthesizes — one `gmempool_v1.proto` per package with no dependency list,
 * camelCase field names and map entries strict clients refuse (grpc/grpc-node#2595, #3018;
 * fullstorydev/grpcurl#459). The library reads nothing of a definition but its
 * `fileDescriptorProtos` (each file name indexed once, every symbol, field and method of it),
 * so one entry carrying every file is the whole input. It then answers file_by_filename and
 * file_containing_symbol with the file and the files it depends on, list_services with every
 * service the files declare (gmempool.v1.Admin, gmempool.v1.Pool, grpc.health.v1.Health), and
 * file_containing_extension NOT_FOUND (the protos declare no extensions). It re-encodes each
 * file with protobufjs's descriptor.proto, which keeps buf's bytes exactly
 * (src/server/grpc/reflection.test.ts compares them).
 *
 * The index lives in a worker thread (reflection-worker.mjs), which the requests are posted to:
 * loading the library (its own protobufjs descriptor types, grpc-js and proto-loader) and
 * building the index (decoding and re-encoding every file, comments included) is one task of
 * 100–230 ms of CPU, and on the daemon's thread every tenant's call would wait behind it (issue
 * 12: no request blocks the loop > 10 ms; bench flood's loop max was that task). The worker is
 * started by the first reflection request or by `prepare`, whichever comes first.
 *
 * Requests are not decoded with these descriptors: the daemon's services keep the package
 * definition loaded from the same .proto files (packages/contract/src/descriptor-set.test.ts
 * checks the two describe the same messages), so serving them changes nothing on the wire.
 */
import * as grpc from "@grpc/grpc-js";
import { Worker } from "node:worker_threads";
import type { ReflectionV1Implementation } from "@grpc/reflection/build/src/implementations/reflection-v1.js";
import { descriptorFiles, reflectionPackageDefinition } from "@gmempool/contract";

const SERVICES = ["grpc.reflection.v1.ServerReflection", "grpc.reflection.v1alpha.ServerReflection"] as const;
const WORKER = new URL("./reflection-worker.mjs", import.meta.url);

type ReflectionRequest = Parameters<ReflectionV1Implementation["handleServerReflectionRequest"]>[0];
type ReflectionResponse = ReturnType<ReflectionV1Implementation["handleServerReflectionRequest"]>;

/** What the worker posts: the answer to request `id`, or why it had none. */
type WorkerMessage = { readonly id: number; readonly response: ReflectionResponse } | { readonly id: number; readonly failure: string };

interface Pending {
  resolve(response: ReflectionResponse): void;
  reject(error: Error): void;
}

/**
 * Both versions' ServerReflection on a server. The services are added at once from the
 * contract's reflection definition (generated JSON, no parsing), so reflection answers from the
 * first moment the daemon listens; the index is the worker's (file comment). v1alpha's messages
 * are v1's under another package: the library answers both with the same code, as here.
 */
export class Reflection {
  #worker: Worker | undefined;
  #nextId = 0;
  readonly #pending = new Map<number, Pending>();
  #closed = false;

  /** Starts the index's worker now, if no request has yet. Idempotent. */
  prepare(): void {
    this.#answerer();
  }

  /** Stops the worker (server shutdown); requests still waiting end UNAVAILABLE. */
  async close(): Promise<void> {
    this.#closed = true;
    const worker = this.#worker;
    this.#worker = undefined;
    this.#failAll(new Error("the daemon is shutting down"));
    await worker?.terminate();
  }

  addToServer(server: Pick<grpc.Server, "addService">): void {
    const definition = reflectionPackageDefinition();
    for (const name of SERVICES) {
      server.addService(definition[name] as grpc.ServiceDefinition, {
        ServerReflectionInfo: (stream: grpc.ServerDuplexStream<ReflectionRequest, ReflectionResponse>) => {
          // Answers go out in the order the requests came, and the stream ends after the last.
          let answered = Promise.resolve();
          let failed = false;
          stream.on("data", (request: ReflectionRequest) => {
            const answer = this.#ask(request);
            answered = answered.then(async () => {
              if (failed || stream.cancelled) return;
              try {
                stream.write(await answer);
              } catch (error) {
                failed = true;
                stream.emit("error", { code: grpc.status.UNAVAILABLE, details: `reflection: ${error instanceof Error ? error.message : String(error)}` });
              }
            });
          });
          stream.on("end", () => {
            void answered.then(() => {
              if (!failed) stream.end();
            });
          });
        },
      });
    }
  }

  #ask(request: ReflectionRequest): Promise<ReflectionResponse> {
    if (this.#closed) return Promise.reject(new Error("the daemon is shutting down"));
    const worker = this.#answerer();
    const id = this.#nextId++;
    return new Promise<ReflectionResponse>((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      worker.postMessage({ id, request });
    });
  }

  #answerer(): Worker {
    if (this.#worker !== undefined) return this.#worker;
    const worker = new Worker(WORKER, { workerData: { files: descriptorFiles().map((f) => f.bytes) } });
    worker.on("message", (message: WorkerMessage) => {
      const pending = this.#pending.get(message.id);
      this.#pending.delete(message.id);
      if ("response" in message) pending?.resolve(message.response);
      else pending?.reject(new Error(message.failure));
    });
    // A worker that dies takes its index with it: the waiting requests fail, the next starts another.
    const lost = (why: Error): void => {
      if (this.#worker === worker) this.#worker = undefined;
      this.#failAll(why);
    };
    worker.on("error", lost);
    worker.on("exit", (code) => {
      lost(new Error(`its worker exited (code ${code})`));
    });
    // It holds nothing a process exit could lose: it never keeps the daemon alive (unref after
    // the listeners: adding a "message" listener refs the worker's port again).
    worker.unref();
    this.#worker = worker;
    return worker;
  }

  #failAll(why: Error): void {
    for (const pending of this.#pending.values()) pending.reject(why);
    this.#pending.clear();
  }
}
