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
import { type Caller } from "../../daemon/pool-service.ts";
import { GmempoolError } from "../../pool/errors.ts";

const TAG_PREFIX = "gmempool-connection:";

/** Connections of limits.connections only the admin may open, so an operator can always get in. */
export const CONNECTIONS_KEPT_FOR_ADMIN = 4;
/** How long a refused connection stays, to answer its first calls with the reason, before it is closed. */
const DEFAULT_REFUSED_LINGER_MS = 1000;

export interface ConnectionLimits {
  /** API connections open at once, in all (the last CONNECTIONS_KEPT_FOR_ADMIN are the admin's). */
  readonly maxConnections: number;
  /** API connections one uid may hold open over all its processes (the admin's not counted). */
  readonly maxConnectionsPerUid: number;
  readonly refusedLingerMs?: number;
}

export const DEFAULT_CONNECTION_LIMITS: ConnectionLimits = { maxConnections: 1024, maxConnectionsPerUid: 64 };

interface Entry {
  readonly caller: Caller;
  /** Set for a connection past a limit: every call on it answers this. */
  readonly refused: GmempoolError | undefined;
}

interface TaggableSocket {
  once(event: "close", listener: () => void): unknown;
  destroy(): void;
}

export class ConnectionCallers {
  readonly #entries = new Map<string, Entry>();
  readonly #limits: ConnectionLimits;
  #next = 1;

  constructor(limits: ConnectionLimits = DEFAULT_CONNECTION_LIMITS) {
    this.#limits = limits;
  }

  get size(): number {
    return this.#entries.size;
  }

  /**
   * Tags `socket` and records its caller until the socket closes. A connection past a limit
   * (per uid, or the global one with room kept for the admin) is recorded as refused: its calls
   * answer exhausted naming the limit, and it is closed after a moment (issue 12).
   */
  register(socket: TaggableSocket, caller: Caller): string {
    const tag = `${TAG_PREFIX}${this.#next++}`;
    // net.Socket's remoteAddress is a prototype getter (undefined for a unix socket); an own
    // property shadows it, and grpc-js's getPeer() reads it through the http2 socket proxy.
    Object.defineProperty(socket, "remoteAddress", { value: tag, configurable: true, enumerable: false, writable: false });
    const refused = this.#refusal(caller);
    this.#entries.set(tag, { caller, refused });
    socket.once("close", () => this.#entries.delete(tag));
    if (refused !== undefined) setTimeout(() => socket.destroy(), this.#limits.refusedLingerMs ?? DEFAULT_REFUSED_LINGER_MS).unref();
    return tag;
  }

  /** Whether the connection of `tag` is over a limit (its calls are answered with the refusal). */
  isRefused(tag: string): boolean {
    return this.#entries.get(tag)?.refused !== undefined;
  }

  /** The caller of a call (anything with grpc-js's getPeer); throws the refusal of a refused connection. */
  callerOf(call: { getPeer(): string }): Caller {
    const entry = this.#entries.get(call.getPeer());
    // Only a connection that did not come through our listener (or is already closed) lands here.
    if (entry === undefined) throw new GmempoolError("unavailable", "the connection's peer is unknown (not accepted by the daemon's listener, or already closed)");
    if (entry.refused !== undefined) throw entry.refused;
    return entry.caller;
  }

  #refusal(caller: Caller): GmempoolError | undefined {
    if (caller.isAdmin) return undefined;
    const { maxConnections, maxConnectionsPerUid } = this.#limits;
    let others = 0;
    let mine = 0;
    for (const e of this.#entries.values()) {
      if (e.refused !== undefined || e.caller.isAdmin) continue;
      others++;
      if (e.caller.uid === caller.uid) mine++;
    }
    if (mine >= maxConnectionsPerUid) return new GmempoolError("exhausted", `uid ${caller.uid} has ${mine} API connections open (limits.connections_per_uid = ${maxConnectionsPerUid}); this one is closed`, { value: String(caller.uid) });
    const kept = maxConnections > CONNECTIONS_KEPT_FOR_ADMIN ? CONNECTIONS_KEPT_FOR_ADMIN : 0;
    if (others >= maxConnections - kept) return new GmempoolError("exhausted", `${others} API connections of callers other than the admin are open (limits.connections = ${maxConnections}, the last ${kept} kept for the admin); this one is closed`, { value: String(others) });
    return undefined;
  }
}
