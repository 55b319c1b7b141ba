/**
 * This process as the daemon would identify it (SO_PEERCRED uid, gid, pid, and the start time
 * from /proc/PID/stat against pid reuse), the fake's default caller.
 */
import { readFileSync } from "node:fs";
import type { Identity } from "../resources.ts";

/** Field 22 of /proc/self/stat (clock ticks after boot); 0n when it cannot be read. */
function startTimeTicks(): bigint {
  try {
    const stat = readFileSync("/proc/self/stat", "utf8");
    // Fields after the command name (which may hold spaces) start at field 3.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return BigInt(fields[22 - 3] ?? "0");
  } catch {
    return 0n;
  }
}

export function thisProcessIdentity(): Identity {
  return { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0, pid: process.pid, startTimeTicks: startTimeTicks() };
}
