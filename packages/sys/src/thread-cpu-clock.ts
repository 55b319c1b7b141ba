/**
 * The calling thread's CPU time (clock_gettime(CLOCK_THREAD_CPUTIME_ID)), in milliseconds: the
 * time this thread ran, not the time it waited for a CPU. Node 20 has no per-thread clock
 * (process.cpuUsage() sums every thread: the GC helpers, the libuv pool, workers).
 */
import { CLOCK_THREAD_CPUTIME_ID } from "./kernel-constants.ts";
import { libc } from "./libc.ts";
import { check } from "./syscall-check.ts";

const timespec = Buffer.alloc(16);

export function threadCpuTimeMs(): number {
  check(libc.clock_gettime(CLOCK_THREAD_CPUTIME_ID, timespec), "clock_gettime");
  return Number(timespec.readBigInt64LE(0)) * 1000 + Number(timespec.readBigInt64LE(8)) / 1e6;
}
