/**
 * The fd channel's wire format, client side (proto/gmempool/v1/fd_channel.proto, docs/api.md
 * "The fd channel"): one datagram is one message, a fixed 64-byte little-endian header, then
 * (replies only) at most 192 bytes of UTF-8 detail. File descriptors travel only in SCM_RIGHTS;
 * no number in a header is ever an fd.
 *
 *   struct gmempool_fd_msg {
 *     uint32_t magic;      //  0: 0x44464d47 "GMFD"      uint64_t size_bytes;   // 24
 *     uint16_t version;    //  4: 1                      uint8_t  token[16];    // 32
 *     uint16_t kind;       //  6: FdMessageKind          uint32_t detail_bytes; // 48
 *     uint32_t status;     //  8: gRPC code, 0 = OK      uint32_t flags;        // 52: 0
 *     uint32_t fd_type;    // 12: FdType                 uint64_t reserved;     // 56: 0
 *     uint64_t sequence;   // 16: echoed in the reply
 *   };
 *
 * The numbers of FdMessageKind and FdType are fixed by the proto; fd-message.test.ts checks
 * these constants against the loaded proto.
 */
import type { FdType } from "../resources.ts";

export const FD_MESSAGE_HEADER_BYTES = 64;
export const FD_MESSAGE_MAGIC = 0x44464d47;
export const FD_CHANNEL_VERSION = 1;
export const FD_TOKEN_BYTES = 16;

/** FdMessageKind (fd_channel.proto). */
export const FD_MESSAGE_KIND = {
  UNSPECIFIED: 0,
  SEND_FD: 1,
  SEND_FD_REPLY: 2,
  RECEIVE_FD: 3,
  RECEIVE_FD_REPLY: 4,
  FD_DELIVERY: 5,
  CANCEL: 6,
  CANCEL_REPLY: 7,
} as const;

/** FdType (resources.proto) by the client's name. */
export const FD_TYPE_NUMBER: Readonly<Record<FdType, number>> = {
  guest_memfd: 1,
  memfd_shmem: 2,
  memfd_hugetlb: 3,
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
