/**
 * sd_notify(3) without libsystemd: one datagram to $NOTIFY_SOCKET (a path, or "@name" for the
 * abstract namespace), optionally with fds in SCM_RIGHTS (FDSTORE=1). Node's dgram module has
 * no AF_UNIX, so this uses the kernel port's koffi bindings (socket, sendmsg).
 *
 * A missing NOTIFY_SOCKET means "not under systemd (Type=notify)": every call is a no-op.
 * Failures are returned, not thrown: a daemon must not die because its supervisor went away.
 */
import koffi from "koffi";
import {
  AF_UNIX,
  errnoName,
  type Fd,
  lastErrno,
  libc,
  MSG_NOSIGNAL,
  msghdr,
  OutgoingMessage,
  SOCK_CLOEXEC,
  sockaddr_un,
  stableBuffer,
} from "@gmempool/sys";

const SOCK_DGRAM = 2;

/** The address of $NOTIFY_SOCKET, or undefined when it is not set. */
function notifyAddress(socketPath: string): { address: Buffer; length: number } {
  const abstract = socketPath.startsWith("@");
  const bytes = Buffer.from(abstract ? socketPath.slice(1) : socketPath, "utf8");
  if (bytes.length === 0 || bytes.length > 107) throw new RangeError(`NOTIFY_SOCKET of ${bytes.length} bytes`);
  const address = stableBuffer(sockaddr_un.size);
  address.writeUInt16LE(AF_UNIX, 0);
  // Abstract: a leading NUL, the name, no terminator (the length says where it ends).
  bytes.copy(address, abstract ? 3 : 2);
  return { address, length: 2 + (abstract ? 1 : 0) + bytes.length + (abstract ? 0 : 1) };
}

/**
 * Sends `state` ("READY=1", "STOPPING=1", "STATUS=...", "FDSTORE=1\nFDNAME=x") with `fds`
 * (borrowed). Returns undefined on success or when not under systemd, else why it failed.
 */
export function sdNotify(state: string, fds: readonly Fd[] = [], env: Readonly<Record<string, string | undefined>> = process.env): string | undefined {
  const socketPath = env["NOTIFY_SOCKET"];
  if (socketPath === undefined || socketPath === "") return undefined;
  let target: { address: Buffer; length: number };
  try {
    target = notifyAddress(socketPath);
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
  const fd = libc.socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd === -1) return `socket(AF_UNIX, SOCK_DGRAM) failed: ${errnoName(lastErrno())}`;
  try {
    const message = new OutgoingMessage(Buffer.from(state, "utf8"), fds);
    koffi.encode(message.header, koffi.offsetof(msghdr, "msg_name"), "uint64_t", koffi.address(target.address));
    koffi.encode(message.header, koffi.offsetof(msghdr, "msg_namelen"), "uint32_t", target.length);
    const sent = libc.sendmsg(fd, message.header, MSG_NOSIGNAL);
    if (sent === -1) return `sendmsg(${socketPath}) failed: ${errnoName(lastErrno())}`;
    return undefined;
  } finally {
    libc.close(fd);
  }
}
