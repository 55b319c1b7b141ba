/**
 * GET /metrics over HTTP, from one registry, on up to two listeners: the unix socket
 * metrics.sock (0660: whoever may reach the runtime directory) and, when the operator configures
 * `metrics.address`, a TCP address — Prometheus cannot scrape a unix socket (it refuses the
 * target: `invalid scheme: "unix"`). Both listeners share one request handler, so they serve the
 * same text; what that text may show (per-arena series or not) is the registry's business
 * (ServerMetrics, `metrics.per_arena`), not the listener's.
 */
import { chmodSync, rmSync } from "node:fs";
import { createServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from "node:http";
import type { Registry } from "prom-client";
import type { TcpListenAddress } from "../daemon/config.ts";

export interface MetricsListeners {
  /** metrics.sock; absent: no unix listener. */
  readonly socketPath?: string | undefined;
  /** config metrics.address; absent: no TCP listener. */
  readonly tcp?: TcpListenAddress | undefined;
}

/** "127.0.0.1:9464", "[::1]:9464": the spelling of config metrics.address. */
export function formatTcpAddress(address: TcpListenAddress): string {
  return address.host.includes(":") ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`;
}

/** 127.0.0.0/8, ::1 or an IPv4-mapped 127.x: only this host's processes reach it. */
export function isLoopback(address: TcpListenAddress): boolean {
  const host = address.host.toLowerCase();
  return host.startsWith("127.") || host.startsWith("::ffff:127.") || host === "::1";
}

export class MetricsEndpoint {
  readonly #listeners: MetricsListeners;
  readonly #unix: HttpServer | undefined;
  readonly #tcp: HttpServer | undefined;

  constructor(registry: Registry, listeners: MetricsListeners) {
    this.#listeners = listeners;
    const handle = (request: IncomingMessage, response: ServerResponse): void => {
      if (request.method !== "GET" || (request.url !== "/metrics" && request.url !== "/")) {
        response.writeHead(404, { "content-type": "text/plain" }).end("GET /metrics\n");
        return;
      }
      registry.metrics().then(
        (text) => response.writeHead(200, { "content-type": registry.contentType }).end(text),
        (error: unknown) => response.writeHead(500, { "content-type": "text/plain" }).end(`${error instanceof Error ? error.message : String(error)}\n`),
      );
    };
    this.#unix = listeners.socketPath === undefined ? undefined : createServer(handle);
    this.#tcp = listeners.tcp === undefined ? undefined : createServer(handle);
  }

  /** The TCP address as bound (the port the kernel gave when configured as 0), or undefined. */
  get tcpAddress(): TcpListenAddress | undefined {
    const bound = this.#tcp?.address();
    if (bound === null || bound === undefined || typeof bound === "string") return undefined;
    return { host: bound.address, port: bound.port };
  }

  /** Binds the unix socket (then sets its mode) and the TCP address; a failure names the listener. */
  async listen(socketMode = 0o660): Promise<void> {
    const { socketPath, tcp } = this.#listeners;
    if (this.#unix !== undefined && socketPath !== undefined) {
      await bind(this.#unix, socketPath, (server, ready) => server.listen(socketPath, ready));
      chmodSync(socketPath, socketMode);
    }
    if (this.#tcp !== undefined && tcp !== undefined) await bind(this.#tcp, `metrics.address ${formatTcpAddress(tcp)}`, (server, ready) => server.listen({ host: tcp.host, port: tcp.port }, ready));
  }

  /** Closes both listeners and their connections (Prometheus keeps its own alive); removes metrics.sock. */
  async close(): Promise<void> {
    await Promise.all([this.#unix, this.#tcp].filter((server) => server !== undefined).map(closeServer));
    if (this.#listeners.socketPath !== undefined) rmSync(this.#listeners.socketPath, { force: true });
  }
}

async function bind(server: HttpServer, what: string, listen: (server: HttpServer, ready: () => void) => void): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const failed = (error: Error): void => reject(new Error(`metrics: cannot listen on ${what}: ${error.message}`));
    server.once("error", failed);
    listen(server, () => {
      server.off("error", failed);
      resolve();
    });
  });
}

async function closeServer(server: HttpServer): Promise<void> {
  server.closeAllConnections();
  // A server that never listened (start-up failed first) calls back with ERR_SERVER_NOT_RUNNING: nothing to close.
  await new Promise<void>((resolve) => server.close(() => resolve()));
}
