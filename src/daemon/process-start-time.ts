/**
 * A process's start time, field 22 of /proc/PID/stat (clock ticks since boot): with the pid it
 * names one process, not a recycled pid (resources.proto `Identity.start_time_ticks`).
 */
import { readFileSync } from "node:fs";

/** The start time of `pid`, or undefined when the process is gone or /proc is unreadable. */
export function readProcessStartTime(pid: number): bigint | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return undefined;
  }
  // comm (field 2) is in parentheses and may hold spaces and parentheses: split after the last ")".
  const rest = text.slice(text.lastIndexOf(")") + 2).split(" ");
  const field = rest[22 - 3];
  return field === undefined || !/^\d+$/.test(field) ? undefined : BigInt(field);
}
