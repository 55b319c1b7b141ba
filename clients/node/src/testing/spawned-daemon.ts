/**
 * The real gmempool daemon as a child process, for the client library's, the CLI's and the
 * example VMM's tests: the repository's DaemonProcess (src/main/testing/daemon-process.ts, the
 * one spawner of the daemon) with a given TOML config — by default `testConfig()`, which runs
 * anywhere — in a temporary runtime directory. Repository test support, not part of the
 * package; like the test double it may reach into src/ (lint rule).
 *
 * Every process started here is stopped by its owner (`stop` / `kill`), and `removeDir` deletes
 * the runtime directory, so a test leaves the machine as it found it.
 */
import type { ChildProcess } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { DaemonProcess } from "../../../../src/main/testing/daemon-process.ts";

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
  readonly #process: DaemonProcess;

  private constructor(process: DaemonProcess) {
    this.#process = process;
  }

  /** Starts the daemon and resolves once it logs "serving"; kills it (and removes a directory it made) if it does not. */
  static async start(options: SpawnedDaemonOptions = {}): Promise<SpawnedDaemon> {
    const daemon = await DaemonProcess.start({
      config: options.config ?? testConfig(),
      ...(options.dir === undefined ? {} : { dir: options.dir }),
      ...(options.startTimeoutMs === undefined ? {} : { startTimeoutMs: options.startTimeoutMs }),
      // The runtime directory is the one given on the command line, whatever the test's environment says.
      env: { GMEMPOOL_RUNTIME_DIR: "" },
    });
    return new SpawnedDaemon(daemon);
  }

  /** The runtime directory: api.sock, fd.sock, metrics.sock, the journal and the config. */
  get dir(): string {
    return this.#process.paths.runtimeDir;
  }

  get apiSocket(): string {
    return this.#process.paths.apiSocket;
  }

  get fdSocket(): string {
    return this.#process.paths.fdSocket;
  }

  get child(): ChildProcess {
    return this.#process.child;
  }

  /** The daemon's log lines (pino JSON), for assertions and for failure messages. */
  get log(): string[] {
    return this.#process.log;
  }

  get exited(): Promise<number | null> {
    return this.#process.exited;
  }

  /** SIGTERM (graceful shutdown) and wait; resolves with the exit code. */
  stop(): Promise<number | null> {
    return this.#process.stop();
  }

  /** kill -9 and wait. */
  kill(): Promise<void> {
    return this.#process.kill();
  }

  /** Removes the runtime directory (after stop / kill). */
  removeDir(): void {
    this.#process.removeDir();
  }
}
