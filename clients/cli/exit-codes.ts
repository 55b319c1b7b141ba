/**
 * The CLI's exit codes: what a script running `gmempool` can branch on. One place decides which
 * failure gets which code (`exitCodeFor`), so every command agrees.
 *
 *   0  the request did what was asked
 *   1  the daemon refused it (a PoolError other than unavailable: not-found, permission-denied,
 *      invalid-argument, ...), or the CLI itself failed
 *   2  usage error: unknown flag, missing or malformed value (from the argument parser)
 *   3  no daemon answered, or it answered "unavailable" (starting or draining)
 */
import { constants as osConstants } from "node:os";
import { isPoolError } from "../node/src/pool-errors.ts";

export const EXIT_OK = 0;
export const EXIT_REFUSED = 1;
export const EXIT_USAGE = 2;
export const EXIT_UNAVAILABLE = 3;

/** `gmempool run` exits with its VMM's status (0–255; 128 + the signal's number when killed). */
export type VmmExitStatus = number & { readonly vmmExitStatus: true };

export type ExitCode = typeof EXIT_OK | typeof EXIT_REFUSED | typeof EXIT_USAGE | typeof EXIT_UNAVAILABLE | VmmExitStatus;

export function vmmExitStatus(code: number | null, signal: NodeJS.Signals | null): VmmExitStatus {
  const number = signal === null ? undefined : osConstants.signals[signal];
  return (code ?? 128 + (number ?? 0)) as VmmExitStatus;
}

/** The exit code for an error a command's request ended with (usage errors are decided by the
 * parser before any request, see gmempool-cli.ts). */
export function exitCodeFor(error: unknown): ExitCode {
  if (isPoolError(error) && error.kind === "unavailable") return EXIT_UNAVAILABLE;
  return EXIT_REFUSED;
}
