/**
 * @gmempool/contract: the wire contract shared by the daemon (src/) and the client library
 * (clients/node), in the manner of containerd's `api` module: the .proto files (../proto/), the
 * loader options every runtime load uses, the fd channel's message format, the
 * runtime-directory rule (where the daemon's sockets are), the error kinds and their gRPC status
 * codes, the sizes every `_bytes` field is counted in, and the API's vocabulary: its resources
 * (vocabulary.ts, resources.ts, results.ts, pool-event.ts: what the daemon reports and the client
 * returns) with their one codec (codec/: resource -> proto for the daemon's server, proto ->
 * resource for the client library, one table per enum). The protos' generated TypeScript types are the subpath `@gmempool/contract/generated/*`
 * (e.g. `@gmempool/contract/generated/gmempool/v1/Arena`), generated once by
 * `npm run gen:proto` and drift-checked by `npm run check:proto`, as is the FileDescriptorSet
 * the daemon's reflection serves (descriptor-set.ts).
 *
 * This package imports only node_modules (the lint layer rule): neither the daemon nor the
 * clients, so both can depend on it.
 */
export { DESCRIPTOR_SET_FILE, descriptorFiles, findDescriptorSet, type DescriptorFile } from "./descriptor-set.ts";
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
export { definitionTypeName, ERROR_OFFSET_METADATA_KEY, freshGmempoolPackageDefinition, gmempoolPackageDefinition, messageTypesOf, healthPackageDefinition, reflectionPackageDefinition, REPLAYED_METADATA_KEY } from "./package-definition.ts";
export { encodeFdMessage, readFdMessageDetail, readFdMessageHeader, truncateDetail, type FdMessage, type FdMessageFields } from "./fd-message.ts";
export { findProtoRoot, findThirdPartyProtoRoot, HEALTH_PROTO_FILE, PROTO_FILES, PROTO_LOADER_OPTIONS, protoLoaderOptions, REFLECTION_PROTO_FILES } from "./proto-options.ts";
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

// ---- the API's vocabulary -------------------------------------------------------------------
export {
  POOL_EVENT_KINDS,
  type ArenaKind,
  type ArenaState,
  type ContentIntent,
  type ConversionMode,
  type DiscardPolicy,
  type FdType,
  type MemfdBacking,
  type PageVisibility,
  type PolicySource,
  type PoolEventKind,
  type ReleaseReason,
  type ReserveMode,
  type QuotaSubject,
  type ServingState,
  type UnitState,
} from "./vocabulary.ts";
export type {
  Arena,
  ArenaFile,
  ArenaPolicyOverride,
  ArenaUnitMap,
  BuddyZone,
  Capabilities,
  EffectiveArenaPolicy,
  FragmentationMap,
  Identity,
  KernelFeature,
  Lease,
  Policy,
  PolicyView,
  PoolStatus,
  QuotaUsage,
  ReserveMap,
  UnitRun,
  UnitSpan,
} from "./resources.ts";
export type { ConvertResult, DeleteArenaResult, DiscardResult, ForceReleaseResult, PopulateResult, ReleaseResult, SetPolicyResult } from "./results.ts";
export type { PoolEvent, PoolEventBody, PoolEventHeader } from "./pool-event.ts";

// ---- its codec ------------------------------------------------------------------------------
export { WireValueError, type WireDirection } from "./codec/wire-value-error.ts";
export { EnumTable } from "./codec/enum-table.ts";
export {
  ARENA_KIND,
  ARENA_STATE,
  CONTENT_INTENT,
  CONVERSION_MODE,
  DISCARD_POLICY,
  ENUM_TABLES,
  FD_TYPE,
  MEMFD_BACKING,
  PAGE_VISIBILITY,
  POLICY_SOURCE,
  QUOTA_SUBJECT,
  POOL_EVENT_KIND,
  RELEASE_REASON,
  RESERVE_MODE,
  SERVING_STATE,
  UNIT_STATE,
} from "./codec/enum-tables.ts";
export { decodeDurationMs, decodeTimestamp, decodeUint64, encodeDuration, encodeTimestamp, encodeUint32, encodeUint64 } from "./codec/scalars.ts";
export {
  decodeArena,
  decodeArenaPolicyOverride,
  decodeCapabilities,
  decodeFragmentationMap,
  decodeIdentity,
  decodeLease,
  decodePolicy,
  decodePolicyView,
  decodePoolStatus,
  decodeQuotaUsage,
  encodeArena,
  encodeArenaPolicyOverride,
  encodeIdentity,
  encodeLease,
  encodePolicy,
  encodePoolStatus,
  encodeQuotaUsage,
} from "./codec/resource-codec.ts";
export { decodeConvertResult, decodeDeleteArenaResult, decodeDiscardResult, decodeForceReleaseResult, decodePopulateResult, decodeReleaseResult, decodeSetPolicyResult } from "./codec/result-codec.ts";
export { decodePoolEvent, encodePoolEvent } from "./codec/event-codec.ts";
export { decodeReservation, decodeReservations, decodeReserveResult, decodeUnreserveResult, encodeReservation, type Reservation, type ReserveResult, type UnreserveResult } from "./reservations.ts";
