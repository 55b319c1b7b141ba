/**
 * A CliIo that keeps what is written, for running the CLI in-process in tests; `interrupt()`
 * plays Ctrl-C.
 */
import type { CliIo, CliOutput } from "../cli-io.ts";

export interface MemoryOutput extends CliOutput {
  readonly text: () => string;
}

export interface MemoryIo extends CliIo {
  readonly stdout: MemoryOutput;
  readonly stderr: MemoryOutput;
  interrupt(): void;
}

function memoryOutput(isTTY: boolean, columns: number | undefined, rows: number | undefined): MemoryOutput {
  const chunks: string[] = [];
  return {
    write: (text) => {
      chunks.push(text);
    },
    isTTY,
    columns,
    rows,
    text: () => chunks.join(""),
  };
}

export function memoryIo(options: { readonly isTTY?: boolean; readonly columns?: number; readonly rows?: number; readonly env?: Record<string, string> } = {}): MemoryIo {
  const listeners = new Set<() => void>();
  const isTTY = options.isTTY ?? false;
  return {
    stdout: memoryOutput(isTTY, isTTY ? (options.columns ?? 80) : undefined, isTTY ? (options.rows ?? 24) : undefined),
    stderr: memoryOutput(isTTY, isTTY ? (options.columns ?? 80) : undefined, isTTY ? (options.rows ?? 24) : undefined),
    env: options.env ?? {},
    cwd: "/nonexistent-cwd",
    uid: 1000,
    onInterrupt: (listener) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    onSignals: () => () => undefined,
    interrupt: () => {
      for (const listener of [...listeners]) {
        listeners.delete(listener);
        listener();
      }
    },
  };
}
