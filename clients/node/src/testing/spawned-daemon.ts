/**
 * The real gmempool daemon as a child process, for the client library's, the CLI's and the
 * example VMM's tests: `gmempool serve` in a temporary runtime directory with a given TOML
 * config. The daemon is started by its executable's path (the repository's
 * `src/main/gmempool-bin.mjs`), never imported: clients import nothing from src/ (DESIGN.md §4).
 *
 * Every process started here is stopped by its owner (`stop` / `kill`), and `removeDir` deletes
 * the runtime directory, so a test leaves the machine as it found it.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root (this file is clients/node/src/testing/). */
export const REPO_ROOT = fileURLToPath(new URL("../../../../", import.meta.url));
/** The `gmempool` executable of this checkout. */
export const GMEMPOOL_BIN = join(REPO_ROOT, "src/main/gmempool-bin.mjs");

export interface SpawnedDaemonOptions {
  /** TOML text of the config file (default: `testConfig()`). */
  readonly config?: string;
  /** Reuse a runtime directory (a restart); default: a fresh mkdtemp. */
  readonly dir?: string;
  /** How long to wait for the "serving" log line (default 60 s). */
  readonly startTimeoutMs?: number;
}

/**
 * A small pool with no reserve (runs anywhere, without root or /dev/kvm), this process's uid as
 * admin, and no fsync (tests do not need durability against power loss, only against kill -9).
 * `extra` is appended (more TOML tables).
 */
export function testConfig(options: { readonly capacity?: string; readonly reserve?: "none" | "gmem" | "hugetlb" | "auto"; readonly extra?: string } = {}): string {
  const uid = process.getuid?.() ?? 0;
  return [
    "[pool]",
    `capacity = "${options.capacity ?? "256MiB"}"`,
    `reserve = "${options.reserve ?? "none"}"`,
    "[admin]",
    `uids = [${uid}]`,
    "[journal]",
    "fsync = false",
    options.extra ?? "",
  ].join("\n");
}

export class SpawnedDaemon {
  /** The runtime directory: api.sock, fd.sock, metrics.sock, the journal and the config. */
  readonly dir: string;
  readonly child: ChildProcess;
  /** The daemon's log lines (pino JSON), for assertions and for failure messages. */
  readonly log: string[] = [];
  readonly exited: Promise<number | null>;

  private constructor(dir: string, child: ChildProcess) {
    this.dir = dir;
    this.child = child;
    this.exited = once(child, "exit").then(([code]) => code as number | null);
  }

  get apiSocket(): string {
    return join(this.dir, "api.sock");
  }

  get fdSocket(): string {
    return join(this.dir, "fd.sock");
  }

  /** Starts the daemon and resolves once it logs "serving"; kills it if it does not. */
  static async start(options: SpawnedDaemonOptions = {}): Promise<SpawnedDaemon> {
    const dir = options.dir ?? mkdtempSync(join(tmpdir(), "gmempool-client-"));
    const configPath = join(dir, "gmempool.toml");
    writeFileSync(configPath, options.config ?? testConfig());
    const child = spawn(process.execPath, [GMEMPOOL_BIN, "serve", "--config", configPath, "--runtime-dir", dir, "--log-level", "debug"], {
      cwd: REPO_ROOT,
      env: { ...process.env, GMEMPOOL_RUNTIME_DIR: "" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const daemon = new SpawnedDaemon(dir, child);
    let buffered = "";
    const serving = new Promise<void>((resolve, reject) => {
      child.stdout.on("data", (chunk: Buffer) => {
        buffered += chunk.toString("utf8");
        for (let nl = buffered.indexOf("\n"); nl >= 0; nl = buffered.indexOf("\n")) {
          const line = buffered.slice(0, nl);
          buffered = buffered.slice(nl + 1);
          daemon.log.push(line);
          if (line.includes('"msg":"serving"')) resolve();
        }
      });
      child.stderr.on("data", (chunk: Buffer) => daemon.log.push(chunk.toString("utf8")));
      void daemon.exited.then((code) => {
        reject(new Error(`the daemon exited with ${code} before serving:\n${daemon.log.join("\n")}`));
      });
    });
    const timeoutMs = options.startTimeoutMs ?? 60_000;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        reject(new Error(`the daemon did not serve within ${timeoutMs} ms:\n${daemon.log.join("\n")}`));
      }, timeoutMs);
    });
    try {
      await Promise.race([serving, timeout]);
    } catch (error) {
      await daemon.kill();
      if (options.dir === undefined) daemon.removeDir();
      throw error;
    } finally {
      clearTimeout(timer);
    }
    return daemon;
  }

  /** SIGTERM (graceful shutdown) and wait; resolves with the exit code. */
  async stop(): Promise<number | null> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill("SIGTERM");
    return this.exited;
  }

  /** kill -9 and wait. */
  async kill(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill("SIGKILL");
    await this.exited;
  }

  /** Removes the runtime directory (after stop / kill). */
  removeDir(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}
