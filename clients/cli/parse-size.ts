/**
 * Sizes on the command line ("2MiB", "1 GiB", "4KiB", "4096"): powers of 1024 only, because
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
