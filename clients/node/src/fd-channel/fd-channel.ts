/**
 * What PoolClient needs of an fd channel connection: the socket one (fd-channel-client.ts, the
 * SEQPACKET protocol of docs/api.md) or the test double's in-process one
 * (test-double/in-process-fd-channel.ts). Ownership as fd-channel-client.ts states it: an fd
 * passed to `sendFd` is borrowed; a delivered fd belongs to its FdDelivery until taken.
 */
import type { FdType } from "../resources.ts";
import type { FdDelivery } from "./fd-delivery.ts";

/** A SEND_FD the daemon accepted: the token to name in the gRPC call, and what it found. */
export interface SentFd {
  readonly token: Buffer;
  /** The type the daemon verified. */
  readonly fdType: FdType;
  readonly sizeBytes: bigint;
}

export interface FdChannel {
  readonly closed: boolean;
  /** SEND_FD: `fd` (borrowed) claimed to be `fdType`; resolves with the token, rejects with the daemon's error. */
  sendFd(fd: number, fdType: FdType, deadline: number): Promise<SentFd>;
  /** RECEIVE_FD: a token and the delivery that will bring its fd (take it or abandon it). */
  receiveFd(deadline: number): Promise<FdDelivery>;
  /** Forgets a delivery (after take or abandon). */
  forget(delivery: FdDelivery): void;
  /** CANCEL: revokes a pending token; resolves false if the daemon had no such token (used, expired). */
  cancel(token: Buffer, deadline: number): Promise<boolean>;
  /** Closes the connection; pending requests and deliveries fail with UnavailableError. Idempotent. */
  close(): void;
}

/** Opens a connection; `onClose` is called once when it ends by the daemon's doing (not by `close()`). */
export type FdChannelConnector = (options: { readonly onClose: (error: Error | null) => void }) => Promise<FdChannel>;
