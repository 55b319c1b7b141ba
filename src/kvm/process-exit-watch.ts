/**
 * Notices a process's exit through a pidfd (pidfd_open(2), Linux 5.3+): the pidfd becomes
 * readable when the process exits, and unlike a bare pid it cannot be fooled by pid reuse once
 * opened. (A pid from SO_PEERCRED could in principle be reused between connect and pidfd_open;
 * the window is the daemon's accept-to-open latency. SO_PEERPIDFD, Linux 6.5, would close it.)
 *
 * pidfd_open sets O_CLOEXEC on the pidfd itself. The watch owns the pidfd and closes it when
 * the process has exited or when `close()` is called.
 */
import { asFd, check, type Fd, FdPoller, libc } from "@gmempool/sys";
import type { ProcessExitWatch } from "./kernel-port.ts";

export class LinuxProcessExitWatch implements ProcessExitWatch {
  readonly pid: number;
  readonly exited: Promise<void>;
  readonly #pidfd: Fd;
  readonly #poller: FdPoller;
  #closed = false;

  /** Opens a pidfd of `pid`, or takes ownership of `pidfd` (a pidfd of `pid`) when given. */
  constructor(pid: number, pidfd?: Fd) {
    this.pid = pid;
    this.#pidfd = pidfd ?? asFd(check(libc.pidfd_open(pid, 0), "pidfd_open", `pid ${pid}`));
    let resolveExit = (): void => undefined;
    this.exited = new Promise((resolve) => (resolveExit = resolve));
    this.#poller = new FdPoller(this.#pidfd, (events) => {
      if (!events.readable && events.status === 0) return;
      this.close();
      resolveExit();
    });
    this.#poller.want(true, false);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#poller.close();
    libc.close(this.#pidfd);
  }
}
