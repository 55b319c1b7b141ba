/**
 * The two sizes of the API (docs/api.md "Conventions"), as bigint byte counts because every
 * `_bytes` field of the protos is 64-bit: a **unit** is 2 MiB, 2 MiB-aligned in its file, the
 * only granule the daemon allocates or frees; a **page** is 4 KiB, the kernel's base page and
 * the granule of conversions and discards. The daemon's pure core (src/pool/units.ts) keeps
 * branded number copies because it imports nothing outside itself; src/pool/units.test.ts
 * holds them equal to these.
 */
export const UNIT_BYTES = 2n * 1024n * 1024n;
export const PAGE_BYTES = 4096n;
