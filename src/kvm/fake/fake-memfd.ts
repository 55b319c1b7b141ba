/**
 * A memfd of the fake kernel: shmem (mm/shmem.c) or hugetlbfs with 2 MiB pages
 * (fs/hugetlbfs/inode.c), with the rules the daemon can trigger, each citing its function.
 *
 * Invariants (assertInvariants): a hugetlb memfd's populated ranges are 2 MiB-aligned and their
 * page count is what it took from the pool.
 */
import { FakeFileObject, fail, hex } from "./fake-file-object.ts";
import { FileMemory } from "./fake-file-memory.ts";
import type { FakeHugetlbPool } from "./fake-hugetlb-pool.ts";
import { PAGE_BYTES } from "@gmempool/contract";
import { FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE, HUGETLB_PAGE_BYTES, fallocateModeName } from "@gmempool/sys";

const roundDown = (value: bigint, unit: bigint): bigint => value - (value % unit);
const roundUp = (value: bigint, unit: bigint): bigint => roundDown(value + unit - 1n, unit);

export class FakeMemfd extends FakeFileObject {
  readonly kind = "memfd";
  readonly name: string;
  /** The pool a hugetlb memfd draws from; null for shmem. */
  readonly hugetlb: FakeHugetlbPool | null;
  size = 0n;
  readonly memory = new FileMemory();

  constructor(name: string, hugetlb: FakeHugetlbPool | null) {
    super();
    this.name = name;
    this.hugetlb = hugetlb;
  }

  /** Allocation granule: 2 MiB for hugetlbfs, 4 KiB for shmem. */
  get pageBytes(): bigint {
    return this.hugetlb === null ? PAGE_BYTES : HUGETLB_PAGE_BYTES;
  }

  get populatedBytes(): bigint {
    return this.memory.populatedBytes;
  }

  describe(): string {
    return `${this.hugetlb === null ? "shmem" : "hugetlb"} memfd "${this.name}" size ${hex(this.size)}: ${this.memory.populatedBytes} bytes populated`;
  }

  /** Frees [start, end) of whole pages, returning hugetlb pages to the pool. */
  #free(start: bigint, end: bigint): void {
    if (end <= start) return;
    if (this.hugetlb !== null) this.hugetlb.give(Number(this.memory.populated.bytesIn(start, end) / HUGETLB_PAGE_BYTES));
    this.memory.free(start, end);
  }

  /** Allocates the pages covering [start, end); hugetlb ones one by one from the pool. */
  #allocate(syscall: string, start: bigint, end: bigint): void {
    const unit = this.pageBytes;
    for (let page = roundDown(start, unit); page < end; page += unit) {
      if (this.memory.populated.covers(page, page + unit)) continue;
      // hugetlbfs_fallocate: `folio = alloc_hugetlb_folio(...); if (IS_ERR(folio)) { error = PTR_ERR(folio); goto out; }`
      // -> -ENOSPC once the pool is empty; the pages already allocated stay.
      if (this.hugetlb !== null && !this.hugetlb.take()) fail(syscall, "ENOSPC", `hugetlb pool has no free 2 MiB page for offset ${hex(page)}`);
      this.memory.populate(page, page + unit);
    }
  }

  /** fallocate(2): vfs_fallocate, then shmem_fallocate or hugetlbfs_fallocate. */
  fallocate(mode: number, offset: bigint, length: bigint): void {
    const syscall = `fallocate(${fallocateModeName(mode)})`;
    // vfs_fallocate: `if (offset < 0 || len <= 0) return -EINVAL;`
    if (offset < 0n || length <= 0n) fail(syscall, "EINVAL", `offset ${hex(offset)} length ${hex(length)}`);
    // vfs_fallocate: PUNCH_HOLE must come with KEEP_SIZE.
    if ((mode & FALLOC_FL_PUNCH_HOLE) !== 0 && (mode & FALLOC_FL_KEEP_SIZE) === 0) fail(syscall, "EOPNOTSUPP");
    // shmem_fallocate / hugetlbfs_fallocate: `if (mode & ~(FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE)) return -EOPNOTSUPP;`
    if ((mode & ~(FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE)) !== 0) fail(syscall, "EOPNOTSUPP");
    const end = offset + length;
    const unit = this.pageBytes;
    if ((mode & FALLOC_FL_PUNCH_HOLE) !== 0) {
      // shmem_fallocate -> shmem_truncate_range / hugetlbfs_punch_hole: whole pages inside the
      // hole are freed, the partial pages at its ends are zeroed (hugetlbfs_zero_partial_page).
      const stop = end < this.size ? end : this.size;
      if (stop <= offset) return;
      const wholeStart = roundUp(offset, unit);
      const wholeEnd = roundDown(stop, unit);
      if (wholeStart < wholeEnd) {
        this.memory.zero(offset, wholeStart);
        this.#free(wholeStart, wholeEnd);
        this.memory.zero(wholeEnd, stop);
      } else {
        this.memory.zero(offset, stop);
      }
      return;
    }
    this.#allocate(syscall, offset, end);
    // Without KEEP_SIZE an allocation past EOF grows the file (shmem_fallocate, hugetlbfs_fallocate).
    if ((mode & FALLOC_FL_KEEP_SIZE) === 0 && end > this.size) this.size = end;
  }

  /** ftruncate(2): shmem_setattr / hugetlbfs_setattr. */
  ftruncate(size: bigint): void {
    if (size < 0n) fail("ftruncate", "EINVAL", `size ${hex(size)}`);
    // hugetlbfs_setattr: `if (newsize & ~huge_page_mask(h)) return -EINVAL;`
    if (this.hugetlb !== null && size % HUGETLB_PAGE_BYTES !== 0n) fail("ftruncate", "EINVAL", `size ${hex(size)} is not a multiple of 2 MiB`);
    if (size < this.size) {
      // Shrinking frees the pages past the new EOF (shmem_truncate_range / remove_inode_hugepages);
      // the tail of a partial last page is zeroed.
      const wholeStart = roundUp(size, this.pageBytes);
      this.memory.zero(size, wholeStart < this.size ? wholeStart : this.size);
      const populatedEnd = this.memory.populated.ranges().at(-1)?.[1] ?? 0n;
      this.#free(wholeStart, populatedEnd > wholeStart ? populatedEnd : wholeStart);
    }
    this.size = size;
  }

  /** mmap(2): hugetlbfs_file_mmap wants a 2 MiB-aligned offset; do_mmap a page-aligned one. */
  checkMmap(offset: bigint): void {
    if (offset % this.pageBytes !== 0n) fail("mmap(MAP_SHARED)", "EINVAL", `offset ${hex(offset)} not aligned to ${hex(this.pageBytes)}`);
  }

  /**
   * A host load or store (shmem_fault / hugetlb_fault): SIGBUS past EOF, and on hugetlb when no
   * free page is left to fault in. A successful fault allocates the page.
   */
  hostAccess(syscall: string, offset: bigint, length: bigint): void {
    const end = offset + length;
    if (end > this.size) fail(syscall, "EFAULT", `memfd offset ${hex(end)} is past its size ${hex(this.size)}: SIGBUS`);
    try {
      this.#allocate(syscall, offset, end);
    } catch {
      fail(syscall, "EFAULT", "no free hugetlb page to fault in: SIGBUS");
    }
  }

  /** Last reference gone: shmem_evict_inode / hugetlbfs_evict_inode free everything. */
  protected released(): void {
    const populatedEnd = this.memory.populated.ranges().at(-1)?.[1] ?? 0n;
    this.#free(0n, populatedEnd);
  }

  assertInvariants(): void {
    this.memory.assertInvariants();
    if (this.hugetlb !== null) {
      for (const [start, end] of this.memory.populated.ranges()) {
        if (start % HUGETLB_PAGE_BYTES !== 0n || end % HUGETLB_PAGE_BYTES !== 0n) throw new Error(`hugetlb memfd: populated range [${start}, ${end}) not 2 MiB aligned`);
      }
    }
  }
}
