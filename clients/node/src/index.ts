/**
 * @gmempool/client: the typed client library of the gmempool daemon.
 *
 * - `Pool` (pool.ts): the interface a VMM codes against.
 * - `PoolClient` (pool-client.ts): `Pool` over the real daemon's sockets.
 * - the test double, `FakePoolClient`, is the entry point `@gmempool/client/testing`
 *   (testing.ts): it runs the daemon itself in-process, so it is kept out of this one.
 * - the resources (resources.ts), the typed errors (pool-errors.ts), the unit helpers
 *   (units.ts) and where the daemon's sockets are (runtime-dir.ts).
 */
export type {
  AllocateRequest,
  ArenaPair,
  ByteRange,
  CallOptions,
  ConvertRequest,
  CreateArenaPairRequest,
  CreateMemfdArenaRequest,
  ForceReleaseTarget,
  FragmentationMapRequest,
  ListLeasesRequest,
  ListRequest,
  MemfdArena,
  Pool,
  ReattachFds,
  RegisterGuestMemfdArenaRequest,
  SetPolicyRequest,
  WatchRequest,
  WatchStream,
} from "./pool.ts";
export { DEFAULT_DEADLINE_MS, PoolClient, type PoolClientOptions } from "./pool-client.ts";
export type { ReattachReport } from "./auto-reattach.ts";
export {
  CancelledError,
  DeadlineExceededError,
  errorForStatus,
  ExhaustedError,
  ConflictError,
  FailedPreconditionError,
  InternalError,
  InvalidArgumentError,
  isPoolError,
  NotFoundError,
  PermissionDeniedError,
  PoolError,
  UnavailableError,
  UnimplementedError,
  type GrpcStatusName,
  type PoolErrorKind,
  type PoolErrorOptions,
  type UnavailableErrorOptions,
} from "./pool-errors.ts";
export { closeFd, openPidfd } from "./pidfd.ts";
export * from "./resources.ts";
export { bytesToUnits, formatBytes, PAGE_BYTES, PAGES_PER_UNIT, parseSize, UNIT_BYTES, unitsToBytes } from "./units.ts";
export { API_SOCKET_NAME, daemonSockets, defaultRuntimeDir, FD_SOCKET_NAME, resolveRuntimeDir, RUNTIME_DIR_ENV, type DaemonSockets, type RuntimeDirInputs } from "./runtime-dir.ts";
