/**
 * `gmempool`: the daemon's command line and composition root — the only place that constructs
 * the real kernel port and wires the daemon to the transport (DESIGN.md §4).
 *
 *   gmempool serve [--config FILE] [--runtime-dir DIR] [--log-level LEVEL]
 *
 * Without --config the embedded default runs (config.ts DEFAULT_CONFIG: reserve `auto`, which
 * is `none` with shmem memfd arenas unless root with /dev/kvm), so that `npm start` works on
 * any machine. The runtime directory follows @gmempool/contract's runtime-dir.ts (the rule
 * clients find it by); config `paths.runtime_dir` is used only when neither --runtime-dir nor
 * GMEMPOOL_RUNTIME_DIR is given.
 *
 * Signals: SIGTERM / SIGINT stop gracefully (gmempool-process.ts); a second one exits at once.
 * SIGHUP re-reads the config file and re-applies its pool-wide policy (without --config: the
 * embedded default policy).
 */
import { join } from "node:path";
import { Command, Option } from "commander";
import { pino, type Logger } from "pino";
import { ConfigError, DEFAULT_CONFIG, loadConfig, policyUpdateOf, type DaemonConfig } from "../daemon/config.ts";
import { PoolManager } from "../daemon/pool-manager.ts";
import { processUptimeMs } from "../daemon/process-uptime.ts";
import { LinuxKernel } from "../kvm/linux-kernel.ts";
import { GmempoolProcess } from "./gmempool-process.ts";
import { RUNTIME_DIR_ENV, daemonSockets, defaultRuntimeDir } from "@gmempool/contract";
import { socketPeerCredentials } from "./socket-peer-credentials.ts";
import { SystemdFdStore, takeListenFds, underSystemd } from "./systemd-fd-store.ts";

const VERSION = "0.1.0";

interface ServeOptions {
  readonly config?: string;
  readonly runtimeDir?: string;
  readonly logLevel: string;
}

async function readConfig(path: string | undefined): Promise<DaemonConfig> {
  return path === undefined ? embeddedDefault() : loadConfig(path);
}

/**
 * The embedded default, with the daemon's own uid as an admin besides root: whoever runs the
 * daemon already controls it (can signal it, read its memory), so being its admin adds nothing,
 * and a newcomer's `npm start` + `gmempool arenas --all` works without root. A config file is
 * authoritative: it names its admins itself.
 */
function embeddedDefault(): DaemonConfig {
  const uid = process.getuid?.();
  if (uid === undefined || DEFAULT_CONFIG.admin.uids.includes(uid)) return DEFAULT_CONFIG;
  return { ...DEFAULT_CONFIG, admin: { ...DEFAULT_CONFIG.admin, uids: [...DEFAULT_CONFIG.admin.uids, uid] } };
}

export async function serve(options: ServeOptions, logger: Logger): Promise<GmempoolProcess> {
  const config = await readConfig(options.config);
  const fromEnv = process.env[RUNTIME_DIR_ENV];
  const explicit = options.runtimeDir ?? (fromEnv === undefined || fromEnv === "" ? config.paths.runtimeDir : undefined);
  const paths = daemonSockets(defaultRuntimeDir(explicit));
  logger.info({ uptimeMs: processUptimeMs(), runtimeDir: paths.runtimeDir, config: options.config ?? "(embedded default)" }, "starting gmempool");
  const kernel = new LinuxKernel({ maxInFlight: config.limits.kernelParallelism });
  // Under systemd (Type=notify, FileDescriptorStoreMax=) arena files live on in the fd store
  // across restarts and come back as LISTEN_FDS; elsewhere VMMs re-register after a restart.
  const systemd = underSystemd();
  const inheritedFds = takeListenFds();
  if (systemd) logger.info({ inheritedFds: [...inheritedFds.keys()] }, "systemd: using the fd store");
  const daemon = new PoolManager({
    config,
    kernel,
    logger: logger.child({ component: "daemon" }),
    journalDir: config.paths.journalDir ?? join(paths.runtimeDir, "journal"),
    daemonVersion: VERSION,
    ...(systemd ? { fdStore: new SystemdFdStore(logger.child({ component: "fd-store" })), inheritedFds } : {}),
  });
  // Fds passed without a store to use them (not under systemd) are nobody's: close them.
  if (!systemd) for (const fd of inheritedFds.values()) kernel.close(fd);
  try {
    const server = {
      metricsPerArena: config.metrics.perArena,
      metricsAddress: config.metrics.address,
      eventLoopResolutionMs: config.metrics.eventLoopResolutionMs,
      maxStreamsPerConnection: config.limits.streamsPerConnection,
      maxPendingFdTokens: config.limits.fdTokensPerConnection,
      maxPendingFdTokensPerUid: config.limits.fdTokensPerUid,
      connectionLimits: { maxConnections: config.limits.connections, maxConnectionsPerUid: config.limits.connectionsPerUid },
    };
    return await GmempoolProcess.start({ daemon, kernel, logger, paths, peerCredentials: socketPeerCredentials, socketGroup: config.paths.socketGroup, server });
  } catch (error) {
    kernel.release();
    throw error;
  }
}

function installSignals(running: GmempoolProcess, options: ServeOptions, logger: Logger): void {
  let stopping = false;
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) {
      logger.warn({ signal }, "second signal: exiting now");
      process.exit(1);
    }
    stopping = true;
    running.stop(signal).then(
      () => process.exit(0),
      (error: unknown) => {
        logger.fatal({ err: error }, "shutdown failed");
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
  process.on("SIGHUP", () => {
    readConfig(options.config)
      .then((config) => running.reload(policyUpdateOf(config)))
      .catch((error: unknown) => {
        logger.error({ err: error }, "SIGHUP: policy not reloaded");
      });
  });
}

export function program(): Command {
  const cli = new Command("gmempool").description("Owns VM guest memory in 2 MiB units and serves it to VMMs over gRPC").version(VERSION);
  cli
    .command("serve")
    .description("run the daemon: API, fd channel and metrics sockets in the runtime directory")
    .option("--config <file>", "TOML configuration file (default: the embedded default)")
    .option("--runtime-dir <dir>", `where the sockets go (default: $${RUNTIME_DIR_ENV}, /run/gmempool as root, $XDG_RUNTIME_DIR/gmempool, ./run)`)
    .addOption(new Option("--log-level <level>", "pino log level").choices(["fatal", "error", "warn", "info", "debug", "trace"]).default(process.env["GMEMPOOL_LOG_LEVEL"] ?? "info"))
    .action(async (options: ServeOptions) => {
      const logger = pino({ level: options.logLevel, base: { pid: process.pid } });
      let running: GmempoolProcess;
      try {
        running = await serve(options, logger);
      } catch (error) {
        logger.fatal({ err: error }, error instanceof ConfigError ? `configuration error: ${error.message}` : `cannot start: ${error instanceof Error ? error.message : String(error)}`);
        process.exitCode = 1;
        return;
      }
      installSignals(running, options, logger);
    });
  return cli;
}

await program().parseAsync(process.argv);
