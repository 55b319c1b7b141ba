/**
 * The fd channel's messages as the client writes and reads them: the layout and its encoder
 * and reader are the wire contract's (@gmempool/contract fd-message.ts, the numbers checked
 * against the proto there); here only the client's request and reply shapes.
 */
import { encodeFdMessage, FD_TYPE_NUMBER, readFdMessageDetail, readFdMessageHeader, type FdMessage } from "@gmempool/contract";
import type { FdType } from "../resources.ts";

/** The FdType number (resources.proto) of each of the client's fd type names. */
export const FD_TYPE_NUMBER_BY_NAME: Readonly<Record<FdType, number>> = {
  guest_memfd: FD_TYPE_NUMBER.GUEST_MEMFD,
  memfd_shmem: FD_TYPE_NUMBER.MEMFD_SHMEM,
  memfd_hugetlb: FD_TYPE_NUMBER.MEMFD_HUGETLB,
  pidfd: FD_TYPE_NUMBER.PIDFD,
};

export interface FdRequest {
  readonly kind: number;
  readonly sequence: bigint;
  readonly fdType?: number;
  readonly token?: Uint8Array;
}

/** A decoded reply or delivery from the daemon: its header, the token as a Buffer, the detail text. */
export interface FdReply extends Omit<FdMessage, "token"> {
  readonly token: Buffer;
  readonly detail: string;
}

/** A request: exactly 64 bytes, flags and reserved 0. */
export function encodeFdRequest(request: FdRequest): Buffer {
  const bytes = encodeFdMessage({ kind: request.kind, sequence: request.sequence, fdType: request.fdType ?? 0, ...(request.token === undefined ? {} : { token: request.token }) });
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
}

/** Decodes a datagram from the daemon; throws for one shorter than a header. */
export function decodeFdReply(payload: Buffer): FdReply {
  const header = readFdMessageHeader(payload);
  return { ...header, token: Buffer.from(header.token), detail: readFdMessageDetail(payload) };
}
