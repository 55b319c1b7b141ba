/**
 * @gmempool/contract: the wire contract shared by the daemon (src/) and the client library
 * (clients/node), in the manner of containerd's `api` module: the .proto files (../proto/), the
 * loader options every runtime load uses, the fd channel's message format, the
 * runtime-directory rule (where the daemon's sockets are), the error kinds and their gRPC status
 * codes, and the sizes every `_bytes` field is counted in. The protos' generated TypeScript types are the subpath `@gmempool/contract/generated/*`
 * (e.g. `@gmempool/contract/generated/gmempool/v1/Arena`), generated once by
 * `npm run gen:proto` and drift-checked by `npm run check:proto`.
 *
 * This package imports only node_modules (the lint layer rule): neither the daemon nor the
 * clients, so both can depend on it.
 */
export { ERROR_KINDS, errorKindOfStatus, GRPC_STATUS_OF_KIND, type ErrorKind } from "./error-kinds.ts";
export {
  FD_CHANNEL_VERSION,
  FD_MESSAGE_HEADER_BYTES,
  FD_MESSAGE_KIND,
  FD_MESSAGE_MAGIC,
  FD_MESSAGE_MAX_DETAIL_BYTES,
  FD_TOKEN_BYTES,
  FD_TYPE_NUMBER,
} from "./fd-message-format.ts";
export { ERROR_OFFSET_METADATA_KEY, gmempoolPackageDefinition, REPLAYED_METADATA_KEY } from "./package-definition.ts";
export { encodeFdMessage, readFdMessageDetail, readFdMessageHeader, truncateDetail, type FdMessage, type FdMessageFields } from "./fd-message.ts";
export { findProtoRoot, PROTO_FILES, PROTO_LOADER_OPTIONS, protoLoaderOptions } from "./proto-options.ts";
export {
  API_SOCKET_NAME,
  daemonSockets,
  defaultRuntimeDir,
  FD_SOCKET_NAME,
  METRICS_SOCKET_NAME,
  resolveRuntimeDir,
  RUNTIME_DIR_ENV,
  type DaemonSockets,
  type RuntimeDirInputs,
} from "./runtime-dir.ts";
export { PAGE_BYTES, UNIT_BYTES } from "./units.ts";
