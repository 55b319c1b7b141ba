/**
 * How the daemon spells quantities in its error messages, copied so that the fake's messages
 * read the same (a client imports nothing from the daemon, DESIGN.md §4): sizes as the largest
 * binary unit that divides them exactly ("2 MiB", "8 KiB", "12288 B"), offsets in range
 * messages as 0x-prefixed hex or plain decimal, as each message of the daemon has it.
 */

const KIB = 1024n;
const MIB = 1024n * KIB;
const GIB = 1024n * MIB;

/** "1 GiB", "2 MiB", "8 KiB", "4097 B", "0 B" (the daemon's pool-core formatBytes). */
export function exactSize(bytes: bigint): string {
  if (bytes !== 0n && bytes % GIB === 0n) return `${bytes / GIB} GiB`;
  if (bytes !== 0n && bytes % MIB === 0n) return `${bytes / MIB} MiB`;
  if (bytes !== 0n && bytes % KIB === 0n) return `${bytes / KIB} KiB`;
  return `${bytes} B`;
}

/** "0x200000". */
export function hex(value: bigint | number): string {
  return `0x${value.toString(16)}`;
}

/** Bytes of UTF-8 (names and labels are limited in bytes, not characters). */
export function utf8Bytes(text: string): number {
  return Buffer.byteLength(text, "utf8");
}
