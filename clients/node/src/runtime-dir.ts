/**
 * Where the daemon's sockets are: the rule (an explicit directory, else GMEMPOOL_RUNTIME_DIR,
 * else /run/gmempool as root, else $XDG_RUNTIME_DIR/gmempool, else ./run) and the socket names
 * are the wire contract's (@gmempool/contract's runtime-dir.ts), the very rule `gmempool serve`
 * places itself by; re-exported here as part of this library's API.
 */
export { API_SOCKET_NAME, daemonSockets, defaultRuntimeDir, FD_SOCKET_NAME, resolveRuntimeDir, RUNTIME_DIR_ENV, type DaemonSockets, type RuntimeDirInputs } from "@gmempool/contract";
