/**
 * Who the process behind a pidfd is (KernelPort.pidfdProcess), read without trusting a pid
 * number longer than the process lives:
 *   1. /proc/self/fdinfo/N of the pidfd: `Pid:` is the process's pid in our pid namespace,
 *      -1 once it has been reaped, 0 when it is not visible here (pidfd_show_fdinfo);
 *   2. /proc/PID/status: effective uid and gid (the second field of `Uid:` / `Gid:`, as
 *      SO_PEERCRED reports them: cred->euid);
 *   3. poll(pidfd, POLLIN, 0): readable = the process has exited (pidfd_poll). Checked LAST:
 *      a process alive now was alive while 1 and 2 were read, so its pid was not reused and
 *      /proc/PID was its own.
 */
import { readFileSync, readlinkSync } from "node:fs";
import { check, type Fd, KernelError, libc, PIDFD_LINK, POLLIN } from "@gmempool/sys";
import type { PidfdProcess } from "./kernel-port.ts";

function procField(text: string, name: string): string | undefined {
  return new RegExp(`^${name}:\\s*(.*)$`, "m").exec(text)?.[1];
}

function readProc(path: string, detail: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (error) {
    throw new KernelError(`read(${path})`, "ESRCH", { detail, cause: error });
  }
}

export function readPidfdProcess(pidfd: Fd): PidfdProcess {
  let link: string;
  try {
    link = readlinkSync(`/proc/self/fd/${pidfd}`);
  } catch (error) {
    throw new KernelError("readlink(/proc/self/fd)", "EBADF", { detail: `fd ${pidfd}`, cause: error });
  }
  if (link !== PIDFD_LINK) throw new KernelError("pidfd_get_pid", "EINVAL", { detail: `fd ${pidfd} is "${link}", not a pidfd` });
  const pidText = procField(readProc(`/proc/self/fdinfo/${pidfd}`, `fd ${pidfd}`), "Pid");
  const pid = pidText === undefined ? NaN : Number(pidText);
  if (!Number.isInteger(pid)) throw new KernelError("pidfd_get_pid", "EINVAL", { detail: `fd ${pidfd}: fdinfo has no Pid line` });
  if (pid === -1) throw new KernelError("pidfd_get_pid", "ESRCH", { detail: `the process of fd ${pidfd} has exited` });
  if (pid === 0) throw new KernelError("pidfd_get_pid", "ESRCH", { detail: `the process of fd ${pidfd} is in another pid namespace` });
  const status = readProc(`/proc/${pid}/status`, `pid ${pid}`);
  const uid = Number(procField(status, "Uid")?.split(/\s+/)[1]);
  const gid = Number(procField(status, "Gid")?.split(/\s+/)[1]);
  if (!Number.isInteger(uid) || !Number.isInteger(gid)) throw new KernelError(`read(/proc/${pid}/status)`, "EINVAL", { detail: "no Uid / Gid line" });
  const pollfd = Buffer.alloc(8);
  pollfd.writeInt32LE(pidfd, 0);
  pollfd.writeInt16LE(POLLIN, 4);
  check(libc.poll(pollfd, 1, 0), "poll", `pidfd ${pidfd}`);
  if ((pollfd.readInt16LE(6) & POLLIN) !== 0) throw new KernelError("pidfd_get_pid", "ESRCH", { detail: `process ${pid} has exited` });
  return { pid, uid, gid };
}
