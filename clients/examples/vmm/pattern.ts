/**
 * The byte pattern the VMM and its guest write and check: byte i of a pattern with seed s is
 * (s + i) mod 256. The guest program (guest/guest-program.ts) produces exactly this with
 * `inc bl`, so the host can check what the guest wrote and the guest can check what the host
 * wrote. Different seeds per region make a write that lands in the wrong region show.
 */

export function patternBytes(seed: number, length: number): Uint8Array {
  return Uint8Array.from({ length }, (_, i) => (seed + i) & 0xff);
}

/** Where `actual` first differs from the pattern, or undefined if it is the pattern. */
export function firstMismatch(actual: Uint8Array, seed: number): { readonly index: number; readonly expected: number; readonly actual: number } | undefined {
  for (let i = 0; i < actual.length; i++) {
    const expected = (seed + i) & 0xff;
    if (actual[i] !== expected) return { index: i, expected, actual: actual[i]! };
  }
  return undefined;
}

/** "ok" or "byte 17: 0x00, expected 0x42", for the step log. */
export function describeMismatch(actual: Uint8Array, seed: number): string {
  const mismatch = firstMismatch(actual, seed);
  if (mismatch === undefined) return `${actual.length} bytes match (seed 0x${seed.toString(16)})`;
  return `byte ${mismatch.index}: 0x${mismatch.actual.toString(16)}, expected 0x${mismatch.expected.toString(16)}`;
}
