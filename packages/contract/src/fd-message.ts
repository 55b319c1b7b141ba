/**
 * The fd channel's message, encoded and read (fd_channel.proto, docs/api.md "The fd channel"):
 * the one layout of struct gmempool_fd_msg (fd-message-format.ts), used by the daemon, which
 * reads requests and writes replies, and by the client library, which does the reverse. Each
 * side judges what it reads by its own rules (the daemon's framing errors:
 * src/server/fd-channel/fd-message.ts).
 */
import { FD_CHANNEL_VERSION, FD_MESSAGE_HEADER_BYTES, FD_MESSAGE_MAGIC, FD_MESSAGE_MAX_DETAIL_BYTES, FD_TOKEN_BYTES } from "./fd-message-format.ts";

/** One decoded header. 64-bit fields are bigint; `token` is a copy. */
export interface FdMessage {
  readonly magic: number;
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

/** What a side writes: a header (defaults 0) and optional detail text. */
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
    magic: b.readUInt32LE(0),
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

