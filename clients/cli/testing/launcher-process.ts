/**
 * `gmempool run` as its own process, for the launcher's tests: the real executable, its VMM's
 * output collected (the VMM inherits the launcher's stdin, stdout and stderr: `write` reaches
 * the VMM, also after the launcher is gone), lines awaited by pattern. stdin is a FIFO, not
 * Node's stdio pipe: Node destroys a child's stdin stream when the child exits, and the VMM
 * must still be reachable after its launcher is killed. `stop()` kills the launcher and the VMM
 * it reported (which outlives a killed launcher by design), so a test leaves no process behind.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GMEMPOOL_BIN, REPO_ROOT } from "../../node/src/testing/spawned-daemon.ts";

const CLOSE_GRACE_MS = 200;

export class LauncherProcess {
  readonly child: ChildProcess;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  #output = "";
  readonly #waiters = new Set<() => void>();
  readonly #fifoDir: string;
  /** Our fd of the stdin FIFO, opened read-write (so neither open blocks); written by `write`. */
  readonly #stdin: number;

  private constructor(child: ChildProcess, fifoDir: string, stdin: number) {
    this.child = child;
    this.#fifoDir = fifoDir;
    this.#stdin = stdin;
    const collect = (chunk: Buffer): void => {
      this.#output += chunk.toString("utf8");
      for (const waiter of [...this.#waiters]) waiter();
    };
    child.stdout!.on("data", collect);
    child.stderr!.on("data", collect);
    // "exit", not "close": the VMM inherits the launcher's stdout and stderr and keeps them
    // open after a killed launcher is gone.
    // open after a killed launcher is gone. Its own last output is read until "close", or
    // for CLOSE_GRACE_MS when the VMM still holds the pipes.
    const closed = once(child, "close");
    this.exited = once(child, "exit").then(async ([code, signal]) => {
      await Promise.race([closed, new Promise((resolve) => setTimeout(resolve, CLOSE_GRACE_MS))]);
      return { code: code as number | null, signal: signal as NodeJS.Signals | null };
    });
  }

  static start(runtimeDir: string, args: readonly string[]): LauncherProcess {
    const fifoDir = mkdtempSync(join(tmpdir(), "gmempool-launcher-"));
    const fifo = join(fifoDir, "stdin");
    execFileSync("mkfifo", [fifo]);
    const stdin = openSync(fifo, "r+");
    const child = spawn(process.execPath, [GMEMPOOL_BIN, "run", "--runtime-dir", runtimeDir, ...args], { cwd: REPO_ROOT, stdio: [stdin, "pipe", "pipe"] });
    return new LauncherProcess(child, fifoDir, stdin);
  }

  /** Writes to the launcher's stdin, which the VMM inherited (QEMU -nographic: the serial console). */
  write(text: string): void {
    writeSync(this.#stdin, text);
  }

  /** stdout and stderr of the launcher and its VMM so far. */
  get output(): string {
    return this.#output;
  }

  /** Resolves with the first match of `pattern` in the output; rejects after `timeoutMs` or when the launcher's output ends without one. */
  waitFor(pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        const match = pattern.exec(this.#output);
        if (match === null) return;
        done();
        resolve(match);
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`no ${pattern} within ${timeoutMs} ms; output so far:\n${this.#output}`));
      }, timeoutMs);
      const done = (): void => {
        clearTimeout(timer);
        this.#waiters.delete(check);
      };
      this.#waiters.add(check);
      check();
    });
  }

  /** The VMM's pid, from the launcher's "owned by … (pid N)" line. */
  async vmmPid(timeoutMs: number): Promise<number> {
    return Number((await this.waitFor(/is owned by .* \(pid (\d+)\)/, timeoutMs))[1]);
  }

  /** Kills the launcher and (when it got that far) its VMM. */
  async stop(): Promise<void> {
    const pid = /is owned by .* \(pid (\d+)\)/.exec(this.#output)?.[1];
    if (pid !== undefined) {
      try {
        process.kill(Number(pid), "SIGKILL");
      } catch {
        // already gone
      }
    }
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill("SIGKILL");
    await this.exited;
    closeSync(this.#stdin);
    rmSync(this.#fifoDir, { recursive: true, force: true });
  }
}
