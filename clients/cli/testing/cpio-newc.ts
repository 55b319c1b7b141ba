/**
 * A cpio archive in the "newc" format (the kernel's initramfs format, Documentation/driver-api/
 * early-userspace/buffer-format.rst): per entry a 110-byte ASCII header of 13 eight-digit hex
 * fields after the magic "070701", the NUL-terminated name, padding to 4 bytes, the data, padding
 * to 4 bytes; the archive ends with the entry "TRAILER!!!". Uncompressed (the kernel takes it so).
 */

export interface CpioEntry {
  /** Relative, without a leading "/" ("bin/busybox"). */
  readonly name: string;
  /** st_mode including the file type: 0o100755 (file), 0o040755 (directory), 0o020600 (char device). */
  readonly mode: number;
  readonly data?: Uint8Array;
  /** A device node's major and minor. */
  readonly rdev?: readonly [number, number];
}

const S_IFDIR = 0o040000;

function hex8(value: number): string {
  return value.toString(16).padStart(8, "0");
}

function pad4(length: number): Buffer {
  return Buffer.alloc((4 - (length % 4)) % 4);
}

function entryBytes(entry: CpioEntry, ino: number): Buffer[] {
  const data = Buffer.from(entry.data ?? new Uint8Array());
  const name = Buffer.from(`${entry.name}\0`);
  const [rdevMajor, rdevMinor] = entry.rdev ?? [0, 0];
  const fields = [ino, entry.mode, 0, 0, (entry.mode & 0o170000) === S_IFDIR ? 2 : 1, 0, data.length, 0, 0, rdevMajor, rdevMinor, name.length, 0];
  const header = Buffer.from(`070701${fields.map(hex8).join("")}`, "ascii");
  return [header, name, pad4(header.length + name.length), data, pad4(data.length)];
}

export function cpioNewc(entries: readonly CpioEntry[]): Buffer {
  const parts = entries.flatMap((entry, i) => entryBytes(entry, i + 1));
  parts.push(...entryBytes({ name: "TRAILER!!!", mode: 0 }, 0));
  return Buffer.concat(parts);
}
