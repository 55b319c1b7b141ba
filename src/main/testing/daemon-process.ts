/**
 * The real daemon as a child process, for end-to-end tests and benchmarks: `node --import tsx
 * src/main/gmempool.ts serve` in a temporary runtime directory with a given config, its JSON
 * log kept for assertions. Every process started here is stopped by its owner (stop / kill).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { daemonSockets, type DaemonSockets } from "@gmempool/contract";

const ENTRY = fileURLToPath(new URL("../gmempool.ts", import.meta.url));
const REPO = fileURLToPath(new URL("../../..", import.meta.url));

export interface DaemonProcessOptions {
  /** TOML text of the config file; absent: no --config, the embedded default. */
  readonly config?: string;
  /** Run the daemon as this user (the test runs as root): a newcomer without root. */
  readonly runAs?: { readonly uid: number; readonly gid: number };
  /** Reuse a runtime directory (restart after a crash); default: a fresh mkdtemp. */
  readonly dir?: string;
  readonly env?: Readonly<Record<string, string>>;
  /** More node options before the entry point (benchmarks: `--cpu-prof`). */
  readonly nodeArgs?: readonly string[];
  /** pino level (default "debug": the log is kept for assertions; benchmarks use "info"). */
  readonly logLevel?: string;
  /** How long to wait for "serving" (default 60 s). */
  readonly startTimeoutMs?: number;
  /**
   * Fds to pass as systemd does (sd_listen_fds): at 3, 4, ... with LISTEN_FDS, LISTEN_FDNAMES
   * and LISTEN_PID set to the daemon's own pid (a shell sets it to $$, then execs node).
   * Borrowed: the child gets copies.
   */
  readonly listenFds?: readonly { readonly name: string; readonly fd: number }[];
  /**
   * Run this `gmempool` executable — an installed /usr/bin/gmempool, or src/main/gmempool-bin.mjs
   * of this or another checkout (the bundled entry operators run; benchmarks compare it with the
   * source) — instead of the checkout's src/main/gmempool.ts through tsx; `nodeArgs` do not
   * apply to it.
   */
  readonly executable?: string;
}

export class DaemonProcess {
  readonly paths: DaemonSockets;
  readonly child: ChildProcess;
  readonly log: string[] = [];
  readonly exited: Promise<number | null>;

  private constructor(paths: DaemonSockets, child: ChildProcess) {
    this.paths = paths;
    this.child = child;
    this.exited = once(child, "exit").then(([code]) => code as number | null);
  }

  static async start(options: DaemonProcessOptions): Promise<DaemonProcess> {
    const dir = options.dir ?? mkdtempSync(join(tmpdir(), "gmempool-e2e-"));
    const configArgs: string[] = [];
    if (options.config !== undefined) {
      const configPath = join(dir, "gmempool.toml");
      writeFileSync(configPath, options.config);
      configArgs.push("--config", configPath);
    }
    const entry = options.executable === undefined ? [process.execPath, ...(options.nodeArgs ?? []), "--import", "tsx", ENTRY] : [options.executable];
    const argv = [...entry, "serve", ...configArgs, "--runtime-dir", dir, "--log-level", options.logLevel ?? "debug"];
    const listen = options.listenFds ?? [];
    const env = { ...process.env, ...options.env, ...(listen.length === 0 ? {} : { LISTEN_FDS: String(listen.length), LISTEN_FDNAMES: listen.map((l) => l.name).join(":") }) };
    const stdio: ("ignore" | "pipe" | number)[] = ["ignore", "pipe", "pipe", ...listen.map((l) => l.fd)];
    // An installed executable runs from "/", as under systemd: nothing may resolve from the checkout.
    const cwd = options.executable === undefined ? REPO : "/";
    const child =
      listen.length === 0
        ? spawn(argv[0]!, argv.slice(1), { cwd, env, stdio, ...options.runAs })
        : spawn("/bin/sh", ["-c", 'LISTEN_PID=$$ exec "$0" "$@"', ...argv], { cwd, env, stdio, ...options.runAs });
    const daemon = new DaemonProcess(daemonSockets(dir), child);
    let buffered = "";
    const serving = new Promise<void>((resolve, reject) => {
      const onData = (chunk: Buffer): void => {
        buffered += chunk.toString("utf8");
        for (let nl = buffered.indexOf("\n"); nl >= 0; nl = buffered.indexOf("\n")) {
          const line = buffered.slice(0, nl);
          buffered = buffered.slice(nl + 1);
          daemon.log.push(line);
          if (line.includes('"msg":"serving"')) resolve();
        }
      };
      // stdio[1] and [2] are "pipe", so both streams exist.
      child.stdout!.on("data", onData);
      child.stderr!.on("data", (c: Buffer) => daemon.log.push(c.toString("utf8")));
      void daemon.exited.then((code) => reject(new Error(`the daemon exited with ${code} before serving:\n${daemon.log.join("\n")}`)));
    });
    const timeoutMs = options.startTimeoutMs ?? 60_000;
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([serving, new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`the daemon did not serve within ${timeoutMs} ms:\n${daemon.log.join("\n")}`)), timeoutMs)))]);
    } catch (error) {
      daemon.child.kill("SIGKILL");
      await daemon.exited;
      // A directory made here for a daemon that never served is not left behind.
      if (options.dir === undefined) daemon.removeDir();
      throw error;
    } finally {
      clearTimeout(timer);
    }
    return daemon;
  }

  /** SIGTERM and wait; resolves with the exit code. */
  async stop(): Promise<number | null> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill("SIGTERM");
    return this.exited;
  }

  /** kill -9 and wait. */
  async kill(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill("SIGKILL");
    await this.exited;
  }

  /** Removes the runtime directory (after stop/kill). */
  removeDir(): void {
    rmSync(this.paths.runtimeDir, { recursive: true, force: true });
  }
}
