/**
 * The API's error vocabulary (docs/api.md, "Status codes") and the gRPC status each kind goes
 * out as: the one table both the daemon's server (kind -> status, src/server/error-status.ts)
 * and the client library (status -> error class, clients/node/src/pool-errors.ts) read. The
 * daemon's `GmempoolError` (src/pool/errors.ts) takes its `kind` type from here.
 *
 * Codes are grpc-js's `status` (grpc/doc/statuscodes.md). `conflict` (a call in flight; it clears by
 * itself: retry) is ABORTED; `failed-precondition` (a refusal) is FAILED_PRECONDITION.
 */
import { status } from "@grpc/grpc-js";

/**
 * What went wrong, as a client must act on it:
 * - `invalid-argument`: the request is malformed (unaligned, zero, overflowing, unspecified).
 * - `not-found`: the id names nothing the caller may see (another owner's id is not-found too:
 *   DESIGN.md invariant 5).
 * - `permission-denied`: an admin-only request by a non-admin.
 * - `exhausted`: not enough free units, no free run, the host out of memory, a limit reached.
 * - `failed-precondition`: refused in the current state or policy; retrying the same request
 *   does not help until the caller changes something (reattach, release, policy).
 * - `conflict`: collides with a call in flight; it clears by itself: retry with backoff.
 * - `unavailable`: the daemon is starting / draining / cannot journal, or a page stayed pinned.
 * - `unimplemented`: the kernel lacks the capability (named).
 * - `internal`: a bug or an unclassified kernel error; the books stay exact.
 */
export const ERROR_KINDS = [
  "invalid-argument",
  "not-found",
  "permission-denied",
  "exhausted",
  "failed-precondition",
  "conflict",
  "unavailable",
  "unimplemented",
  "internal",
] as const;

export type ErrorKind = (typeof ERROR_KINDS)[number];

/** The gRPC status code of each kind; a kind added to ERROR_KINDS does not compile until mapped. */
export const GRPC_STATUS_OF_KIND: { readonly [K in ErrorKind]: status } = {
  "invalid-argument": status.INVALID_ARGUMENT,
  "not-found": status.NOT_FOUND,
  "permission-denied": status.PERMISSION_DENIED,
  exhausted: status.RESOURCE_EXHAUSTED,
  "failed-precondition": status.FAILED_PRECONDITION,
  conflict: status.ABORTED,
  unavailable: status.UNAVAILABLE,
  unimplemented: status.UNIMPLEMENTED,
  internal: status.INTERNAL,
};

const KIND_OF_STATUS = new Map<number, ErrorKind>(ERROR_KINDS.map((kind) => [GRPC_STATUS_OF_KIND[kind], kind]));

/** The kind a gRPC status code stands for; undefined for codes the API does not use. */
export function errorKindOfStatus(code: number): ErrorKind | undefined {
  return KIND_OF_STATUS.get(code);
}
