/**
 * Runs a koffi-bound libc call on the libuv threadpool and settles with its result and errno.
 *
 * errno is thread-local and the call ran on a worker thread. koffi 3.2+ saves the worker's errno
 * when the call returns and restores it on the main thread just before invoking the completion
 * callback (AsyncCall::Complete in koffi's call.cc), so `koffi.errno()` must be read INSIDE that
 * callback — after a promise hop it may be gone. abi.test.ts checks this on a failing fallocate.
 */
import type { KoffiFunc } from "koffi";
import { lastErrno } from "@gmempool/sys";

export interface AsyncSyscallResult {
  readonly result: number;
  /** errno as the worker thread left it; meaningful only when `result` is -1. */
  readonly errno: number;
}

export function asyncSyscall<A extends unknown[]>(fn: KoffiFunc<(...args: A) => number>, args: A): Promise<AsyncSyscallResult> {
  return new Promise((resolve, reject) => {
    const done = (error: unknown, result: number): void => {
      const errno = lastErrno();
      if (error !== null && error !== undefined) reject(error instanceof Error ? error : new Error(`koffi async call failed: ${JSON.stringify(error)}`));
      else resolve({ result, errno });
    };
    fn.async(...args, done);
  });
}
