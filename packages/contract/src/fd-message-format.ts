/**
 * The fd channel's message format (proto/gmempool/v1/fd_channel.proto, docs/api.md "The fd
 * channel"), the numbers both ends must agree on: one SEQPACKET datagram is one message, a fixed
 * 64-byte little-endian header, then (replies only) at most 192 bytes of UTF-8 detail text.
 * File descriptors travel only in SCM_RIGHTS ancillary data; nothing in the header is an fd.
 * fd-message.ts encodes and reads it, for the daemon and the client library alike.
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
 * The numbers of FdMessageKind and FdType are fixed by the proto. With `enums: String` the
 * generated const objects hold names, so the numbers are kept here and checked against the
 * loaded protos in fd-message-format.test.ts.
 */

/** struct gmempool_fd_msg is exactly this long; requests are exactly this long. */
export const FD_MESSAGE_HEADER_BYTES = 64;
/** The bytes "GMFD" read as a little-endian uint32. */
export const FD_MESSAGE_MAGIC = 0x44464d47;
/** The highest (and only) channel protocol version. */
export const FD_CHANNEL_VERSION = 1;
/** Replies carry at most this much detail text after the header. */
export const FD_MESSAGE_MAX_DETAIL_BYTES = 192;
/** Tokens are 16 random bytes. */
export const FD_TOKEN_BYTES = 16;

/** FdMessageKind numbers (fd_channel.proto), by the enum value's name without its prefix. */
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

/** FdType numbers (resources.proto), by the enum value's name without its prefix. */
export const FD_TYPE_NUMBER = {
  UNSPECIFIED: 0,
  GUEST_MEMFD: 1,
  MEMFD_SHMEM: 2,
  MEMFD_HUGETLB: 3,
  PIDFD: 4,
} as const;
