/**
 * Readiness of one socket or pidfd, delivered by the Node event loop (libuv's uv_poll through
 * `koffi.node.poll`). This is how the daemon's kernel port and the client library's fd channel
 * drive SOCK_SEQPACKET sockets without blocking: `net.Socket({ fd })` refuses SEQPACKET.
 *
 * koffi facts (3.3.4, checked here): the callback receives `(status, events)` — koffi's
 * index.d.ts declares only `(events)`; uv_poll_init_socket on an fd that epoll refuses (a regular
 * file, a memfd) aborts the whole process, so poll only sockets and pidfds; an open handle at
 * process exit can abort Node, so every poller is closed by its owner.
 *
 * The poller is level-triggered: it keeps firing while the fd is ready, so owners ask only for
 * what they are waiting for (`want`) and drop interest when satisfied. A started handle keeps
 * the process alive unless `keepAlive(false)` (uv_unref): the client's idle fd channel must not.
 */
import koffi from "koffi";
import type { Fd } from "./fd.ts";

export interface PollEvents {
  /** uv status: 0, or a negative libuv error (the owner then retries its syscall to learn the errno). */
  readonly status: number;
  readonly readable: boolean;
  readonly writable: boolean;
}

interface PollHandleLike {
  start(opts: { readable: boolean; writable: boolean }, callback: (...args: unknown[]) => void): void;
  stop(): void;
  close(): void;
  ref(): void;
  unref(): void;
}

export class FdPoller {
  readonly fd: Fd;
  readonly #onEvent: (events: PollEvents) => void;
  #handle: PollHandleLike | null = null;
  #keepAlive = true;
  #closed = false;

  constructor(fd: Fd, onEvent: (events: PollEvents) => void) {
    this.fd = fd;
    this.#onEvent = onEvent;
  }

  /** Sets what to wait for; both false stops polling (the handle stays, unstarted). */
  want(readable: boolean, writable: boolean): void {
    if (this.#closed) return;
    if (!readable && !writable) {
      this.#handle?.stop();
      return;
    }
    const callback = (...args: unknown[]): void => {
      const status = typeof args[0] === "number" ? args[0] : 0;
      const events = (typeof args[1] === "object" && args[1] !== null ? args[1] : args[0]) as Partial<PollEvents>;
      this.#onEvent({ status, readable: events.readable === true, writable: events.writable === true });
    };
    if (this.#handle === null) {
      this.#handle = koffi.node.poll(this.fd, { readable, writable }, callback);
      if (!this.#keepAlive) this.#handle.unref();
    } else {
      this.#handle.start({ readable, writable }, callback);
    }
  }

  /** Whether the poll keeps the event loop (the process) alive while it waits (uv_ref/uv_unref). */
  keepAlive(alive: boolean): void {
    if (this.#closed || alive === this.#keepAlive) return;
    this.#keepAlive = alive;
    if (alive) this.#handle?.ref();
    else this.#handle?.unref();
  }

  /** Stops and frees the uv handle. Does not close the fd (its owner does, after this). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#handle?.close();
    this.#handle = null;
  }
}
