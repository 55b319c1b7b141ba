/**
 * What systemd is to a Type=notify service, for tests: an AF_UNIX SOCK_DGRAM socket at a path
 * (the daemon's NOTIFY_SOCKET) that collects every sd_notify datagram with the fds it carried
 * (FDSTORE=1). Read with non-blocking recvmsg on a 5 ms timer: tests need no event-loop
 * integration, and a poll handle left open could abort Node at exit.
 *
 * The socket and every fd received are owned here until `takeFds` hands some out; `close`
 * closes the rest.
 */
import { rmSync } from "node:fs";
import {
  AF_UNIX,
  asFd,
  errnoName,
  type Fd,
  IncomingMessageBuffers,
  lastErrno,
  libc,
  MSG_CMSG_CLOEXEC,
  MSG_DONTWAIT,
  SOCK_CLOEXEC,
  sockaddr_un,
  stableBuffer,
} from "@gmempool/sys";

const SOCK_DGRAM = 2;
const POLL_MS = 5;

export interface NotifyMessage {
  /** The datagram's text ("READY=1\nSTATUS=serving"), as key=value lines. */
  readonly text: string;
  readonly fields: ReadonlyMap<string, string>;
  readonly fds: readonly Fd[];
}

export class NotifySocket {
  readonly path: string;
  readonly messages: NotifyMessage[] = [];
  readonly #fd: Fd;
  readonly #buffers = new IncomingMessageBuffers(4096, 8);
  readonly #timer: NodeJS.Timeout;
  #owned = new Set<Fd>();

  constructor(path: string) {
    this.path = path;
    const fd = libc.socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd === -1) throw new Error(`socket(AF_UNIX, SOCK_DGRAM): ${errnoName(lastErrno())}`);
    this.#fd = asFd(fd);
    const address = stableBuffer(sockaddr_un.size);
    address.writeUInt16LE(AF_UNIX, 0);
    Buffer.from(path, "utf8").copy(address, 2);
    if (libc.bind(fd, address, sockaddr_un.size) === -1) {
      const errno = lastErrno();
      libc.close(fd);
      throw new Error(`bind(${path}): ${errnoName(errno)}`);
    }
    this.#timer = setInterval(() => {
      this.#drain();
    }, POLL_MS);
  }

  #drain(): void {
    for (;;) {
      this.#buffers.reset();
      const received = libc.recvmsg(this.#fd, this.#buffers.header, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
      if (received === -1) return; // EAGAIN: nothing more queued
      const fds = this.#buffers.fds();
      for (const fd of fds) this.#owned.add(fd);
      const text = Buffer.from(this.#buffers.payload(received)).toString("utf8");
      const fields = new Map(text.split("\n").filter((l) => l.includes("=")).map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)] as [string, string]));
      this.messages.push({ text, fields, fds });
    }
  }

  /** Resolves with the first message (already received or arriving within `timeoutMs`) that matches. */
  async waitFor(match: (m: NotifyMessage) => boolean, timeoutMs = 5000): Promise<NotifyMessage> {
    const start = performance.now();
    for (;;) {
      this.#drain();
      const found = this.messages.find(match);
      if (found !== undefined) return found;
      if (performance.now() - start > timeoutMs) throw new Error(`no matching sd_notify message within ${timeoutMs} ms; got:\n${this.messages.map((m) => m.text).join("\n---\n")}`);
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  }

  /** Hands `fd` (one this socket received) to the caller, who must close it. */
  takeFd(fd: Fd): Fd {
    if (!this.#owned.delete(fd)) throw new Error(`fd ${fd} was not received here or was already taken`);
    return fd;
  }

  close(): void {
    clearInterval(this.#timer);
    for (const fd of this.#owned) libc.close(fd);
    this.#owned = new Set();
    libc.close(this.#fd);
    rmSync(this.path, { force: true });
  }
}
