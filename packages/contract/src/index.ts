/**
 * @gmempool/contract: the wire contract shared by the daemon (src/) and the client library
 * (clients/node), in the manner of containerd's `api` module: the .proto files (../proto/), the
 * loader options every runtime load uses, and the sizes every `_bytes` field is counted in.
 * The protos' generated TypeScript types are the subpath `@gmempool/contract/generated/*`
 * (e.g. `@gmempool/contract/generated/gmempool/v1/Arena`), generated once by
 * `npm run gen:proto` and drift-checked by `npm run check:proto`.
 *
 * This package imports only node_modules (the lint layer rule): neither the daemon nor the
 * clients, so both can depend on it.
 */
export { findProtoRoot, PROTO_FILES, PROTO_LOADER_OPTIONS, protoLoaderOptions } from "./proto-options.ts";
export { PAGE_BYTES, UNIT_BYTES } from "./units.ts";
