/**
 * The running daemon process, assembled: the PoolDaemon (built by the caller with its kernel
 * port) behind the GmempoolServer, in a prepared runtime directory; start-up, SIGHUP and
 * SIGTERM sequences. The CLI (gmempool.ts) and the transport tests (with a fake kernel) both
 * start the daemon through here, so they exercise the same wiring.
 *
 * Start: sockets first (reads answer while the reserve populates; mutations are UNAVAILABLE
 * and health NOT_SERVING), then daemon.start(), then health SERVING and READY=1 to systemd.
 * Stop (SIGTERM): STOPPING=1, health NOT_SERVING, daemon.drain() (Watch streams get
 * "draining" and end UNAVAILABLE; in-flight mutations finish), server shutdown (stop
 * accepting, end what is left, tryShutdown with a force timer, fd channel closed, sockets
 * removed), daemon.close() (fds closed, journal flushed), the kernel port released.
 */
import type { Logger } from "pino";
import type { PoolDaemon, PolicyUpdate, Policy } from "../daemon/pool-service.ts";
import type { KernelPort } from "../kvm/kernel-port.ts";
import { GmempoolServer, type GmempoolServerOptions } from "../server/gmempool-server.ts";
import { formatTcpAddress, isLoopback } from "../server/metrics-endpoint.ts";
import type { SocketPeerCredentials } from "../server/grpc/unix-grpc-listener.ts";
import { gmempoolPackageDefinition, type DaemonSockets } from "@gmempool/contract";
import { warmUpCodecs, type CodecWarmUp } from "../server/grpc/codec-warm-up.ts";
import { groupTheSockets, prepareRuntimeDir } from "./runtime-dir-setup.ts";
import { sdNotify } from "./sd-notify.ts";
import { STARTUP_HOUSEKEEPING_DELAY_MS } from "../daemon/daemon-startup.ts";
import { processUptimeMs } from "../daemon/process-uptime.ts";

export interface GmempoolProcessOptions {
  readonly daemon: PoolDaemon;
  readonly kernel: KernelPort;
  readonly logger: Logger;
  readonly paths: DaemonSockets;
  readonly peerCredentials: SocketPeerCredentials;
  /** Transport tuning (token TTL, message limits, grace period). */
  readonly server?: Partial<Pick<GmempoolServerOptions, "fdTokenTtlMs" | "clock" | "maxPendingFdTokens" | "maxPendingFdTokensPerUid" | "maxRequestMessageBytes" | "shutdownGraceMs" | "processMetrics" | "metricsPerArena" | "metricsAddress" | "eventLoopResolutionMs" | "maxStreamsPerConnection" | "connectionLimits" | "socketMode">>;
  /** Serve metrics on paths.metricsSocket (default true). */
  readonly metrics?: boolean;
  /** The VMMs' gid (config paths.socket_group): owns the runtime directory and the sockets. */
  readonly socketGroup?: number | undefined;
}

export class GmempoolProcess {
  readonly daemon: PoolDaemon;
  readonly server: GmempoolServer;
  readonly paths: DaemonSockets;
  readonly #kernel: KernelPort;
  readonly #logger: Logger;
  #stopping: Promise<void> | null = null;
  #codecWarmUp: CodecWarmUp | undefined;

  private constructor(options: GmempoolProcessOptions, server: GmempoolServer) {
    this.daemon = options.daemon;
    this.server = server;
    this.paths = options.paths;
    this.#kernel = options.kernel;
    this.#logger = options.logger;
  }

  /** Binds the sockets and starts the daemon; on failure everything started is stopped again. */
  static async start(options: GmempoolProcessOptions): Promise<GmempoolProcess> {
    await prepareRuntimeDir(options.paths, { socketGroup: options.socketGroup, warn: (message) => options.logger.warn(message) });
    const server = new GmempoolServer({
      service: options.daemon,
      kernel: options.kernel,
      logger: options.logger,
      apiSocketPath: options.paths.apiSocket,
      fdSocketPath: options.paths.fdSocket,
      ...(options.metrics === false ? {} : { metricsSocketPath: options.paths.metricsSocket }),
      peerCredentials: options.peerCredentials,
      ...options.server,
    });
    const process = new GmempoolProcess(options, server);
    try {
      await server.start();
      groupTheSockets(options.paths, options.socketGroup);
      const metricsAddress = server.metricsAddress;
      options.logger.info({ uptimeMs: processUptimeMs(), api: options.paths.apiSocket, fd: options.paths.fdSocket, metrics: options.metrics === false ? null : options.paths.metricsSocket, metricsAddress: metricsAddress === undefined ? null : formatTcpAddress(metricsAddress) }, "listening");
      if (metricsAddress !== undefined && !isLoopback(metricsAddress)) {
        const what = options.server?.metricsPerArena === true ? "the pool's figures and every owner's arena ids (metrics.per_arena)" : "the pool's figures";
        options.logger.warn({ metricsAddress: formatTcpAddress(metricsAddress) }, `metrics.address is not a loopback address: whoever reaches it over the network reads ${what}`);
      }
      await options.daemon.start();
    } catch (error) {
      await process.stop("start-up failed");
      throw error;
    }
    server.updateHealth();
    const notifyFailure = sdNotify("READY=1\nSTATUS=serving");
    if (notifyFailure !== undefined) options.logger.warn({ why: notifyFailure }, "sd_notify READY=1 failed");
    // Off the restart's way: reflection's index is built once the VMMs' reattaches are over.
    setTimeout(() => server.prepareReflection(), STARTUP_HOUSEKEEPING_DELAY_MS).unref();
    // The API's protobuf codecs are generated from now on, one type per task, before calls need them
    // (codec-warm-up.ts: a first call of its kind took 8–14 ms of CPU generating them).
    process.#codecWarmUp = warmUpCodecs(gmempoolPackageDefinition());
    void process.#codecWarmUp.done.then((types) => options.logger.debug({ uptimeMs: processUptimeMs(), types }, "codecs warmed up"));
    const m = options.daemon.metrics();
    options.logger.info({ uptimeMs: processUptimeMs(), capacityUnits: m.capacityUnits, freeUnits: m.freeUnits, leasedUnits: m.leasedUnits, arenas: m.arenaCount }, "serving");
    return process;
  }

  /** SIGHUP: re-applies the configuration's pool-wide policy. */
  async reload(policy: PolicyUpdate): Promise<Policy> {
    const applied = await this.daemon.reloadPolicy(policy);
    this.#logger.info({ policy: applied }, "policy reloaded");
    return applied;
  }

  /** SIGTERM. Idempotent; see the file comment for the order. */
  stop(reason: string): Promise<void> {
    this.#stopping ??= this.#stop(reason);
    return this.#stopping;
  }

  async #stop(reason: string): Promise<void> {
    this.#logger.info({ reason }, "stopping");
    sdNotify("STOPPING=1");
    this.#codecWarmUp?.stop();
    this.server.markNotServing();
    const step = async (name: string, run: () => Promise<void>): Promise<void> => {
      try {
        await run();
      } catch (error) {
        this.#logger.error({ err: error, step: name }, "shutdown step failed; continuing");
      }
    };
    await step("daemon drain", () => this.daemon.drain());
    await step("server shutdown", () => this.server.shutdown());
    await step("daemon close", () => this.daemon.close());
    this.#kernel.release();
    this.#logger.info("stopped");
  }
}
