/**
 * The fd channel's wire format (proto/gmempool/v1/fd_channel.proto, docs/api.md "The fd
 * channel"): one SEQPACKET datagram is one message, a fixed 64-byte little-endian header, then
 * (replies only) at most 192 bytes of UTF-8 detail text. File descriptors travel only in
 * SCM_RIGHTS ancillary data; nothing in this header is ever an fd.
 *
 * The numbers (header size, magic, version, FdMessageKind, FdType) are the wire contract's,
 * @gmempool/contract's fd-message-format.ts, which checks them against the proto.
 */

import { FD_CHANNEL_VERSION, FD_MESSAGE_HEADER_BYTES, FD_MESSAGE_MAGIC, FD_MESSAGE_MAX_DETAIL_BYTES, FD_TOKEN_BYTES } from "@gmempool/contract";

/** One decoded header. 64-bit fields are bigint; `token` is a copy. */
export interface FdMessage {
  readonly version: number;
  readonly kind: number;
  /** A gRPC status code number; 0 = OK. */
  readonly status: number;
  readonly fdType: number;
  readonly sequence: bigint;
  readonly sizeBytes: bigint;
  readonly token: Uint8Array;
  readonly detailBytes: number;
  readonly flags: number;
  readonly reserved: bigint;
}

/** What the daemon writes: a header (defaults 0) and optional detail text. */
export interface FdMessageFields {
  readonly version?: number;
  readonly kind: number;
  readonly status?: number;
  readonly fdType?: number;
  readonly sequence?: bigint;
  readonly sizeBytes?: bigint;
  readonly token?: Uint8Array;
  readonly flags?: number;
  readonly reserved?: bigint;
  /** Truncated to FD_MESSAGE_MAX_DETAIL_BYTES on a UTF-8 character boundary. */
  readonly detail?: string;
}

/** A datagram that is not a well-formed message; the connection is closed after the reply. */
export interface FramingError {
  readonly framingError: string;
}

/** The result of reading one request datagram. */
export type DecodedRequest = { readonly message: FdMessage } | FramingError;

const UINT64_MASK = (1n << 64n) - 1n;

/** The detail text as UTF-8, cut to at most `max` bytes without splitting a character. */
export function truncateDetail(detail: string, max = FD_MESSAGE_MAX_DETAIL_BYTES): Buffer {
  const bytes = Buffer.from(detail, "utf8");
  if (bytes.length <= max) return bytes;
  let end = max;
  // Back up over UTF-8 continuation bytes (10xxxxxx) so a character is never split.
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--;
  return bytes.subarray(0, end);
}

/** Encodes one message: the 64-byte header, then the detail text. */
export function encodeFdMessage(fields: FdMessageFields): Uint8Array {
  const detail = truncateDetail(fields.detail ?? "");
  const out = Buffer.alloc(FD_MESSAGE_HEADER_BYTES + detail.length);
  out.writeUInt32LE(FD_MESSAGE_MAGIC, 0);
  out.writeUInt16LE(fields.version ?? FD_CHANNEL_VERSION, 4);
  out.writeUInt16LE(fields.kind, 6);
  out.writeUInt32LE(fields.status ?? 0, 8);
  out.writeUInt32LE(fields.fdType ?? 0, 12);
  out.writeBigUInt64LE((fields.sequence ?? 0n) & UINT64_MASK, 16);
  out.writeBigUInt64LE((fields.sizeBytes ?? 0n) & UINT64_MASK, 24);
  if (fields.token !== undefined) {
    if (fields.token.length !== FD_TOKEN_BYTES) throw new RangeError(`a token is ${FD_TOKEN_BYTES} bytes, got ${fields.token.length}`);
    out.set(fields.token, 32);
  }
  out.writeUInt32LE(detail.length, 48);
  out.writeUInt32LE(fields.flags ?? 0, 52);
  out.writeBigUInt64LE((fields.reserved ?? 0n) & UINT64_MASK, 56);
  detail.copy(out, FD_MESSAGE_HEADER_BYTES);
  return new Uint8Array(out.buffer, out.byteOffset, out.length);
}

/** Reads the header of any message (request or reply) without judging it. */
export function readFdMessageHeader(payload: Uint8Array): FdMessage {
  if (payload.length < FD_MESSAGE_HEADER_BYTES) throw new RangeError(`an fd channel message is at least ${FD_MESSAGE_HEADER_BYTES} bytes, got ${payload.length}`);
  const b = Buffer.from(payload.buffer, payload.byteOffset, payload.length);
  return {
    version: b.readUInt16LE(4),
    kind: b.readUInt16LE(6),
    status: b.readUInt32LE(8),
    fdType: b.readUInt32LE(12),
    sequence: b.readBigUInt64LE(16),
    sizeBytes: b.readBigUInt64LE(24),
    token: new Uint8Array(b.subarray(32, 48)),
    detailBytes: b.readUInt32LE(48),
    flags: b.readUInt32LE(52),
    reserved: b.readBigUInt64LE(56),
  };
}

/** The detail text of a reply (for clients and tests). */
export function readFdMessageDetail(payload: Uint8Array): string {
  const header = readFdMessageHeader(payload);
  const end = Math.min(payload.length, FD_MESSAGE_HEADER_BYTES + header.detailBytes);
  return Buffer.from(payload.buffer, payload.byteOffset + FD_MESSAGE_HEADER_BYTES, end - FD_MESSAGE_HEADER_BYTES).toString("utf8");
}

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
