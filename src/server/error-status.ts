/**
 * The one table from the daemon's error vocabulary to gRPC status codes (STYLE.md rule 3,
 * docs/api.md "Status codes"). The switch is exhaustive: a new ErrorKind does not compile
 * until it is mapped here. Messages pass through unchanged; they are written for the client.
 *
 * What leaves here is a plain grpc-js status object ({ code, details, metadata }), never an
 * Error with a numeric `.code` (STYLE.md rule 3).
 */
import { Metadata, status, type StatusObject } from "@grpc/grpc-js";
import { isGmempoolError, type ErrorKind } from "../pool/errors.ts";

/** Trailing metadata of Convert IN_PLACE blocked by a pinned page: the first busy offset. */
export const ERROR_OFFSET_METADATA_KEY = "gmempool-error-offset-bytes";

export function statusForErrorKind(kind: ErrorKind): status {
  switch (kind) {
    case "invalid-argument":
      return status.INVALID_ARGUMENT;
    case "not-found":
      return status.NOT_FOUND;
    case "permission-denied":
      return status.PERMISSION_DENIED;
    case "exhausted":
      return status.RESOURCE_EXHAUSTED;
    // A refusal that holds until the caller changes something, and a collision with a call in
    // flight that clears by itself: a machine must tell "refused" from "retry" (docs/api.md).
    case "failed-precondition":
      return status.FAILED_PRECONDITION;
    case "conflict":
      return status.ABORTED;
    case "unavailable":
      return status.UNAVAILABLE;
    case "unimplemented":
      return status.UNIMPLEMENTED;
    case "internal":
      return status.INTERNAL;
    default: {
      const unmapped: never = kind;
      throw new Error(`unmapped error kind ${String(unmapped)}`);
    }
  }
}

/**
 * The status a handler reports for anything thrown by the service or by its own decoding. A
 * GmempoolError keeps its message; anything else is a bug, reported as INTERNAL with its message.
 */
export function statusForError(error: unknown): StatusObject {
  const metadata = new Metadata();
  if (isGmempoolError(error)) {
    if (error.errorOffsetBytes !== undefined) metadata.set(ERROR_OFFSET_METADATA_KEY, String(error.errorOffsetBytes));
    return { code: statusForErrorKind(error.kind), details: error.message, metadata };
  }
  const message = error instanceof Error ? error.message : String(error);
  return { code: status.INTERNAL, details: `internal error: ${message}`, metadata };
}
