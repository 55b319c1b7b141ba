/**
 * The fd channel's requests as the daemon reads them: the message layout is the contract's
 * (@gmempool/contract fd-message.ts); what is here is the daemon's framing rule
 * (fd_channel.proto "Failure semantics").
 */
import { FD_MESSAGE_HEADER_BYTES, FD_MESSAGE_MAGIC, readFdMessageHeader, type FdMessage } from "@gmempool/contract";

export { encodeFdMessage, readFdMessageDetail, readFdMessageHeader, truncateDetail, type FdMessage, type FdMessageFields } from "@gmempool/contract";

/** A datagram that is not a well-formed message; the connection is closed after the reply. */
export interface FramingError {
  readonly framingError: string;
}

/** The result of reading one request datagram. */
export type DecodedRequest = { readonly message: FdMessage } | FramingError;

/**
 * Decodes a request datagram. Framing errors (fd_channel.proto "Failure semantics"): shorter
 * than 64 bytes, wrong magic, longer than 64 bytes. Everything else (version, kind, flags) is
 * judged by the channel, which answers request-level errors and keeps the connection.
 */
export function decodeFdRequest(payload: Uint8Array): DecodedRequest {
  if (payload.length < FD_MESSAGE_HEADER_BYTES) return { framingError: `a request is ${FD_MESSAGE_HEADER_BYTES} bytes, got a datagram of ${payload.length}` };
  const magic = Buffer.from(payload.buffer, payload.byteOffset, 4).readUInt32LE(0);
  if (magic !== FD_MESSAGE_MAGIC) return { framingError: `bad magic 0x${magic.toString(16).padStart(8, "0")}, expected 0x${FD_MESSAGE_MAGIC.toString(16)} ("GMFD")` };
  if (payload.length > FD_MESSAGE_HEADER_BYTES) return { framingError: `a request is exactly ${FD_MESSAGE_HEADER_BYTES} bytes, got ${payload.length}` };
  return { message: readFdMessageHeader(payload) };
}
