/**
 * Where the daemon's sockets are. The rule (an explicit directory, else GMEMPOOL_RUNTIME_DIR,
 * else /run/gmempool as root, else $XDG_RUNTIME_DIR/gmempool, else ./run) and the socket names
 * are the wire contract's (@gmempool/contract's runtime-dir.ts), the very rule `gmempool serve`
 * places itself by; they are re-exported here as part of this library's API.
 */
import { join } from "node:path";
import { API_SOCKET_NAME, FD_SOCKET_NAME } from "@gmempool/contract";

export { API_SOCKET_NAME, defaultRuntimeDir, FD_SOCKET_NAME, resolveRuntimeDir, RUNTIME_DIR_ENV, type RuntimeDirInputs } from "@gmempool/contract";

/** The two sockets a client uses. */
export interface DaemonSockets {
  readonly runtimeDir: string;
  readonly apiSocket: string;
  readonly fdSocket: string;
}

export function daemonSockets(runtimeDir: string): DaemonSockets {
  return { runtimeDir, apiSocket: join(runtimeDir, API_SOCKET_NAME), fdSocket: join(runtimeDir, FD_SOCKET_NAME) };
}
