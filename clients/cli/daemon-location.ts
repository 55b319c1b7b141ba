/**
 * Where the CLI looks for the daemon, and why there: the client library's runtime-directory
 * rule (@gmempool/contract's runtime-dir.ts, the same rule `gmempool serve` places itself by)
 * applied to the CLI's flags and environment, plus which step of the rule decided, so that
 * "no daemon here" can say where "here" came from.
 */
import { daemonSockets, resolveRuntimeDir, RUNTIME_DIR_ENV } from "../node/src/runtime-dir.ts";
import type { CliIo } from "./cli-io.ts";

export interface DaemonLocation {
  readonly runtimeDir: string;
  readonly apiSocket: string;
  /** "--runtime-dir", "$GMEMPOOL_RUNTIME_DIR" or "the default". */
  readonly source: string;
}

export function locateDaemon(explicit: string | undefined, io: Pick<CliIo, "env" | "cwd" | "uid">): DaemonLocation {
  const runtimeDir = resolveRuntimeDir({ explicit, env: io.env, uid: io.uid, cwd: io.cwd });
  const fromEnv = io.env[RUNTIME_DIR_ENV];
  const source = explicit !== undefined && explicit !== "" ? "--runtime-dir" : fromEnv !== undefined && fromEnv !== "" ? `$${RUNTIME_DIR_ENV}` : "the default";
  return { runtimeDir, apiSocket: daemonSockets(runtimeDir).apiSocket, source };
}
