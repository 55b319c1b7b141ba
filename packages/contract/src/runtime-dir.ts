/**
 * Where the daemon's sockets live, and so where clients find them: the rule `gmempool serve`
 * places itself by and every client looks by, one definition for both ends (it imports only
 * node:path):
 *
 *   1. an explicit directory (`--runtime-dir DIR`, or a client's `runtimeDir` option);
 *   2. else `GMEMPOOL_RUNTIME_DIR`;
 *   3. else `/run/gmempool` when running as root (uid 0);
 *   4. else `$XDG_RUNTIME_DIR/gmempool` when XDG_RUNTIME_DIR is set (a user session);
 *   5. else `./run` under the current directory (a checkout running `npm start`).
 *
 * In it: `api.sock` (gRPC), `fd.sock` (the fd channel, SOCK_SEQPACKET), `metrics.sock`
 * (Prometheus over HTTP; the daemon's operators, not the client library, use it):
 * `daemonSockets(dir)`. Creating the directory and its sockets' permissions are the daemon's
 * (src/main/runtime-dir-setup.ts).
 */
import { isAbsolute, join, resolve } from "node:path";

export const API_SOCKET_NAME = "api.sock";
export const FD_SOCKET_NAME = "fd.sock";
export const METRICS_SOCKET_NAME = "metrics.sock";
export const RUNTIME_DIR_ENV = "GMEMPOOL_RUNTIME_DIR";

export interface RuntimeDirInputs {
  /** `--runtime-dir` or the `runtimeDir` option, if given. */
  readonly explicit?: string | undefined;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** process.getuid() (undefined off POSIX). */
  readonly uid: number | undefined;
  readonly cwd: string;
}

/** The runtime directory, absolute. */
export function resolveRuntimeDir(inputs: RuntimeDirInputs): string {
  const absolute = (dir: string): string => (isAbsolute(dir) ? dir : resolve(inputs.cwd, dir));
  if (inputs.explicit !== undefined && inputs.explicit !== "") return absolute(inputs.explicit);
  const fromEnv = inputs.env[RUNTIME_DIR_ENV];
  if (fromEnv !== undefined && fromEnv !== "") return absolute(fromEnv);
  if (inputs.uid === 0) return "/run/gmempool";
  const xdg = inputs.env["XDG_RUNTIME_DIR"];
  if (xdg !== undefined && xdg !== "") return join(absolute(xdg), "gmempool");
  return join(inputs.cwd, "run");
}

/** The rule applied to this process. */
export function defaultRuntimeDir(explicit?: string): string {
  return resolveRuntimeDir({ explicit, env: process.env, uid: process.getuid?.(), cwd: process.cwd() });
}

/** The daemon's sockets in a runtime directory. */
export interface DaemonSockets {
  readonly runtimeDir: string;
  readonly apiSocket: string;
  readonly fdSocket: string;
  readonly metricsSocket: string;
}

export function daemonSockets(runtimeDir: string): DaemonSockets {
  return { runtimeDir, apiSocket: join(runtimeDir, API_SOCKET_NAME), fdSocket: join(runtimeDir, FD_SOCKET_NAME), metricsSocket: join(runtimeDir, METRICS_SOCKET_NAME) };
}
