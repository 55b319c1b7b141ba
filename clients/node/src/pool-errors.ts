/**
 * What a failed call throws: one class per error kind of the API's vocabulary (docs/api.md
 * "Status codes"), so that a VMM writes `catch (e) { if (e instanceof ExhaustedError) ... }`
 * or switches on `e.kind`, never on gRPC numbers.
 *
 * The kind carries the meaning; `grpcStatus` names the status it came from ("NOT_FOUND") for
 * logs. No error here has a numeric `.code` (STYLE.md rule 3: grpc-js would read it as a
 * status). The fake client throws the same classes, so tests written against it hold against
 * the daemon.
 */

import { errorKindOfStatus } from "@gmempool/contract";

/** The error vocabulary: the daemon's kinds plus the two a caller causes itself. */
export type PoolErrorKind =
  | "invalid-argument"
  | "not-found"
  | "exhausted"
  | "failed-precondition"
  | "conflict"
  | "permission-denied"
  | "unavailable"
  | "unimplemented"
  | "internal"
  | "deadline-exceeded"
  | "cancelled";

/** The gRPC status names the API uses (docs/api.md), plus the caller's own. */
export type GrpcStatusName =
  | "INVALID_ARGUMENT"
  | "NOT_FOUND"
  | "RESOURCE_EXHAUSTED"
  | "FAILED_PRECONDITION"
  | "ABORTED"
  | "PERMISSION_DENIED"
  | "UNAVAILABLE"
  | "UNIMPLEMENTED"
  | "INTERNAL"
  | "DEADLINE_EXCEEDED"
  | "CANCELLED"
  | "UNKNOWN";

export interface PoolErrorOptions {
  /** The RPC (or fd channel step) that failed, e.g. "Allocate" or "fd channel SEND_FD". */
  readonly operation?: string | undefined;
  readonly cause?: unknown;
}

/** Base class of every error the client library throws for a failed request. */
export abstract class PoolError extends Error {
  abstract readonly kind: PoolErrorKind;
  abstract readonly grpcStatus: GrpcStatusName;
  /** The daemon's message as sent, without the operation prefix. */
  readonly details: string;
  readonly operation: string | undefined;

  constructor(details: string, options: PoolErrorOptions = {}) {
    super(options.operation === undefined ? details : `${options.operation}: ${details}`, options.cause === undefined ? undefined : { cause: options.cause });
    this.details = details;
    this.operation = options.operation;
  }

  override get name(): string {
    return this.constructor.name;
  }
}

/** Unaligned, zero or overflowing offsets / sizes, unspecified enums, malformed ids or tokens. */
export class InvalidArgumentError extends PoolError {
  readonly kind = "invalid-argument" as const;
  readonly grpcStatus = "INVALID_ARGUMENT" as const;
}

/** Unknown ids — including another owner's (the daemon never tells them apart) — and tokens. */
export class NotFoundError extends PoolError {
  readonly kind = "not-found" as const;
  readonly grpcStatus = "NOT_FOUND" as const;
}

/** Not enough free units, no free run big enough, kernel ENOMEM, limits, a Watch that fell behind. */
export class ExhaustedError extends PoolError {
  readonly kind = "exhausted" as const;
  readonly grpcStatus = "RESOURCE_EXHAUSTED" as const;
}

/** Overlaps, ranges not leased, arenas DETACHED / DELETING, sub-unit discard under `reject`, ... */
export class FailedPreconditionError extends PoolError {
  readonly kind = "failed-precondition" as const;
  readonly grpcStatus = "FAILED_PRECONDITION" as const;
}

/**
 * The request collided with another call in flight on the same arena, lease or file (ABORTED).
 * It clears by itself once that call settles: retry with backoff (with the same request id).
 */
export class ConflictError extends PoolError {
  readonly kind = "conflict" as const;
  readonly grpcStatus = "ABORTED" as const;
}

/** An admin-only RPC or field asked by someone who is not the admin identity. */
export class PermissionDeniedError extends PoolError {
  readonly kind = "permission-denied" as const;
  readonly grpcStatus = "PERMISSION_DENIED" as const;
}

export interface UnavailableErrorOptions extends PoolErrorOptions {
  /** Convert IN_PLACE blocked by a pinned page: the first busy offset (trailing metadata). */
  readonly errorOffsetBytes?: bigint | undefined;
  /** True when no daemon answered at all (no socket, connection refused), as opposed to a
   * daemon that answered "starting" or "draining". */
  readonly unreachable?: boolean;
}

/** The daemon is starting, draining or not there; or a conversion met a pinned page. Retry. */
export class UnavailableError extends PoolError {
  readonly kind = "unavailable" as const;
  readonly grpcStatus = "UNAVAILABLE" as const;
  readonly errorOffsetBytes: bigint | undefined;
  readonly unreachable: boolean;

  constructor(details: string, options: UnavailableErrorOptions = {}) {
    super(details, options);
    this.errorOffsetBytes = options.errorOffsetBytes;
    this.unreachable = options.unreachable ?? false;
  }
}

/** The kernel (or this daemon) lacks a capability; the message names it. */
export class UnimplementedError extends PoolError {
  readonly kind = "unimplemented" as const;
  readonly grpcStatus = "UNIMPLEMENTED" as const;
}

/** A daemon bug or an unclassified kernel error; the daemon's state stays exact. */
export class InternalError extends PoolError {
  readonly kind = "internal" as const;
  readonly grpcStatus: "INTERNAL" | "UNKNOWN";

  constructor(details: string, options: PoolErrorOptions & { readonly grpcStatus?: "INTERNAL" | "UNKNOWN" } = {}) {
    super(details, options);
    this.grpcStatus = options.grpcStatus ?? "INTERNAL";
  }
}

/** The call's deadline passed. A mutating call either changed nothing or completed: retry it
 * with the same request id to learn which. */
export class DeadlineExceededError extends PoolError {
  readonly kind = "deadline-exceeded" as const;
  readonly grpcStatus = "DEADLINE_EXCEEDED" as const;
}

/** The caller cancelled (AbortSignal, closed client, ended Watch). */
export class CancelledError extends PoolError {
  readonly kind = "cancelled" as const;
  readonly grpcStatus = "CANCELLED" as const;
}

export function isPoolError(value: unknown): value is PoolError {
  return value instanceof PoolError;
}

/**
 * The error for a gRPC status number (what grpc-js reports, and what the fd channel's replies
 * carry). The API's kinds come from the contract's one status table (@gmempool/contract
 * error-kinds.ts, which the daemon's server maps with too); the caller's own codes (CANCELLED,
 * DEADLINE_EXCEEDED) and UNKNOWN are handled here. Codes the API never uses (ALREADY_EXISTS,
 * OUT_OF_RANGE, DATA_LOSS, UNAUTHENTICATED, ...) are reported as InternalError naming the status,
 * because they mean client and daemon disagree.
 */
export function errorForStatus(code: number, details: string, options: UnavailableErrorOptions = {}): PoolError {
  switch (code) {
    case 1:
      return new CancelledError(details, options);
    case 4:
      return new DeadlineExceededError(details, options);
    case 2:
      return new InternalError(details, { ...options, grpcStatus: "UNKNOWN" });
    default:
      break;
  }
  const kind = errorKindOfStatus(code);
  switch (kind) {
    case "invalid-argument":
      return new InvalidArgumentError(details, options);
    case "not-found":
      return new NotFoundError(details, options);
    case "permission-denied":
      return new PermissionDeniedError(details, options);
    case "exhausted":
      return new ExhaustedError(details, options);
    case "failed-precondition":
      return new FailedPreconditionError(details, options);
    case "conflict":
      return new ConflictError(details, options);
    case "unavailable":
      return new UnavailableError(details, options);
    case "unimplemented":
      return new UnimplementedError(details, options);
    case "internal":
      return new InternalError(details, options);
    case undefined:
      return new InternalError(`unexpected gRPC status ${code} (not in the gmempool API): ${details}`, { ...options, grpcStatus: "UNKNOWN" });
    default: {
      const unmapped: never = kind;
      throw new Error(`unmapped error kind ${String(unmapped)}`);
    }
  }
}
