/**
 * The guest's 4-level page tables: one PML4, one PDPT and one page directory of 2 MiB pages
 * identity-mapping guest physical [0, 1 GiB), the set-up of the probe run64.c (KERNEL.md
 * "[here]": a long-mode guest on a guest_memfd memslot), extended from one 2 MiB page to 512.
 * The VMM writes these pages into boot memory through its mapping before the first KVM_RUN.
 */
import { IDENTITY_MAP_BYTES, PD_GPA, PDPT_GPA, PML4_GPA } from "./guest-layout.ts";

const PRESENT = 1n << 0n;
const WRITABLE = 1n << 1n;
/** In a page-directory entry: the entry maps a 2 MiB page, not a page table. */
const PAGE_SIZE = 1n << 7n;
const LARGE_PAGE_BYTES = 2n << 20n;
const ENTRIES = 512;

export interface PageTablePage {
  readonly gpa: bigint;
  readonly bytes: Uint8Array;
}

function page(gpa: bigint, entries: readonly bigint[]): PageTablePage {
  const bytes = new Uint8Array(4096);
  const view = new DataView(bytes.buffer);
  entries.forEach((entry, i) => view.setBigUint64(i * 8, entry, true));
  return { gpa, bytes };
}

/** The three page-table pages, each with the GPA it must be written at. */
export function identityPageTables(): PageTablePage[] {
  const largePages = Number(IDENTITY_MAP_BYTES / LARGE_PAGE_BYTES);
  if (largePages > ENTRIES) throw new RangeError("one page directory maps at most 1 GiB");
  return [
    page(PML4_GPA, [PDPT_GPA | PRESENT | WRITABLE]),
    page(PDPT_GPA, [PD_GPA | PRESENT | WRITABLE]),
    page(PD_GPA, Array.from({ length: largePages }, (_, i) => (BigInt(i) * LARGE_PAGE_BYTES) | PAGE_SIZE | PRESENT | WRITABLE)),
  ];
}
