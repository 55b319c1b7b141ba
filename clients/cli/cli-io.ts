/**
 * What the CLI touches of its process, as one object: the two output streams, the environment,
 * the working directory and uid (for the runtime-directory rule) and Ctrl-C. `processIo()` is
 * the real process; tests pass their own to run commands in-process and read what they wrote.
 */

export interface CliOutput {
  write(text: string): void;
  /** A terminal: colour and terminal-width layout are allowed. */
  readonly isTTY: boolean;
  /** The terminal's width in characters, when it is one. */
  readonly columns: number | undefined;
  /** The terminal's height in lines, when it is one. */
  readonly rows: number | undefined;
}

export interface CliIo {
  readonly stdout: CliOutput;
  readonly stderr: CliOutput;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
  readonly uid: number | undefined;
  /** Calls `listener` once on Ctrl-C (SIGINT) or SIGTERM; returns the function that stops
   * listening. A second signal is not caught, so it ends the process the usual way. */
  onInterrupt(listener: () => void): () => void;
  /** Calls `listener` on EVERY SIGINT and SIGTERM until the returned function is called (the
   * process then does not end on them: `gmempool run` forwards them to its VMM). */
  onSignals(listener: (signal: "SIGINT" | "SIGTERM") => void): () => void;
}

function output(stream: NodeJS.WriteStream): CliOutput {
  return {
    write: (text) => {
      stream.write(text);
    },
    isTTY: stream.isTTY,
    columns: stream.isTTY ? stream.columns : undefined,
    rows: stream.isTTY ? stream.rows : undefined,
  };
}

export function processIo(): CliIo {
  return {
    stdout: output(process.stdout),
    stderr: output(process.stderr),
    env: process.env,
    cwd: process.cwd(),
    uid: process.getuid?.(),
    onInterrupt: (listener) => {
      const once = (): void => {
        process.off("SIGINT", once);
        process.off("SIGTERM", once);
        listener();
      };
      process.on("SIGINT", once);
      process.on("SIGTERM", once);
      return () => {
        process.off("SIGINT", once);
        process.off("SIGTERM", once);
      };
    },
    onSignals: (listener) => {
      const onInt = (): void => listener("SIGINT");
      const onTerm = (): void => listener("SIGTERM");
      process.on("SIGINT", onInt);
      process.on("SIGTERM", onTerm);
      return () => {
        process.off("SIGINT", onInt);
        process.off("SIGTERM", onTerm);
      };
    },
  };
}

/** Colour only on a terminal, and never when NO_COLOR is set to anything but "" (no-color.org). */
export function colorAllowed(io: Pick<CliIo, "stdout" | "env">): boolean {
  const noColor = io.env["NO_COLOR"];
  return io.stdout.isTTY && (noColor === undefined || noColor === "");
}
