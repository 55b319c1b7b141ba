/**
 * Word-level helpers for the 512-bit page bitmaps of split units: one bit per 4 KiB page,
 * 16 words of 32 bits per unit. Operations take whole words at a time, never page by page.
 */
export const WORDS_PER_UNIT = 16;
export const ALL_ONES = 0xffffffff;

/** Number of set bits of a 32-bit word. */
export function popcount32(x: number): number {
  x = x - ((x >>> 1) & 0x55555555);
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  x = (x + (x >>> 4)) & 0x0f0f0f0f;
  return Math.imul(x, 0x01010101) >>> 24;
}

/**
 * The mask of word `w` covering pages [start, end) of a unit (0 <= start < end <= 512),
 * as an unsigned 32-bit number.
 */
export function wordMask(w: number, start: number, end: number): number {
  const lo = Math.max(start - w * 32, 0);
  const hi = Math.min(end - w * 32, 32);
  if (lo >= hi) return 0;
  const width = hi - lo;
  const ones = width === 32 ? ALL_ONES : ((1 << width) - 1) >>> 0;
  return (ones << lo) >>> 0;
}
