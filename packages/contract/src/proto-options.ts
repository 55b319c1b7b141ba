// How gmempool's .proto files are loaded: one place, used by the code generator
// (scripts/gen-proto.ts turns these options into proto-loader-gen-types flags) and by every
// runtime load (@grpc/proto-loader) in the daemon and in the client library, so that the
// generated types (./generated/) describe exactly the objects both ends decode and encode.
import type { Options } from "@grpc/proto-loader";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * The API's .proto files, relative to the proto root. fd_channel.proto is imported by no
 * service but is listed so that its enums (the fd channel's message kinds) are loaded and
 * generated too.
 */
export const PROTO_FILES = [
  "gmempool/v1/admin.proto",
  "gmempool/v1/fd_channel.proto",
  "gmempool/v1/pool.proto",
  "gmempool/v1/resources.proto",
] as const;

/**
 * grpc's health.proto, under the name grpc gives it (and reflection clients ask for). It is
 * upstream's file as written (third_party/, outside proto/ so that buf lint, which holds our
 * protos to our comment rules, leaves it alone); the daemon serves grpc.health.v1 from it.
 */
export const HEALTH_PROTO_FILE = "grpc/health/v1/health.proto";

/** grpc's server reflection protos (third_party/ too), both versions clients ask: v1 and v1alpha. */
export const REFLECTION_PROTO_FILES = ["grpc/reflection/v1/reflection.proto", "grpc/reflection/v1alpha/reflection.proto"] as const;

/**
 * The loader options, and why:
 * - `keepCase: false`: fields are lowerCamelCase in TypeScript (`lengthBytes`), as in the
 *   protobuf JSON mapping; the wire and the .proto keep snake_case.
 * - `longs: String`: 64-bit fields (every `_bytes` field) decode to decimal strings, which
 *   keep all 64 bits (Number would round above 2^53). proto-loader-gen-types can only type
 *   String, Number or Long, so BigInt is not an option even though protobufjs 7 could decode
 *   to it; handlers convert with `BigInt(s)` into the daemon's bigint byte offsets and encode
 *   with `String(b)` (encoding also accepts a string, a number or a Long).
 * - `enums: String`: enum fields decode to their names ("DISCARD_POLICY_DEFER"): readable in
 *   logs and exhaustively switchable as string unions; encoding accepts names or numbers.
 * - `defaults: true`: absent scalar fields decode to their default (0, "0", "", false, the
 *   _UNSPECIFIED name, [] for repeated, null for messages), so the generated `__Output` types
 *   have no `undefined` to test for. proto3 `optional` fields and oneof members are the
 *   exception: they stay absent when unset, which is how "field not given" is detected.
 * - `oneofs: true`: a oneof gets a virtual field naming its set member
 *   (`WatchResponse.event === "leaseAllocated"`), so handlers switch on it.
 * - `bytes` is left at its default: `bytes` fields (the fd channel tokens) decode to Buffer.
 */
export const PROTO_LOADER_OPTIONS = {
  keepCase: false,
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
} as const satisfies Options;

/**
 * The directory holding `gmempool/v1/*.proto`: this package's own `proto/`, a sibling of the
 * module's directory both in the repository (packages/contract/src/) and once built and packed
 * (dist/). Checked, so that an incomplete copy of the package fails naming where it looked.
 */
export function findProtoRoot(fromUrl: string = import.meta.url): string {
  const candidate = fileURLToPath(new URL("../proto", fromUrl));
  if (!existsSync(join(candidate, PROTO_FILES[0]))) throw new Error(`@gmempool/contract: no ${PROTO_FILES[0]} in ${candidate}; the package is incomplete`);
  return candidate;
}

/** The directory holding HEALTH_PROTO_FILE and REFLECTION_PROTO_FILES: the package's `third_party/`, beside `proto/`. */
export function findThirdPartyProtoRoot(fromUrl: string = import.meta.url): string {
  const candidate = fileURLToPath(new URL("../third_party", fromUrl));
  if (!existsSync(join(candidate, HEALTH_PROTO_FILE))) throw new Error(`@gmempool/contract: no ${HEALTH_PROTO_FILE} in ${candidate}; the package is incomplete`);
  return candidate;
}

/** PROTO_LOADER_OPTIONS with the include path set: what `protoLoader.load*` is given. */
export function protoLoaderOptions(protoRoot: string = findProtoRoot()): Options {
  return { ...PROTO_LOADER_OPTIONS, includeDirs: [protoRoot] };
}

/** PROTO_LOADER_OPTIONS with the include path of the third-party protos (health, reflection). */
export function thirdPartyLoaderOptions(thirdPartyRoot: string = findThirdPartyProtoRoot()): Options {
  return { ...PROTO_LOADER_OPTIONS, includeDirs: [thirdPartyRoot] };
}
