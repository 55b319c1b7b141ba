/**
 * The fake machine's 2 MiB hugetlb pool (mm/hugetlb.c). `nr` is nr_hugepages, `inUse` the
 * pages hugetlb memfds hold; free_hugepages = nr - inUse.
 *
 * Invariants: 0 <= inUse <= nr <= max(capacity, inUse).
 */
export class FakeHugetlbPool {
  readonly capacity: number;
  #nr = 0;
  #inUse = 0;

  constructor(capacity: number) {
    this.capacity = capacity;
  }

  get nr(): number {
    return this.#nr;
  }

  get free(): number {
    return this.#nr - this.#inUse;
  }

  get inUse(): number {
    return this.#inUse;
  }

  /**
   * Writing nr_hugepages (set_max_huge_pages): growing is clamped by what the machine has;
   * shrinking below the pages in use leaves those (they become surplus and are freed on release).
   */
  setNr(pages: number): number {
    this.#nr = Math.max(Math.min(pages, this.capacity), this.#inUse);
    return this.#nr;
  }

  /** Takes one page; false when none is free (hugetlbfs_fallocate then fails with ENOSPC). */
  take(): boolean {
    if (this.free <= 0) return false;
    this.#inUse++;
    return true;
  }

  give(pages: number): void {
    if (pages > this.#inUse) throw new Error(`hugetlb pool: giving back ${pages} pages, only ${this.#inUse} in use`);
    this.#inUse -= pages;
  }

  assertInvariants(): void {
    if (this.#inUse < 0 || this.#inUse > this.#nr) throw new Error(`hugetlb pool: ${this.#inUse} in use of ${this.#nr}`);
  }
}
