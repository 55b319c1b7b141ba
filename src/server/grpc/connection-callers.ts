/**
 * Who is on the other end of each gRPC connection. grpc-js cannot tell over a unix socket
 * (`call.getPeer()` is "unknown"), so the server owns the listening `net.Server`, reads
 * SO_PEERCRED from each accepted socket before handing it to grpc-js (unix-grpc-listener.ts),
 * and records the Caller here under a tag it writes into the socket's `remoteAddress` — which
 * grpc-js reports back as `call.getPeer()` for every call on that connection.
 *
 * Lifetime: an entry lives from accept until the socket closes. The Caller is computed once per
 * connection (`PoolService.identify` reads /proc/PID/stat): a connection's peer cannot change.
 */
import type { Socket } from "node:net";
import { type Caller } from "../../daemon/pool-service.ts";
import { GmempoolError } from "../../pool/errors.ts";

const TAG_PREFIX = "gmempool-connection:";

export class ConnectionCallers {
  readonly #callers = new Map<string, Caller>();
  #next = 1;

  get size(): number {
    return this.#callers.size;
  }

  /** Tags `socket` and records its caller until the socket closes. */
  register(socket: Socket, caller: Caller): string {
    const tag = `${TAG_PREFIX}${this.#next++}`;
    // net.Socket's remoteAddress is a prototype getter (undefined for a unix socket); an own
    // property shadows it, and grpc-js's getPeer() reads it through the http2 socket proxy.
    Object.defineProperty(socket, "remoteAddress", { value: tag, configurable: true, enumerable: false, writable: false });
    this.#callers.set(tag, caller);
    socket.once("close", () => this.#callers.delete(tag));
    return tag;
  }

  /** The caller of a call (anything with grpc-js's getPeer). */
  callerOf(call: { getPeer(): string }): Caller {
    const caller = this.#callers.get(call.getPeer());
    // Only a connection that did not come through our listener (or is already closed) lands here.
    if (caller === undefined) throw new GmempoolError("unavailable", "the connection's peer is unknown (not accepted by the daemon's listener, or already closed)");
    return caller;
  }
}
