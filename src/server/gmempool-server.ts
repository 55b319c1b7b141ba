/**
 * The transport, assembled: the gRPC server (Pool, Admin, grpc.health.v1, reflection) on a unix
 * socket the daemon owns, the fd channel on a SEQPACKET socket, and the metrics endpoint
 * (metrics.sock, and a TCP address when configured) — all in front of ONE PoolService. The composition root (src/main) builds the service and the
 * kernel port and hands them in; nothing here constructs either.
 *
 * Lifetime: `start()` binds the sockets (paths must not exist) and the metrics TCP address; `shutdown()` is the SIGTERM
 * path after the daemon's drain(): health NOT_SERVING, stop accepting, end Watch streams, let
 * grpc-js finish in-flight calls (tryShutdown) with a forceShutdown timer, close the fd
 * channel (revoking tokens, closing the fds they hold), close the metrics listeners, remove the
 * socket files.
 */
import * as grpc from "@grpc/grpc-js";
import type * as protoLoader from "@grpc/proto-loader";
import type { Logger } from "pino";
import { phaseTimer, type PhaseTimer } from "../daemon/phase-timer.ts";
import { DEFAULT_CONFIG, type TcpListenAddress } from "../daemon/config.ts";
import type { PoolService } from "../daemon/pool-service.ts";
import type { Clock } from "../kvm/clock.ts";
import type { KernelPort } from "../kvm/kernel-port.ts";
import { FdChannelServer } from "./fd-channel/fd-channel-server.ts";
import type { FdTokenTable } from "./fd-channel/fd-token-table.ts";
import type { ConnectionCallers, ConnectionLimits } from "./grpc/connection-callers.ts";
import { warnIfHeld } from "./grpc/handler-context.ts";
import { HealthService, type ServingStatus } from "./grpc/health-service.ts";
import { Reflection } from "./grpc/reflection.ts";
import { DEFAULT_SOCKET_MODE, UnixGrpcListener, type SocketPeerCredentials } from "./grpc/unix-grpc-listener.ts";
import type { WatchRegistry } from "./grpc/watch-handler.ts";
import { MetricsEndpoint } from "./metrics-endpoint.ts";
import { ServerMetrics } from "./metrics.ts";
import { ServiceHandlers } from "./service-handlers.ts";
import { tolerantDeserializers } from "./request-decoding.ts";
import { gmempoolPackageDefinition } from "@gmempool/contract";

/** Largest response: a fragmentation map of many arenas can be big; 64 MiB is grpc's usual cap. */
export const DEFAULT_MAX_RESPONSE_MESSAGE_BYTES = 64 * 1024 * 1024;
/** How long in-flight calls get to finish at shutdown before connections are cut. */
export /** How long shutdown waits for clients to close their connections after the last call ended. */
const CONNECTION_CLOSE_WAIT_MS = 1000;
const DEFAULT_SHUTDOWN_GRACE_MS = 5000;

export interface GmempoolServerOptions {
  readonly service: PoolService;
  readonly kernel: Pick<KernelPort, "listenSeqpacket" | "close">;
  readonly logger: Logger;
  readonly apiSocketPath: string;
  readonly fdSocketPath: string;
  /** Where to serve GET /metrics (HTTP on a unix socket); absent: not there. */
  readonly metricsSocketPath?: string;
  /** A TCP address to serve GET /metrics on too (config metrics.address; port 0: any free port); absent: none. */
  readonly metricsAddress?: TcpListenAddress | undefined;
  /** SO_PEERCRED of an accepted api socket. */
  readonly peerCredentials: SocketPeerCredentials;
  readonly socketMode?: number;
  readonly maxRequestMessageBytes?: number;
  readonly maxResponseMessageBytes?: number;
  readonly fdTokenTtlMs?: number;
  /** Times the fd tokens' TTL (default: the real clock; tests pass a ManualClock). */
  readonly clock?: Clock;
  /** fd-channel tokens one connection may hold unused (config limits.fd_tokens_per_connection). */
  readonly maxPendingFdTokens?: number;
  /** ... and one uid over all its connections (config limits.fd_tokens_per_uid; default 4 × the former). */
  readonly maxPendingFdTokensPerUid?: number;
  readonly shutdownGraceMs?: number;
  /** Node process metrics (event loop lag, heap) in the registry; default true. */
  readonly processMetrics?: boolean;
  /** API connections in all and per uid (config limits.connections, limits.connections_per_uid). */
  readonly connectionLimits?: ConnectionLimits;
  /** Per-arena series (arena ids, owner identities) in the metrics; default false (config metrics.per_arena). */
  readonly metricsPerArena?: boolean;
  /** Resolution of the event-loop delay metrics, ms (config metrics.event_loop_resolution). */
  readonly eventLoopResolutionMs?: number;
  /** HTTP/2 streams one API connection may have open (config limits.streams_per_connection). */
  readonly maxStreamsPerConnection?: number;
}

function service(definition: protoLoader.PackageDefinition, name: string, logger: Logger): grpc.ServiceDefinition {
  const d = definition[name];
  if (d === undefined || "format" in d) throw new Error(`${name} is not a service in the loaded protos`);
  const tolerant = tolerantDeserializers(d, (method, ms) => warnIfHeld(logger, method, "decode", ms));
  return phaseTimer === undefined ? tolerant : timedCodec(phaseTimer, tolerant);
}

/** Debug only (phase-timer.ts): each method's request decode and response encode, timed. */
function timedCodec(timer: PhaseTimer, definition: grpc.ServiceDefinition): grpc.ServiceDefinition {
  return Object.fromEntries(
    Object.entries(definition).map(([method, m]) => {
      const requestDeserialize = (bytes: Buffer): unknown => {
        const t = timer.now();
        const request: unknown = m.requestDeserialize(bytes);
        timer.record(method, "decode", t);
        return request;
      };
      const responseSerialize = (value: unknown): Buffer => {
        const t = timer.now();
        const bytes = m.responseSerialize(value);
        timer.record(method, "encode", t);
        return bytes;
      };
      return [method, { ...m, requestDeserialize, responseSerialize }];
    }),
  );
}

export class GmempoolServer {
  readonly grpc: grpc.Server;
  readonly tokens: FdTokenTable;
  readonly callers: ConnectionCallers;
  readonly watches: WatchRegistry;
  readonly fdChannel: FdChannelServer;
  readonly metrics: ServerMetrics;
  readonly #options: GmempoolServerOptions;
  readonly #reflection = new Reflection();
  readonly #health = new HealthService({ "": "NOT_SERVING", "gmempool.v1.Pool": "NOT_SERVING", "gmempool.v1.Admin": "NOT_SERVING" });
  readonly #injector: grpc.ConnectionInjector;
  readonly #listeners: UnixGrpcListener[] = [];
  readonly #metricsEndpoint: MetricsEndpoint;
  readonly #logger: Logger;
  #shutdown: Promise<void> | null = null;
  #stopping = false;

  constructor(options: GmempoolServerOptions) {
    this.#options = options;
    this.#logger = options.logger;
    // The gauges read the tables below lazily, once they exist.
    this.metrics = new ServerMetrics(
      options.service,
      {
        apiConnections: () => this.#listeners.reduce((n, l) => n + l.connectionCount, 0),
        fdConnections: () => this.fdChannel.connectionCount,
        pendingFdTokens: () => this.tokens.size,
        watchStreams: () => this.watches.size,
      },
      { processMetrics: options.processMetrics ?? true, perArena: options.metricsPerArena ?? false, ...(options.eventLoopResolutionMs === undefined ? {} : { eventLoopResolutionMs: options.eventLoopResolutionMs }) },
    );
    const handlers = new ServiceHandlers({
      service: options.service,
      closeFd: (fd) => {
        options.kernel.close(fd);
      },
      logger: options.logger,
      fdSocketPath: options.fdSocketPath,
      fdTokenTtlMs: options.fdTokenTtlMs,
      maxPendingFdTokens: options.maxPendingFdTokens,
      maxPendingFdTokensPerUid: options.maxPendingFdTokensPerUid,
      maxRequestMessageBytes: options.maxRequestMessageBytes,
      clock: options.clock,
      connectionLimits: options.connectionLimits,
      metrics: () => this.metrics,
    });
    this.tokens = handlers.tokens;
    this.callers = handlers.callers;
    this.watches = handlers.watches;
    this.fdChannel = new FdChannelServer({ path: options.fdSocketPath, mode: options.socketMode ?? DEFAULT_SOCKET_MODE, kernel: options.kernel, service: options.service, tokens: this.tokens, logger: options.logger.child({ component: "fd-channel" }), ...(options.connectionLimits === undefined ? {} : { maxConnectionsPerUid: options.connectionLimits.maxConnectionsPerUid }) });
    this.grpc = new grpc.Server({
      "grpc.max_receive_message_length": handlers.maxRequestMessageBytes,
      "grpc.max_send_message_length": options.maxResponseMessageBytes ?? DEFAULT_MAX_RESPONSE_MESSAGE_BYTES,
      // SETTINGS_MAX_CONCURRENT_STREAMS: node's http2 session starts every stream of one socket
      // read in one task, ~0.4 ms of call set-up each once the codecs are warm (CPU profile,
      // bench flood): the limit bounds that burst. Clients queue calls past it; extra HEADERS
      // are refused by nghttp2 before any JS runs (docs/server.md, "Streams per connection").
      "grpc.max_concurrent_streams": options.maxStreamsPerConnection ?? DEFAULT_CONFIG.limits.streamsPerConnection,
    });
    const definition = gmempoolPackageDefinition();
    this.grpc.addService(service(definition, "gmempool.v1.Pool", this.#logger), handlers.pool);
    this.grpc.addService(service(definition, "gmempool.v1.Admin", this.#logger), handlers.admin);
    this.#health.addToServer(this.grpc);
    this.#reflection.addToServer(this.grpc);
    this.#injector = this.grpc.createConnectionInjector(grpc.ServerCredentials.createInsecure());
    this.#metricsEndpoint = new MetricsEndpoint(this.metrics.registry, { socketPath: options.metricsSocketPath, tcp: options.metricsAddress });
  }

  /** Binds the api, fd and metrics sockets and the metrics TCP address. */
  async start(): Promise<void> {
    await this.addApiListener(this.#options.apiSocketPath, this.#options.peerCredentials);
    this.fdChannel.listen();
    await this.#metricsEndpoint.listen(this.#options.socketMode ?? DEFAULT_SOCKET_MODE);
    this.updateHealth();
  }

  /**
   * Starts reflection's worker now rather than at the first reflection request (Reflection: it
   * builds the index on a thread of its own). GmempoolProcess calls it a while after serving,
   * so that its CPU is not taken from the restart's reattaches.
   */
  prepareReflection(): void {
    this.#reflection.prepare();
  }

  /** The metrics TCP address as bound (after start), or undefined when none is configured. */
  get metricsAddress(): TcpListenAddress | undefined {
    return this.#metricsEndpoint.tcpAddress;
  }

  /**
   * Serves the API on one more unix socket whose peers are identified by `peerCredentials`
   * (tests use this to give each simulated process its own socket and identity).
   */
  async addApiListener(path: string, peerCredentials: SocketPeerCredentials): Promise<UnixGrpcListener> {
    const listener = new UnixGrpcListener({
      path,
      mode: this.#options.socketMode ?? DEFAULT_SOCKET_MODE,
      injector: this.#injector,
      peerCredentials,
      service: this.#options.service,
      callers: this.callers,
      logger: this.#logger,
    });
    await listener.listen();
    this.#listeners.push(listener);
    return listener;
  }

  /** grpc.health.v1 from now on reports NOT_SERVING (the process is stopping). */
  markNotServing(): void {
    this.#stopping = true;
    this.updateHealth();
  }

  /** grpc.health.v1 follows the daemon: SERVING only while it serves and we are not stopping. */
  updateHealth(): void {
    const state: ServingStatus = this.#options.service.servingState() === "serving" && !this.#stopping ? "SERVING" : "NOT_SERVING";
    for (const name of ["", "gmempool.v1.Pool", "gmempool.v1.Admin"]) this.#health.setStatus(name, state);
  }

  /** See the file comment. Idempotent. */
  shutdown(): Promise<void> {
    this.#shutdown ??= this.#doShutdown();
    return this.#shutdown;
  }

  async #doShutdown(): Promise<void> {
    this.markNotServing();
    const closed = this.#listeners.map((l) => l.stopAccepting());
    this.watches.endAll();
    const grace = this.#options.shutdownGraceMs ?? DEFAULT_SHUTDOWN_GRACE_MS;
    await new Promise<void>((resolve) => {
      const force = setTimeout(() => {
        this.#logger.warn({ graceMs: grace }, "calls still running after the grace period: forcing shutdown");
        this.grpc.forceShutdown();
        resolve();
      }, grace);
      this.#injector.drain(grace);
      this.grpc.tryShutdown(() => {
        clearTimeout(force);
        resolve();
      });
    });
    // tryShutdown's callback does not mean the last frames (a Watch's "draining" status, its
    // UNAVAILABLE trailers) have left the socket: destroying now dropped them, and clients saw
    // "Connection dropped" instead. Clients close their end once the GOAWAY and their streams'
    // ends arrive, so wait for that, for a bounded time, before destroying what is left.
    await Promise.race([Promise.all(closed), new Promise((resolve) => setTimeout(resolve, Math.min(grace, CONNECTION_CLOSE_WAIT_MS)).unref())]);
    this.#injector.destroy();
    for (const l of this.#listeners) l.destroyConnections();
    await Promise.all(closed);
    await this.fdChannel.close();
    this.tokens.revokeAll();
    await this.#metricsEndpoint.close();
    await this.#reflection.close();
    this.metrics.close();
  }
}
