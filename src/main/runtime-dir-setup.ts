/**
 * Preparing the runtime directory before binding: create it (0750: the daemon's user, and the
 * VMM group may traverse to reach the 0660 sockets), make sure nobody else can replace what is
 * in it, and clear socket files left by a daemon that died without cleaning up — but refuse to
 * start if a daemon is still answering on the API socket (two daemons would each believe they
 * own the pool).
 *
 * Safety (issue 12): a directory another user owns, or a symlink, is refused (its owner could
 * swap the sockets); one of ours that group or others may write (a pre-existing 0777, say) is
 * repaired to 0750, and the repair reported. With a socket group (config paths.socket_group)
 * the directory and the sockets are group-owned by it: its members — the VMMs — connect.
 */
import { chmodSync, chownSync, lstatSync, mkdirSync, rmSync } from "node:fs";
import { connect } from "node:net";
import type { DaemonSockets } from "@gmempool/contract";

export const RUNTIME_DIR_MODE = 0o750;

/** True when something accepts connections on the unix socket at `path`. */
function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(path);
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => {
      resolve(false);
    });
  });
}

export interface RuntimeDirOptions {
  /** The VMMs' gid: the directory (and later the sockets) are group-owned by it. */
  readonly socketGroup?: number | undefined;
  /** Told of a repair (the mode was unsafe). */
  readonly warn?: (message: string) => void;
}

export async function prepareRuntimeDir(paths: DaemonSockets, options: RuntimeDirOptions = {}): Promise<void> {
  mkdirSync(paths.runtimeDir, { recursive: true, mode: RUNTIME_DIR_MODE });
  const dir = lstatSync(paths.runtimeDir);
  const uid = process.getuid?.() ?? 0;
  if (!dir.isDirectory()) throw new Error(`runtime directory ${paths.runtimeDir} is not a directory (a symlink?); refusing to put the daemon's sockets there`);
  if (dir.uid !== uid) throw new Error(`runtime directory ${paths.runtimeDir} is owned by uid ${dir.uid}, not the daemon's (${uid}): its owner could replace the sockets; chown it or use another --runtime-dir`);
  if ((dir.mode & 0o777) !== RUNTIME_DIR_MODE) {
    chmodSync(paths.runtimeDir, RUNTIME_DIR_MODE);
    if ((dir.mode & 0o022) !== 0) options.warn?.(`runtime directory ${paths.runtimeDir} was mode 0${(dir.mode & 0o777).toString(8)} (writable by others: anyone could replace the sockets); set to 0${RUNTIME_DIR_MODE.toString(8)}`);
  }
  if (options.socketGroup !== undefined) chownSync(paths.runtimeDir, uid, options.socketGroup);
  if (await answers(paths.apiSocket)) throw new Error(`another gmempool daemon is serving on ${paths.apiSocket}; stop it first (or use another --runtime-dir)`);
  for (const path of [paths.apiSocket, paths.fdSocket, paths.metricsSocket]) {
    const stat = lstatSync(path, { throwIfNoEntry: false });
    if (stat === undefined) continue;
    if (!stat.isSocket()) throw new Error(`${path} exists and is not a socket; refusing to remove it`);
    rmSync(path, { force: true });
  }
}

/** After binding: the sockets are group-owned by the VMMs' group (they are 0660). */
export function groupTheSockets(paths: DaemonSockets, socketGroup: number | undefined): void {
  if (socketGroup === undefined) return;
  const uid = process.getuid?.() ?? 0;
  for (const path of [paths.apiSocket, paths.fdSocket, paths.metricsSocket]) {
    if (lstatSync(path, { throwIfNoEntry: false })?.isSocket() === true) chownSync(path, uid, socketGroup);
  }
}
