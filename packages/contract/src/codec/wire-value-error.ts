/**
 * The one failure of the codec: a value it cannot translate (an enum spelling or number the
 * table does not know, a 64-bit field that is not a decimal integer, a count beyond uint32, a
 * message the proto requires but the peer left out). The codec judges nothing else.
 *
 * Whose fault it is depends on which end translates, so the codec says only the direction and
 * each end classifies it in its own error vocabulary:
 * - "decode" (proto -> resource): the daemon decoding a request answers invalid-argument
 *   (src/server/error-status.ts); the client decoding a reply reports an internal error (a
 *   daemon newer than the client, or a bug: clients/node/src/wire/reply-codec.ts);
 * - "encode" (resource -> proto): the client encoding a caller's request reports the caller's
 *   invalid argument; the daemon encoding its own reply has a bug (internal).
 *
 * No numeric `.code` (grpc-js would read it as a status code).
 */
export type WireDirection = "encode" | "decode";

export class WireValueError extends Error {
  readonly direction: WireDirection;
  /** The field at fault, as the caller named it ("size_bytes" on the daemon, "sizeBytes" in the client). */
  readonly field: string;

  constructor(direction: WireDirection, field: string, message: string) {
    super(message);
    this.direction = direction;
    this.field = field;
  }

  override get name(): string {
    return "WireValueError";
  }
}
