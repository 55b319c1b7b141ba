/**
 * The quantities of the pool, each its own type so that units, pages and bytes never mix.
 *
 * A **unit** is 2 MiB of guest memory, 2 MiB-aligned in its file: the only granule the daemon
 * allocates or frees in the kernel (DESIGN.md §2). A **page** is 4 KiB: the granule of
 * conversion state and discards inside a leased unit. Byte offsets are plain safe integers
 * (a 1 TiB pool is 2^40 bytes, far below 2^53), branded so that a unit index cannot be passed
 * where a byte offset is expected.
 */
import { InvalidArgumentError } from "./errors.ts";

declare const unitsBrand: unique symbol;
declare const bytesBrand: unique symbol;
declare const pagesBrand: unique symbol;

/** A count or index of 2 MiB units. */
export type Units = number & { readonly [unitsBrand]: true };
/** A count or offset in bytes. */
export type Bytes = number & { readonly [bytesBrand]: true };
/** A count or index of 4 KiB pages. */
export type Pages = number & { readonly [pagesBrand]: true };

export const PAGE_BYTES = 4096 as Bytes;
export const UNIT_BYTES = (2 * 1024 * 1024) as Bytes;
export const PAGES_PER_UNIT = 512 as Pages;

export function units(n: number): Units {
  return n as Units;
}
export function bytes(n: number): Bytes {
  return n as Bytes;
}
export function pages(n: number): Pages {
  return n as Pages;
}

/** A half-open range [start, end) of units. */
export interface UnitRange {
  readonly start: Units;
  readonly end: Units;
}

/** A half-open range [start, end) of bytes. */
export interface ByteRange {
  readonly start: Bytes;
  readonly end: Bytes;
}

export function unitsToBytes(u: Units): Bytes {
  return (u * UNIT_BYTES) as Bytes;
}

export function pagesToBytes(p: Pages): Bytes {
  return (p * PAGE_BYTES) as Bytes;
}

export function formatBytes(b: number): string {
  if (b !== 0 && b % (1024 * 1024 * 1024) === 0) return `${b / (1024 * 1024 * 1024)} GiB`;
  if (b !== 0 && b % (1024 * 1024) === 0) return `${b / (1024 * 1024)} MiB`;
  if (b !== 0 && b % 1024 === 0) return `${b / 1024} KiB`;
  return `${b} B`;
}

/** Checks that `value` is a non-negative safe integer; `what` names it in the error. */
export function requireCount(value: number, what: string): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new InvalidArgumentError(`${what} must be a non-negative integer, got ${value}`);
  }
}

/**
 * Validates a byte range given as offset + length against page alignment and a bound.
 * `what` names the request in messages ("discard", "convert").
 */
export function requirePageRange(offset: number, length: number, what: string): ByteRange {
  requireCount(offset, `${what} offset`);
  requireCount(length, `${what} length`);
  if (length === 0) throw new InvalidArgumentError(`${what} length must be positive, got 0`);
  if (offset % PAGE_BYTES !== 0) {
    throw new InvalidArgumentError(`${what} offset ${offset} is not aligned to 4 KiB pages`);
  }
  if (length % PAGE_BYTES !== 0) {
    throw new InvalidArgumentError(`${what} length ${length} is not a multiple of 4 KiB pages`);
  }
  const end = offset + length;
  if (!Number.isSafeInteger(end)) {
    throw new InvalidArgumentError(`${what} range ${offset}+${length} overflows`);
  }
  return { start: offset as Bytes, end: end as Bytes };
}

/** An arena holds at most 2^32 units (its unit counts are uint32 on the wire). */
export const MAX_ARENA_UNITS = 2 ** 32;

/**
 * The one `size_bytes` rule of an arena (RegisterGuestMemfdArena, CreateMemfdArena,
 * CreateArenaPair, and the core's own registerArena): a positive multiple of 2 MiB of at most
 * 2^32 units. Returns the size in units.
 */
export function arenaUnitsOf(sizeBytes: bigint): Units {
  const unit = BigInt(UNIT_BYTES);
  const fields = { field: "size_bytes", value: String(sizeBytes) };
  if (sizeBytes <= 0n || sizeBytes % unit !== 0n) throw new InvalidArgumentError(`size_bytes ${sizeBytes} is not a positive multiple of 2 MiB`, fields);
  if (sizeBytes / unit > BigInt(MAX_ARENA_UNITS)) throw new InvalidArgumentError(`size_bytes ${sizeBytes} is more than 2^32 units`, fields);
  return Number(sizeBytes / unit) as Units;
}
