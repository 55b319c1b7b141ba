/**
 * From the daemon's error vocabulary to gRPC statuses (STYLE.md rule 3, docs/api.md "Status
 * codes"), through the contract's one kind -> status table (a new kind does not compile until
 * it is mapped there). Messages pass through unchanged; they are written for the client.
 *
 * What leaves here is a plain grpc-js status object ({ code, details, metadata }), never an
 * Error with a numeric `.code` (STYLE.md rule 3).
 */
import { ERROR_OFFSET_METADATA_KEY, GRPC_STATUS_OF_KIND, WireValueError } from "@gmempool/contract";
import { Metadata, status, type StatusObject } from "@grpc/grpc-js";
import { isGmempoolError, type ErrorKind } from "../pool/errors.ts";


/**
 * The status of a kind: the contract's one table (packages/contract/src/error-kinds.ts), whose
 * type makes a kind without a status fail the build. The core's kinds are the contract's (a
 * test holds src/pool/errors.ts to it).
 */
export function statusForErrorKind(kind: ErrorKind): status {
  return GRPC_STATUS_OF_KIND[kind];
}

/**
 * The status a handler reports for anything thrown by the service or by its own decoding. A
 * GmempoolError keeps its message. A WireValueError is the contract's codec refusing a value: in
 * a request it decodes, the client's invalid argument (the message names the field); in a reply
 * it encodes, the daemon's bug. Anything else is a bug, reported as INTERNAL with its message.
 */
export function statusForError(error: unknown): StatusObject {
  const metadata = new Metadata();
  if (isGmempoolError(error)) {
    if (error.errorOffsetBytes !== undefined) metadata.set(ERROR_OFFSET_METADATA_KEY, String(error.errorOffsetBytes));
    return { code: statusForErrorKind(error.kind), details: error.message, metadata };
  }
  if (error instanceof WireValueError && error.direction === "decode") return { code: statusForErrorKind("invalid-argument"), details: error.message, metadata };
  const message = error instanceof Error ? error.message : String(error);
  return { code: status.INTERNAL, details: `internal error: ${message}`, metadata };
}
