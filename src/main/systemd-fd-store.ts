/**
 * The systemd file-descriptor store (DESIGN.md §7, sd_pid_notify_with_fds(3), sd_listen_fds(3)):
 * under a `Type=notify` unit with `FileDescriptorStoreMax=`, the daemon hands systemd a copy of
 * every arena file (`FDSTORE=1`, `FDNAME=gmempool.<arena id>.<side>`); when the daemon restarts
 * — a crash, `kill -9`, an upgrade — systemd passes them back as LISTEN_FDS, and arenas come back
 * ACTIVE without waiting for their VMMs to re-register.
 *
 * Only used when NOTIFY_SOCKET is set: outside systemd there is no store and VMMs reattach.
 */
import type { Logger } from "pino";
import type { ArenaFdStore } from "../daemon/pool-service.ts";
import { asFd, type Fd } from "@gmempool/sys";
import { sdNotify } from "./sd-notify.ts";

/** sd_listen_fds(3): passed fds start at 3 (SD_LISTEN_FDS_START). */
const SD_LISTEN_FDS_START = 3;

/** Sends arena files to the store and removes them, by FDNAME. Failures are logged, not thrown:
 * the store is a speed-up for restarts, the journal and VMM reattach still hold without it. */
export class SystemdFdStore implements ArenaFdStore {
  readonly #logger: Logger;
  readonly #env: Readonly<Record<string, string | undefined>>;

  constructor(logger: Logger, env: Readonly<Record<string, string | undefined>> = process.env) {
    this.#logger = logger;
    this.#env = env;
  }

  /** `fd` is borrowed: systemd receives its own copy through SCM_RIGHTS. */
  store(name: string, fd: Fd): void {
    const failure = sdNotify(`FDSTORE=1\nFDNAME=${name}`, [fd], this.#env);
    if (failure !== undefined) this.#logger.warn({ name, why: failure }, "systemd fd store: FDSTORE failed");
  }

  remove(name: string): void {
    const failure = sdNotify(`FDSTOREREMOVE=1\nFDNAME=${name}`, [], this.#env);
    if (failure !== undefined) this.#logger.warn({ name, why: failure }, "systemd fd store: FDSTOREREMOVE failed");
  }
}

/** True when the daemon runs under a Type=notify supervisor (systemd sets NOTIFY_SOCKET). */
export function underSystemd(env: Readonly<Record<string, string | undefined>> = process.env): boolean {
  const socket = env["NOTIFY_SOCKET"];
  return socket !== undefined && socket !== "";
}

/**
 * The fds systemd passed to this process, by FDNAME (sd_listen_fds_with_names semantics): only
 * when LISTEN_PID is this process (the variables are inherited by mistake otherwise), fds
 * 3..3+LISTEN_FDS-1, names from the colon-separated LISTEN_FDNAMES ("unknown" where missing).
 * The caller owns every returned fd. The variables are removed from `env` so that nothing this
 * process starts inherits them (sd_listen_fds' unset_environment).
 */
export function takeListenFds(env: Record<string, string | undefined> = process.env, pid: number = process.pid): Map<string, Fd> {
  const fds = new Map<string, Fd>();
  const listenPid = env["LISTEN_PID"];
  const count = Number(env["LISTEN_FDS"] ?? "0");
  const names = (env["LISTEN_FDNAMES"] ?? "").split(":");
  delete env["LISTEN_PID"];
  delete env["LISTEN_FDS"];
  delete env["LISTEN_FDNAMES"];
  if (listenPid !== String(pid) || !Number.isInteger(count) || count <= 0) return fds;
  for (let i = 0; i < count; i++) {
    const name = names[i] ?? "";
    // Two fds of one name would make the first unreachable: keep it distinct, the manager closes it.
    const key = name === "" || fds.has(name) ? `unknown.${i}` : name;
    fds.set(key, asFd(SD_LISTEN_FDS_START + i));
  }
  return fds;
}
