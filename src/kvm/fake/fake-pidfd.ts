/**
 * A fake pidfd (pidfd_open(2)): a file that names one process of the fake host. Like the
 * kernel's, it outlives its process: once the process has exited the pidfd reports it
 * (pidfd_poll readable, fdinfo `Pid: -1`) instead of naming whatever takes the pid next.
 */
import { FakeFileObject } from "./fake-file-object.ts";

export class FakePidfd extends FakeFileObject {
  readonly kind = "pidfd";
  readonly pid: number;
  #exited = false;
  readonly #unwatch: () => void;

  /** `watchExit` registers the exit callback on the host; its result unregisters it. */
  constructor(pid: number, watchExit: (pid: number, notify: () => void) => () => void) {
    super();
    this.pid = pid;
    this.#unwatch = watchExit(pid, () => {
      this.#exited = true;
    });
  }

  /** pidfd_poll: readable once the process has exited. */
  get exited(): boolean {
    return this.#exited;
  }

  protected released(): void {
    this.#unwatch();
  }

  get populatedBytes(): bigint {
    return 0n;
  }

  describe(): string {
    return `pidfd of pid ${this.pid}`;
  }
}
