/**
 * Preparing the runtime directory before binding: create it (0750: the daemon's user, and the
 * VMM group may traverse to reach the 0660 sockets), and clear socket files left by a daemon
 * that died without cleaning up — but refuse to start if a daemon is still answering on the
 * API socket (two daemons would each believe they own the pool).
 */
import { lstatSync, mkdirSync, rmSync } from "node:fs";
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

export async function prepareRuntimeDir(paths: DaemonSockets): Promise<void> {
  mkdirSync(paths.runtimeDir, { recursive: true, mode: RUNTIME_DIR_MODE });
  if (await answers(paths.apiSocket)) throw new Error(`another gmempool daemon is serving on ${paths.apiSocket}; stop it first (or use another --runtime-dir)`);
  for (const path of [paths.apiSocket, paths.fdSocket, paths.metricsSocket]) {
    const stat = lstatSync(path, { throwIfNoEntry: false });
    if (stat === undefined) continue;
    if (!stat.isSocket()) throw new Error(`${path} exists and is not a socket; refusing to remove it`);
    rmSync(path, { force: true });
  }
}
