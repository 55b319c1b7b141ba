/**
 * Loading the API's .proto files at run time (@grpc/proto-loader), with exactly the daemon's
 * loader options (src/server/proto-options.ts) so that both ends decode the same shapes:
 * lowerCamelCase fields, 64-bit fields as decimal strings, enums as names, defaults filled in,
 * oneofs named. The generated types in ../generated/ (scripts/gen-proto.ts, drift-checked by
 * `npm run check:proto`) describe those shapes.
 *
 * Where the .proto files are: the package's own `proto/` directory when installed from npm
 * (`npm pack` copies the repository's proto/ into the package: scripts/copy-protos.mjs), else
 * the repository's `proto/` — found by walking up from this module, so there is one copy in the
 * repository and nothing to drift.
 */
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { loadSync, type Options, type PackageDefinition } from "@grpc/proto-loader";

export const PROTO_FILES = ["gmempool/v1/admin.proto", "gmempool/v1/fd_channel.proto", "gmempool/v1/pool.proto", "gmempool/v1/resources.proto"] as const;

export const PROTO_LOADER_OPTIONS = {
  keepCase: false,
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
} as const satisfies Options;

/** The directory holding gmempool/v1/*.proto, walking up from `fromUrl`. */
export function findProtoRoot(fromUrl: string = import.meta.url): string {
  const start = dirname(fileURLToPath(fromUrl));
  for (let dir = start; ; dir = dirname(dir)) {
    const candidate = join(dir, "proto");
    if (existsSync(join(candidate, PROTO_FILES[2]))) return candidate;
    if (dirname(dir) === dir) throw new Error(`@gmempool/client: no proto/${PROTO_FILES[2]} in any directory above ${start}; the package is incomplete`);
  }
}

let cached: PackageDefinition | undefined;

/** The API's package definition (loaded once per process). */
export function gmempoolPackageDefinition(): PackageDefinition {
  cached ??= loadSync([...PROTO_FILES], { ...PROTO_LOADER_OPTIONS, includeDirs: [findProtoRoot()] });
  return cached;
}
