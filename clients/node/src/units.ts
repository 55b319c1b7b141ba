/**
 * The two sizes of the API (docs/api.md "Conventions"): a unit is 2 MiB, 2 MiB-aligned in its
 * file, the only granule the daemon allocates or frees; a page is 4 KiB, the granule of
 * conversions and discards. Byte quantities are bigint, unit counts are numbers.
 */
export const UNIT_BYTES = 2n * 1024n * 1024n;
export const PAGE_BYTES = 4096n;
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
