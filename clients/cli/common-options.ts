/**
 * The options every command takes (--json, --runtime-dir, --timeout) and the value parsers
 * shared by commands. A parser rejects with commander's InvalidArgumentError, which the parser
 * reports as a usage error (exit 2) naming the option.
 */
import { InvalidArgumentError, type Command } from "commander";
import { parseSize } from "../node/src/units.ts";

export const DEFAULT_TIMEOUT_MS = 5000;

export interface CommonOptions {
  readonly json?: boolean | undefined;
  readonly runtimeDir?: string | undefined;
  readonly timeout: number;
}

function parsePositiveInteger(text: string, what: string): number {
  if (!/^\d+$/.test(text.trim()) || Number(text) < 1 || !Number.isSafeInteger(Number(text))) {
    throw new InvalidArgumentError(`${what} must be a whole number of at least 1, not "${text}".`);
  }
  return Number(text);
}

export function parseTimeoutMs(text: string): number {
  return parsePositiveInteger(text, "The timeout (milliseconds)");
}

export function parsePid(text: string): number {
  return parsePositiveInteger(text, "A process id");
}

export function parseSizeOption(text: string): bigint {
  try {
    return parseSize(text);
  } catch (error) {
    throw new InvalidArgumentError(error instanceof Error ? error.message : String(error));
  }
}

export function addCommonOptions(command: Command): Command {
  return command
    .option("--json", "machine-readable output: JSON, byte quantities and sequence numbers as decimal strings")
    .option("--runtime-dir <dir>", "the daemon's runtime directory (default: $GMEMPOOL_RUNTIME_DIR, else /run/gmempool as root, $XDG_RUNTIME_DIR/gmempool, ./run)")
    .option("--timeout <ms>", "deadline of each request, in milliseconds", parseTimeoutMs, DEFAULT_TIMEOUT_MS);
}

export const ALL_OWNERS_HELP = "every owner's, not only this process's (admin only)";
