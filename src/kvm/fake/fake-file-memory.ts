/**
 * The memory of one fake file: which bytes are allocated (populated) and the bytes written into
 * it. Data is stored per 4 KiB page only for pages something wrote; populated pages nobody wrote
 * read as zeros, like a freshly zeroed folio.
 *
 * Invariant: every stored data page lies inside `populated`.
 */
import { ByteRangeSet } from "../byte-range-set.ts";
import { PAGE_BYTES } from "@gmempool/contract";

const PAGE = Number(PAGE_BYTES);

export class FileMemory {
  readonly populated = new ByteRangeSet();
  readonly #pages = new Map<number, Uint8Array>();

  /** Marks [start, end) allocated; contents unchanged (a fresh page reads as zeros). */
  populate(start: bigint, end: bigint): void {
    this.populated.add(start, end);
  }

  /** Frees [start, end): allocation and contents. Both ends must be page-aligned. */
  free(start: bigint, end: bigint): void {
    this.populated.remove(start, end);
    for (const index of [...this.#pages.keys()]) {
      const offset = BigInt(index) * PAGE_BYTES;
      if (offset >= start && offset < end) this.#pages.delete(index);
    }
  }

  /** Zeroes [start, end) without freeing (shmem's partial-page punch). */
  zero(start: bigint, end: bigint): void {
    if (end <= start) return;
    this.write(start, new Uint8Array(Number(end - start)), false);
  }

  read(offset: bigint, length: number): Uint8Array {
    const out = new Uint8Array(length);
    for (let done = 0; done < length; ) {
      const at = offset + BigInt(done);
      const index = Number(at / PAGE_BYTES);
      const within = Number(at % PAGE_BYTES);
      const n = Math.min(PAGE - within, length - done);
      const page = this.#pages.get(index);
      if (page !== undefined) out.set(page.subarray(within, within + n), done);
      done += n;
    }
    return out;
  }

  /** Writes bytes; with `populate`, the pages written become allocated (a store faults them in). */
  write(offset: bigint, data: Uint8Array, populate = true): void {
    for (let done = 0; done < data.length; ) {
      const at = offset + BigInt(done);
      const index = Number(at / PAGE_BYTES);
      const within = Number(at % PAGE_BYTES);
      const n = Math.min(PAGE - within, data.length - done);
      const pageStart = BigInt(index) * PAGE_BYTES;
      if (populate) this.populated.add(pageStart, pageStart + PAGE_BYTES);
      if (this.populated.covers(pageStart, pageStart + PAGE_BYTES)) {
        let page = this.#pages.get(index);
        if (page === undefined) {
          page = new Uint8Array(PAGE);
          this.#pages.set(index, page);
        }
        page.set(data.subarray(done, done + n), within);
      }
      done += n;
    }
  }

  get populatedBytes(): bigint {
    return this.populated.bytes;
  }

  assertInvariants(): void {
    this.populated.assertInvariants();
    for (const index of this.#pages.keys()) {
      const start = BigInt(index) * PAGE_BYTES;
      if (!this.populated.covers(start, start + PAGE_BYTES)) throw new Error(`FileMemory: data page at 0x${start.toString(16)} is not populated`);
    }
  }
}
