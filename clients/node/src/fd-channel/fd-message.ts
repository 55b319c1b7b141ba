/**
 * The fd channel's wire format, client side (proto/gmempool/v1/fd_channel.proto, docs/api.md
 * "The fd channel"): one datagram is one message, a fixed 64-byte little-endian header, then
 * (replies only) at most 192 bytes of UTF-8 detail. File descriptors travel only in SCM_RIGHTS;
 * no number in a header is ever an fd.
 *
 * The numbers (header size, magic, version, FdMessageKind, FdType) are the wire contract's,
 * @gmempool/contract's fd-message-format.ts, which checks them against the proto.
 */
import { FD_CHANNEL_VERSION, FD_MESSAGE_HEADER_BYTES, FD_MESSAGE_MAGIC, FD_TOKEN_BYTES, FD_TYPE_NUMBER } from "@gmempool/contract";
import type { FdType } from "../resources.ts";

/** The FdType number (resources.proto) of each of the client's fd type names. */
export const FD_TYPE_NUMBER_BY_NAME: Readonly<Record<FdType, number>> = {
  guest_memfd: FD_TYPE_NUMBER.GUEST_MEMFD,
  memfd_shmem: FD_TYPE_NUMBER.MEMFD_SHMEM,
  memfd_hugetlb: FD_TYPE_NUMBER.MEMFD_HUGETLB,
};

export interface FdRequest {
  readonly kind: number;
  readonly sequence: bigint;
  readonly fdType?: number;
  readonly token?: Uint8Array;
}

/** A decoded reply or delivery from the daemon. */
export interface FdReply {
  readonly magic: number;
  readonly version: number;
  readonly kind: number;
  /** gRPC status number; 0 = OK. */
  readonly status: number;
  readonly fdType: number;
  readonly sequence: bigint;
  readonly sizeBytes: bigint;
  readonly token: Buffer;
  readonly detail: string;
}

/** A request: exactly 64 bytes, flags and reserved 0. */
export function encodeFdRequest(request: FdRequest): Buffer {
  const out = Buffer.alloc(FD_MESSAGE_HEADER_BYTES);
  out.writeUInt32LE(FD_MESSAGE_MAGIC, 0);
  out.writeUInt16LE(FD_CHANNEL_VERSION, 4);
  out.writeUInt16LE(request.kind, 6);
  out.writeUInt32LE(request.fdType ?? 0, 12);
  out.writeBigUInt64LE(request.sequence, 16);
  if (request.token !== undefined) {
    if (request.token.length !== FD_TOKEN_BYTES) throw new RangeError(`a token is ${FD_TOKEN_BYTES} bytes, got ${request.token.length}`);
    out.set(request.token, 32);
  }
  return out;
}

/** Decodes a datagram from the daemon; throws for one shorter than a header. */
export function decodeFdReply(payload: Buffer): FdReply {
  if (payload.length < FD_MESSAGE_HEADER_BYTES) throw new RangeError(`an fd channel message is at least ${FD_MESSAGE_HEADER_BYTES} bytes, got ${payload.length}`);
  const detailBytes = payload.readUInt32LE(48);
  return {
    magic: payload.readUInt32LE(0),
    version: payload.readUInt16LE(4),
    kind: payload.readUInt16LE(6),
    status: payload.readUInt32LE(8),
    fdType: payload.readUInt32LE(12),
    sequence: payload.readBigUInt64LE(16),
    sizeBytes: payload.readBigUInt64LE(24),
    token: Buffer.from(payload.subarray(32, 48)),
    detail: payload.subarray(FD_MESSAGE_HEADER_BYTES, Math.min(payload.length, FD_MESSAGE_HEADER_BYTES + detailBytes)).toString("utf8"),
  };
}
