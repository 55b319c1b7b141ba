/**
 * A pidfd of a process (pidfd_open(2), Linux 5.3+), for `Pool.handOverArena`. The caller owns
 * the returned fd (close-on-exec, as pidfd_open makes it) and closes it with `closeFd` once the
 * handover returned. For a child of this process, open it before the child can have been
 * reaped (Node reaps on the event loop: right after `spawn`, in the same tick, is safe), so that
 * the pid cannot name a recycled process.
 */
import { check, closeFd, libc } from "@gmempool/sys";

export function openPidfd(pid: number): number {
  return check(libc.pidfd_open(pid, 0), "pidfd_open", `pid ${pid}`);
}

export { closeFd };
