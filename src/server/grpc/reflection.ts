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
 * Requests are not decoded with these descriptors: the daemon's services keep the package
 * definition loaded from the same .proto files (packages/contract/src/descriptor-set.test.ts
 * checks the two describe the same messages), so serving them changes nothing on the wire.
 */
import type * as grpc from "@grpc/grpc-js";
import type { PackageDefinition } from "@grpc/proto-loader";
import { createRequire } from "node:module";
// The library's protocol implementation itself (its ReflectionService only pairs two of them
// with proto-loader loads of its own protos). Loaded when the index is built: loading it builds
// protobufjs's descriptor.proto types (~50 ms of start-up CPU, CPU profile of `npm run bench --
// restart --cpu-prof`).
import type { ReflectionV1Implementation } from "@grpc/reflection/build/src/implementations/reflection-v1.js";
import { descriptorFiles, reflectionPackageDefinition, type DescriptorFile } from "@gmempool/contract";

type ReflectionV1Module = typeof import("@grpc/reflection/build/src/implementations/reflection-v1.js");

/**
 * The one definition that carries the files: never looked up by name, and its `format` and
 * `type` are never read (the enum shape is only the smallest the PackageDefinition type takes).
 */
const FILES_ENTRY = "gmempool.reflection.files";
const SERVICES = ["grpc.reflection.v1.ServerReflection", "grpc.reflection.v1alpha.ServerReflection"] as const;

type ReflectionRequest = Parameters<ReflectionV1Implementation["handleServerReflectionRequest"]>[0];

/**
 * Both versions' ServerReflection on a server, answered by one implementation that is built when
 * first needed: building it (decoding and indexing every file) took ~35 ms of CPU cold, and
 * ReflectionService's own addToServer loads both reflection.protos with proto-loader besides
 * (~100 ms together, right after SERVING, when the VMMs reattach). Here the services are added
 * at once from the contract's reflection definition (generated JSON, no parsing), so reflection
 * answers from the first moment the daemon listens; `prepare` builds the index ahead of the
 * first request, off the restart's critical path (GmempoolProcess calls it a while after
 * serving). v1alpha's messages are v1's under another package: the library answers both with
 * the same code, as here.
 */
export class Reflection {
  readonly #files: () => readonly DescriptorFile[];
  #implementation: ReflectionV1Implementation | undefined;

  constructor(files: () => readonly DescriptorFile[] = descriptorFiles) {
    this.#files = files;
  }

  /** Builds the index now, if no request has yet. Idempotent. */
  prepare(): void {
    this.#answerer();
  }

  addToServer(server: Pick<grpc.Server, "addService">): void {
    const definition = reflectionPackageDefinition();
    for (const name of SERVICES) {
      server.addService(definition[name] as grpc.ServiceDefinition, {
        ServerReflectionInfo: (stream: grpc.ServerDuplexStream<ReflectionRequest, object>) => {
          stream.on("end", () => stream.end());
          stream.on("data", (request: ReflectionRequest) => stream.write(this.#answerer().handleServerReflectionRequest(request)));
        },
      });
    }
  }

  #answerer(): ReflectionV1Implementation {
    if (this.#implementation === undefined) {
      const definition: PackageDefinition = {
        [FILES_ENTRY]: { format: "Protocol Buffer 3 EnumDescriptorProto", type: {}, fileDescriptorProtos: this.#files().map((f) => f.bytes) },
      };
      const { ReflectionV1Implementation: Implementation } = createRequire(import.meta.url)("@grpc/reflection/build/src/implementations/reflection-v1.js") as ReflectionV1Module;
      this.#implementation = new Implementation(definition);
    }
    return this.#implementation;
  }
}
