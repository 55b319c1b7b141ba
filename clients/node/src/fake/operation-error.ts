/**
 * Errors name the RPC that failed (`PoolError.operation`), as the real client's do: the fake's
 * rules throw without one and the call wrapper adds the RPC's name.
 */
import {
  CancelledError,
  ConflictError,
  DeadlineExceededError,
  ExhaustedError,
  FailedPreconditionError,
  InternalError,
  InvalidArgumentError,
  NotFoundError,
  PermissionDeniedError,
  UnavailableError,
  UnimplementedError,
  type PoolError,
} from "../pool-errors.ts";

/** The same error (class, message, cause) with `operation`; one that names one already is kept. */
export function withOperation(error: PoolError, operation: string): PoolError {
  if (error.operation !== undefined) return error;
  const options = { operation, cause: error.cause };
  switch (error.kind) {
    case "invalid-argument":
      return new InvalidArgumentError(error.details, options);
    case "not-found":
      return new NotFoundError(error.details, options);
    case "exhausted":
      return new ExhaustedError(error.details, options);
    case "failed-precondition":
      return new FailedPreconditionError(error.details, options);
    case "conflict":
      return new ConflictError(error.details, options);
    case "permission-denied":
      return new PermissionDeniedError(error.details, options);
    case "unavailable":
      return new UnavailableError(error.details, { ...options, errorOffsetBytes: error instanceof UnavailableError ? error.errorOffsetBytes : undefined });
    case "unimplemented":
      return new UnimplementedError(error.details, options);
    case "internal":
      return new InternalError(error.details, options);
    case "deadline-exceeded":
      return new DeadlineExceededError(error.details, options);
    case "cancelled":
      return new CancelledError(error.details, options);
    default: {
      const unknownKind: never = error.kind;
      throw new Error(`unmapped error kind ${String(unknownKind)}`);
    }
  }
}
