/**
 * SO_PEERCRED of a unix `net.Socket` accepted by the daemon's gRPC listener.
 *
 * The kernel port has SO_PEERCRED only for its own SEQPACKET connections (`peer`); for a
 * socket owned by Node's net module it offers nothing, so this reads the fd libuv keeps in the
 * socket's handle (`_handle.fd`, an internal but long-stable field on Linux) and calls the
 * port's koffi getsockopt binding on it. The fd is borrowed: it stays Node's.
 */
import type { Socket } from "node:net";
import type { PeerCredentials } from "../daemon/pool-service.ts";
import { asFd } from "@gmempool/sys";
import { peerCredentials } from "../kvm/seqpacket.ts";

export function socketPeerCredentials(socket: Socket): PeerCredentials {
  const handle = (socket as unknown as { _handle?: { fd?: unknown } })._handle;
  const fd = handle?.fd;
  if (typeof fd !== "number" || fd < 0) throw new Error("the accepted socket has no file descriptor (not a unix socket accepted by net.Server?)");
  return peerCredentials(asFd(fd));
}
