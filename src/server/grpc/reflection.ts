/**
 * gRPC server reflection (grpc.reflection.v1 and v1alpha, what grpcurl and grpcio ask) over the
 * API's real file descriptors (@gmempool/contract's descriptor set: the .proto files as written,
 * with their imports, snake_case field names and comments).
 *
 * @grpc/reflection does the protocol. It is handed the set's files instead of the package
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
import { ReflectionService } from "@grpc/reflection";
import { descriptorFiles, type DescriptorFile } from "@gmempool/contract";

/**
 * The one definition that carries the files: never looked up by name, and its `format` and
 * `type` are never read (the enum shape is only the smallest the PackageDefinition type takes).
 */
const FILES_ENTRY = "gmempool.reflection.files";

export function addReflection(server: Pick<grpc.Server, "addService">, files: readonly DescriptorFile[] = descriptorFiles()): void {
  const definition: PackageDefinition = {
    [FILES_ENTRY]: { format: "Protocol Buffer 3 EnumDescriptorProto", type: {}, fileDescriptorProtos: files.map((f) => f.bytes) },
  };
  new ReflectionService(definition).addToServer(server);
}
