/**
 * The two sizes of the API (docs/api.md "Conventions"), defined once in @gmempool/contract: a
 * unit is 2 MiB, 2 MiB-aligned in its file, the only granule the daemon allocates or frees; a
 * page is 4 KiB, the granule of conversions and discards. Byte quantities are bigint, unit
 * counts are numbers.
 */
import { PAGE_BYTES, UNIT_BYTES } from "@gmempool/contract";

export { PAGE_BYTES, UNIT_BYTES };
export const PAGES_PER_UNIT = Number(UNIT_BYTES / PAGE_BYTES);

/** Bytes of `unitCount` units. */
export function unitsToBytes(unitCount: number): bigint {
  return BigInt(unitCount) * UNIT_BYTES;
}

/** Whole units in `bytes` (which must be a multiple of UNIT_BYTES). */
export function bytesToUnits(bytes: bigint): number {
  if (bytes % UNIT_BYTES !== 0n) throw new RangeError(`${bytes} bytes is not a whole number of 2 MiB units`);
  return Number(bytes / UNIT_BYTES);
}

/** "512 MiB", "2 MiB", "12 KiB", "0 B": for messages and the CLI. */
export function formatBytes(bytes: bigint): string {
  const units: [bigint, string][] = [[1n << 40n, "TiB"], [1n << 30n, "GiB"], [1n << 20n, "MiB"], [1n << 10n, "KiB"]];
  for (const [size, name] of units) {
    if (bytes >= size) {
      const whole = bytes / size;
      const tenths = ((bytes % size) * 10n) / size;
      return tenths === 0n ? `${whole} ${name}` : `${whole}.${tenths} ${name}`;
    }
  }
  return `${bytes} B`;
}

/*
 * Sizes as people write them ("2MiB", "1 GiB", "4KiB", "4096"): powers of 1024 only, because
 * every size the daemon takes is a multiple of a 4 KiB page or a 2 MiB unit and "2MB" meaning
 * 2,000,000 bytes would never be what an operator wants. Whole numbers only: a fraction of a
 * unit is not a size the pool has.
 */
const MULTIPLIERS: Readonly<Record<string, bigint>> = {
  "": 1n,
  b: 1n,
  k: 1n << 10n,
  kib: 1n << 10n,
  m: 1n << 20n,
  mib: 1n << 20n,
  g: 1n << 30n,
  gib: 1n << 30n,
  t: 1n << 40n,
  tib: 1n << 40n,
};

/** Bytes of a size; throws a RangeError naming the text when it is not one. */
export function parseSize(text: string): bigint {
  const match = /^\s*(\d+)\s*([a-z]*)\s*$/i.exec(text);
  const multiplier = match === null ? undefined : MULTIPLIERS[match[2]!.toLowerCase()];
  if (match === null || multiplier === undefined) {
    throw new RangeError(`"${text}" is not a size: write a whole number with an optional unit B, KiB, MiB, GiB or TiB (e.g. 2MiB, 1GiB, 4096)`);
  }
  return BigInt(match[1]!) * multiplier;
}
