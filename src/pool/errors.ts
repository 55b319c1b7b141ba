/**
 * gmempool's one error vocabulary (STYLE.md rule 3). Every layer throws `GmempoolError`: the
 * pool core, the daemon (which classifies kernel errno into it) and the transport, which maps
 * `kind` to a gRPC status with one exhaustive switch (src/server/error-status.ts). Wrapping an
 * error keeps its kind and fields; nothing is ever re-classified from its message text.
 *
 * It lives in the bottom layer because the core is the first to throw it and loads nothing
 * (DESIGN.md §4); every layer above imports it from here. Its kinds are the wire contract's
 * (a type import: erased, the core still loads no module).
 *
 * No numeric `.code` property on purpose: grpc-js would read it as a status code.
 */
import type { ErrorKind } from "@gmempool/contract";

/** What went wrong, as a client must act on it: the API's kinds, defined once in the wire
 * contract (packages/contract/src/error-kinds.ts), a type import only (the core loads nothing). */
export type { ErrorKind };

/** What an error is about, for machines (the message says the same for people). */
export interface ErrorFields {
  /** The kind of thing named: "arena", "lease", "units", "file", "daemon", "journal", ... */
  readonly resource?: string;
  /** Its id, when it has one (never another owner's: invariant 5). */
  readonly id?: string;
  /** The request field at fault, in proto spelling ("unit_count", "offset_bytes"). */
  readonly field?: string;
  /** The offending value as text. */
  readonly value?: string;
  /** Convert IN_PLACE blocked by a pinned page: the first busy byte offset. */
  readonly errorOffsetBytes?: bigint;
}

export interface ErrorOptions extends ErrorFields {
  readonly cause?: unknown;
}

export class GmempoolError extends Error {
  readonly kind: ErrorKind;
  readonly fields: ErrorFields;

  constructor(kind: ErrorKind, message: string, options: ErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    const { cause: _cause, ...fields } = options;
    this.kind = kind;
    this.fields = fields;
  }

  override get name(): string {
    return this.constructor.name;
  }

  get errorOffsetBytes(): bigint | undefined {
    return this.fields.errorOffsetBytes;
  }

  /**
   * The same failure told with more context (`message`, which usually quotes this one): its
   * kind kept, its fields merged with `fields`, this error as the cause. The one way a layer
   * wraps an error: the kind survives every layer.
   */
  rephrase(message: string, fields: ErrorFields = {}): GmempoolError {
    return new GmempoolError(this.kind, message, { ...this.fields, ...fields, cause: this });
  }
}

export function isGmempoolError(error: unknown, kind?: ErrorKind): error is GmempoolError {
  return error instanceof GmempoolError && (kind === undefined || error.kind === kind);
}

// The core's throw sites name their kind by class; each is a GmempoolError of that kind.

/** A malformed request: unaligned, overflowing, out of range, wrong size. */
export class InvalidArgumentError extends GmempoolError {
  constructor(message: string, options: ErrorOptions = {}) {
    super("invalid-argument", message, options);
  }
}

/**
 * An id that names nothing the caller may see: unknown, or another owner's (DESIGN.md
 * invariant 5: both read alike, `arena "x" does not exist`).
 */
export class NotFoundError extends GmempoolError {
  constructor(message: string, options: ErrorOptions = {}) {
    super("not-found", message, options);
  }
}

/** Not enough free units in the pool, or no contiguous run large enough in an arena. */
export class ExhaustedError extends GmempoolError {
  constructor(message: string, options: ErrorOptions = {}) {
    super("exhausted", message, options);
  }
}

/** The request is well-formed but the current policy or state refuses it. */
export class FailedPreconditionError extends GmempoolError {
  constructor(message: string, options: ErrorOptions = {}) {
    super("failed-precondition", message, options);
  }
}

/** The request collides with a kernel call in flight; it clears by itself (retry). */
export class ConflictError extends GmempoolError {
  constructor(message: string, options: ErrorOptions = {}) {
    super("conflict", message, options);
  }
}
