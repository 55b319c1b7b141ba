/**
 * What the CLI prints on stderr when a request fails. The exit code says which class of
 * failure (exit-codes.ts); the text says what to do about it: for an unreachable daemon, where
 * the CLI looked and how to start one; for a refusal, the error kind and the daemon's own
 * message (which names the values that matter, STYLE.md rule 3).
 */
import { isPoolError, UnavailableError } from "../node/src/pool-errors.ts";
import { RUNTIME_DIR_ENV } from "../node/src/runtime-dir.ts";
import type { CliOutput } from "./cli-io.ts";
import type { DaemonLocation } from "./daemon-location.ts";

export function failureText(error: unknown, location: DaemonLocation): string {
  if (!isPoolError(error)) return `gmempool: ${error instanceof Error ? error.message : String(error)}\n`;
  if (error instanceof UnavailableError && error.unreachable) {
    return [
      `gmempool: ${error.details}`,
      `Looked for ${location.apiSocket} in the runtime directory ${location.runtimeDir} (from ${location.source}).`,
      "Start a daemon with `npm start` in a gmempool checkout, or `gmempool serve [--runtime-dir DIR]`;",
      `if it runs elsewhere, pass --runtime-dir DIR or set ${RUNTIME_DIR_ENV}.`,
      "",
    ].join("\n");
  }
  if (error.kind === "unavailable") {
    return `gmempool: the daemon at ${location.apiSocket} is unavailable (starting or draining): ${error.details}\nRetry in a moment; \`gmempool status\` shows its serving state.\n`;
  }
  const operation = error.operation === undefined ? "" : ` ${error.operation}`;
  const hint = error.kind === "permission-denied" ? "This needs the admin identity: a uid or gid listed in [admin] of the daemon's config.\n" : "";
  return `gmempool: the daemon refused${operation}: ${error.kind}: ${error.details}\n${hint}`;
}

export function reportFailure(stderr: CliOutput, error: unknown, location: DaemonLocation): void {
  stderr.write(failureText(error, location));
}
