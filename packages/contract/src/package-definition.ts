/**
 * The API's gRPC package definition: its protos loaded with the contract's proto-loader
 * options, once per process. The daemon serves it (on its sockets and in-process) and the
 * client's stubs are made from it, so both ends encode and decode with the same definition.
 */
import { loadSync, type PackageDefinition } from "@grpc/proto-loader";
import { PROTO_FILES, protoLoaderOptions } from "./proto-options.ts";

/** Metadata keys of the API's responses (pool.proto): a replayed result, a busy page. */
export const REPLAYED_METADATA_KEY = "gmempool-replayed";
export const ERROR_OFFSET_METADATA_KEY = "gmempool-error-offset-bytes";

let cached: PackageDefinition | undefined;

export function gmempoolPackageDefinition(): PackageDefinition {
  cached ??= loadSync([...PROTO_FILES], protoLoaderOptions());
  return cached;
}
