/**
 * Loading the API's .proto files at run time (@grpc/proto-loader) with the loader options of
 * @gmempool/contract, the same ones the daemon loads with, so that both ends decode the same
 * shapes: lowerCamelCase fields, 64-bit fields as decimal strings, enums as names, defaults
 * filled in, oneofs named. The contract's generated types (@gmempool/contract/generated/*)
 * describe those shapes.
 *
 * The .proto files are the contract package's own proto/: in the repository the workspace
 * package packages/contract, once installed from npm the copy bundled inside this package
 * (scripts/bundle-contract.mjs), so there is one copy in the repository and nothing to drift.
 */
import { PROTO_FILES, protoLoaderOptions } from "@gmempool/contract";
import { loadSync, type PackageDefinition } from "@grpc/proto-loader";

let cached: PackageDefinition | undefined;

/** The API's package definition (loaded once per process). */
export function gmempoolPackageDefinition(): PackageDefinition {
  cached ??= loadSync([...PROTO_FILES], protoLoaderOptions());
  return cached;
}
