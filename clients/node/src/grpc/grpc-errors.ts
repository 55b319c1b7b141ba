/**
 * A failed gRPC call as a typed PoolError (pool-errors.ts): the status number goes through
 * `errorForStatus`, the one table; this file only adds what the status alone does not say.
 *
 * - `gmempool-error-offset-bytes` (trailing metadata, Convert IN_PLACE blocked by a pinned page)
 *   becomes UnavailableError.errorOffsetBytes.
 * - An UNAVAILABLE that grpc-js made up itself because no connection exists or the one there was
 *   dropped (no socket file, connection refused, the daemon died) is `unreachable`, and its
 *   message names the socket. The daemon's own UNAVAILABLE (starting, draining, pinned page)
 *   reached a daemon, so it is not. grpc-js gives no structured flag for this, only its message
 *   texts (checked with @grpc/grpc-js 1.14: "No connection established. Last error: ...",
 *   "Connection dropped", "Failed to connect"), hence the patterns below.
 */
import { status, type Metadata, type ServiceError } from "@grpc/grpc-js";
import { ERROR_OFFSET_METADATA_KEY } from "@gmempool/contract";
import { errorForStatus, InternalError, type PoolError } from "../pool-errors.ts";


/** grpc-js's own texts for "there is no daemon at the other end". */
const TRANSPORT_FAILURE = /No connection established|Connection dropped|Failed to connect|connect E[A-Z]+|ECONNRESET|EPIPE|Connection closed|GOAWAY/;

export function isServiceError(value: unknown): value is ServiceError {
  return value instanceof Error && typeof (value as Partial<ServiceError>).code === "number" && typeof (value as Partial<ServiceError>).details === "string";
}

function errorOffsetBytes(metadata: Metadata | undefined): bigint | undefined {
  const value = metadata?.get(ERROR_OFFSET_METADATA_KEY)[0];
  if (typeof value !== "string" || !/^\d+$/.test(value)) return undefined;
  return BigInt(value);
}

/** The PoolError for whatever a grpc-js call failed with. `apiSocket` is named when unreachable. */
export function errorFromGrpc(error: unknown, operation: string, apiSocket: string): PoolError {
  if (!isServiceError(error)) {
    return new InternalError(error instanceof Error ? error.message : String(error), { operation, cause: error });
  }
  if (error.code === status.UNAVAILABLE && TRANSPORT_FAILURE.test(error.details)) {
    const errno = /connect (E[A-Z]+)/.exec(error.details)?.[1];
    const why = errno === undefined ? error.details : `connect: ${errno}`;
    return errorForStatus(error.code, `no gmempool daemon answers at ${apiSocket} (${why})`, { operation, cause: error, unreachable: true });
  }
  return errorForStatus(error.code, error.details, { operation, cause: error, errorOffsetBytes: errorOffsetBytes(error.metadata) });
}
