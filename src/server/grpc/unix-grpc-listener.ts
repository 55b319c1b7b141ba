/**
 * The gRPC API socket: a `net.Server` the daemon owns on a unix socket, so that it can read
 * SO_PEERCRED from every accepted connection (grpc-js cannot: STYLE.md tooling facts) before
 * injecting the connection into grpc-js with `server.createConnectionInjector()`.
 *
 * The socket file is created by listen() with the process umask and then chmod'ed to `mode`
 * (0660: the daemon's user and the VMM group). Until the chmod, the umask (022 for a daemon)
 * leaves it without group/other write permission, so nobody else can connect in between.
 */
import { chmodSync, rmSync } from "node:fs";
import { createServer, type Server as NetServer, type Socket } from "node:net";
import type { Logger } from "pino";
import type { CallerIdentity, PeerCredentials } from "../../daemon/pool-service.ts";
import type { ConnectionCallers } from "./connection-callers.ts";
import { TurnQueue } from "./turn-queue.ts";

/** Reads SO_PEERCRED of an accepted unix socket (the composition root supplies it). */
export type SocketPeerCredentials = (socket: Socket) => PeerCredentials;

/** What grpc-js's `createConnectionInjector` returns. */
export interface ConnectionInjector {
  injectConnection(connection: Socket): void;
  drain(graceTimeMs: number): void;
  destroy(): void;
}

export interface UnixGrpcListenerOptions {
  readonly path: string;
  /** File mode of the socket (default 0o660). */
  readonly mode?: number;
  readonly injector: ConnectionInjector;
  readonly peerCredentials: SocketPeerCredentials;
  readonly service: CallerIdentity;
  readonly callers: ConnectionCallers;
  readonly logger: Logger;
}

export const DEFAULT_SOCKET_MODE = 0o660;

export class UnixGrpcListener {
  readonly path: string;
  readonly #options: UnixGrpcListenerOptions;
  readonly #server: NetServer;
  readonly #sockets = new Set<Socket>();
  readonly #injections = new TurnQueue(2);
  #listening = false;

  constructor(options: UnixGrpcListenerOptions) {
    this.path = options.path;
    this.#options = options;
    this.#server = createServer((socket) => {
      this.#accept(socket);
    });
  }

  get connectionCount(): number {
    return this.#sockets.size;
  }

  #accept(socket: Socket): void {
    let peer: PeerCredentials;
    try {
      peer = this.#options.peerCredentials(socket);
    } catch (error) {
      // Without an identity nothing can be answered: drop the connection.
      this.#options.logger.warn({ err: error }, "api socket: SO_PEERCRED failed; connection dropped");
      socket.destroy();
      return;
    }
    const caller = this.#options.service.identify(peer);
    const tag = this.#options.callers.register(socket, caller);
    this.#sockets.add(socket);
    socket.once("close", () => this.#sockets.delete(socket));
    // grpc-js's set-up of a connection (its HTTP/2 session) is ~0.1 ms: a burst of accepts is
    // handed over a slice per loop turn, and connections over a limit after the others.
    this.#injections.push(() => {
      if (!socket.destroyed) this.#options.injector.injectConnection(socket);
    }, this.#options.callers.isRefused(tag) ? 1 : 0);
  }

  /** Binds `path` (which must not exist) and sets its mode. */
  async listen(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once("error", reject);
      this.#server.listen(this.path, () => {
        this.#server.off("error", reject);
        resolve();
      });
    });
    this.#listening = true;
    chmodSync(this.path, this.#options.mode ?? DEFAULT_SOCKET_MODE);
  }

  /**
   * Stops accepting and removes the socket file. Open connections stay for grpc-js to drain;
   * the promise resolves once the last of them has closed (see destroyConnections).
   */
  stopAccepting(): Promise<void> {
    if (!this.#listening) return Promise.resolve();
    this.#listening = false;
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    rmSync(this.path, { force: true });
    return closed;
  }

  /** Destroys every connection still open (after the grace period). */
  destroyConnections(): void {
    for (const socket of this.#sockets) socket.destroy();
  }
}
