/**
 * A caller's identity string, "uid:pid:start" (start: field 22 of /proc/PID/stat): the owner
 * key of its arenas and the scope of its request ids. Made and read here only.
 */
export function callerIdentity(uid: number, pid: number, startTimeTicks: bigint): string {
  return `${uid}:${pid}:${startTimeTicks}`;
}

/** The process an identity names; undefined for a string not made by `callerIdentity`. */
export function processOfIdentity(identity: string): { readonly pid: number; readonly startTimeTicks: bigint } | undefined {
  const match = /^\d+:(\d+):(\d+)$/.exec(identity);
  return match === null ? undefined : { pid: Number(match[1]), startTimeTicks: BigInt(match[2]!) };
}
