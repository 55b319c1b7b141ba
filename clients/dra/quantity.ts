/**
 * Kubernetes resource quantities ("64Gi", "2Mi", "1G", "512") in bytes, exactly (bigint), and the
 * one rounding a claim takes: up to whole 2 MiB units. Only the forms a memory capacity uses are
 * accepted — an integer with an optional binary (Ki … Ei) or decimal (k, M, G, T, P, E) suffix;
 * anything else (fractions, exponents, milli) is refused naming the text, rather than guessed.
 */
const SUFFIXES: Readonly<Record<string, bigint>> = {
  "": 1n,
  Ki: 1n << 10n, Mi: 1n << 20n, Gi: 1n << 30n, Ti: 1n << 40n, Pi: 1n << 50n, Ei: 1n << 60n,
  k: 10n ** 3n, M: 10n ** 6n, G: 10n ** 9n, T: 10n ** 12n, P: 10n ** 15n, E: 10n ** 18n,
};

export const UNIT_BYTES = 2n * 1024n * 1024n;

export function quantityBytes(text: string): bigint {
  const match = /^(\d+)(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$/.exec(text.trim());
  if (match === null) throw new RangeError(`memory quantity "${text}" is not an integer with an optional Ki…Ei or k…E suffix`);
  return BigInt(match[1]!) * SUFFIXES[match[2] ?? ""]!;
}

/** Bytes rounded up to whole 2 MiB units (what the pool can ear-mark). */
export function roundUpToUnits(bytes: bigint): bigint {
  return ((bytes + UNIT_BYTES - 1n) / UNIT_BYTES) * UNIT_BYTES;
}
