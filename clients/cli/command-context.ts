/**
 * What every command is given: the process it prints to (CliIo), how it reaches the daemon
 * (ConnectPool), and where it leaves its exit code (commander's actions return nothing, so the
 * code travels here back to runCli).
 */
import type { CliIo } from "./cli-io.ts";
import type { ConnectPool } from "./connect.ts";
import type { ExitCode } from "./exit-codes.ts";

export interface CommandContext {
  readonly io: CliIo;
  readonly connect: ConnectPool;
  setExitCode(code: ExitCode): void;
}
