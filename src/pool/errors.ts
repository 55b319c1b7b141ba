/**
 * The pool's error vocabulary. Every error names the values that were wrong; the daemon maps
 * `kind` to a gRPC status with one exhaustive switch. No numeric `.code` property on purpose:
 * grpc-js would read it as a status code.
 */
export type PoolErrorKind =
  | "invalid-argument"
  | "not-found"
  | "permission-denied"
  | "exhausted"
  | "failed-precondition"
  | "conflict";

export abstract class PoolError extends Error {
  abstract readonly kind: PoolErrorKind;
  override get name(): string {
    return this.constructor.name;
  }
}

/** A malformed request: unaligned, overflowing, out of range, wrong size. */
export class InvalidArgumentError extends PoolError {
  readonly kind = "invalid-argument";
}

/** An id that names nothing (an arena, lease or plan that does not exist). */
export class NotFoundError extends PoolError {
  readonly kind = "not-found";
}

/** The caller does not own what it names (DESIGN.md §3 invariant 5). */
export class NotOwnerError extends PoolError {
  readonly kind = "permission-denied";
}

/** Not enough free units in the pool, or no contiguous run large enough in an arena. */
export class ExhaustedError extends PoolError {
  readonly kind = "exhausted";
}

/** The request is well-formed but the current policy or state forbids it. */
export class FailedPreconditionError extends PoolError {
  readonly kind = "failed-precondition";
}

/** The request collides with other state: overlapping placement, a kernel call in flight. */
export class ConflictError extends PoolError {
  readonly kind = "conflict";
}
