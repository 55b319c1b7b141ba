/**
 * The daemon's sockets in its runtime directory. Where that directory is (the rule clients
 * find the daemon by too) and the socket names are the wire contract's:
 * @gmempool/contract's runtime-dir.ts.
 */
import { join } from "node:path";
import { API_SOCKET_NAME, FD_SOCKET_NAME, METRICS_SOCKET_NAME } from "@gmempool/contract";

export interface RuntimePaths {
  readonly dir: string;
  readonly apiSocket: string;
  readonly fdSocket: string;
  readonly metricsSocket: string;
}

export function runtimePaths(dir: string): RuntimePaths {
  return { dir, apiSocket: join(dir, API_SOCKET_NAME), fdSocket: join(dir, FD_SOCKET_NAME), metricsSocket: join(dir, METRICS_SOCKET_NAME) };
}
