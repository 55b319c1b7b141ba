/**
 * The `hugetlb` reserve (DESIGN.md §2): the kernel's 2 MiB hugetlb pool is grown by the pool's
 * capacity (nr_hugepages), and a reserve hugetlb memfd holds the free units as physical 2 MiB
 * pages. Handing a unit out punches its page (back into the kernel's free hugetlb pages) and the
 * arena's hugetlb memfd takes it at once ("reserve-first", see reserve-backend.ts).
 *
 * Ownership: this object owns the reserve memfd. `close()` closes it and writes nr_hugepages
 * back to what it was before `start()` (KERNEL.md §1: restore the old value).
 */
import type { Logger } from "pino";
import { FALLOCATE_POPULATE, FALLOCATE_PUNCH, type Fd } from "@gmempool/sys";
import { fallocateChunked } from "../kvm/fallocate-chunked.ts";
import { UNIT_BYTES } from "@gmempool/contract";
import type { KernelPort } from "../kvm/kernel-port.ts";
import type { UnitRange } from "../pool/index.ts";
import type { KernelTimer } from "./kernel-timer.ts";
import { type KernelFeature } from "./pool-service.ts";
import { GmempoolError } from "../pool/errors.ts";
import type { ReserveBackend } from "./reserve-backend.ts";
import { populateRunsWithProgress } from "./reserve-progress.ts";

export class HugetlbReserve implements ReserveBackend {
  readonly mode = "hugetlb";
  readonly handOutOrder = "reserve-first";
  readonly features: KernelFeature[] = [];
  readonly #kernel: KernelPort;
  readonly #timer: KernelTimer;
  readonly #logger: Logger;
  readonly #capacityUnits: number;
  #memfd: Fd | undefined;
  #previousNrHugepages: number | undefined;
  #populated = 0;

  constructor(kernel: KernelPort, timer: KernelTimer, logger: Logger, capacityUnits: number) {
    this.#kernel = kernel;
    this.#timer = timer;
    this.#logger = logger;
    this.#capacityUnits = capacityUnits;
  }

  get fileFd(): Fd | undefined {
    return this.#memfd;
  }

  get populatedUnits(): number {
    return this.#populated;
  }

  async start(heldRuns: readonly (readonly [number, number])[]): Promise<void> {
    const before = this.#kernel.hugetlbPool();
    // Grow the kernel's pool by what the reserve will hold beyond the pages already free, so
    // that other hugetlb users on the host keep theirs.
    const needed = this.#capacityUnits;
    const target = before.nrHugepages + Math.max(0, needed - before.freeHugepages);
    this.#previousNrHugepages = before.nrHugepages;
    if (target !== before.nrHugepages) {
      const settled = await this.#timer.time("write(nr_hugepages)", () => this.#kernel.setNrHugepages(target));
      this.#logger.info({ before: before.nrHugepages, target, settled }, "hugetlb reserve: nr_hugepages set");
      if (settled < target) {
        await this.close();
        throw new GmempoolError("exhausted", `hugetlb reserve: the pool needs ${needed} free 2 MiB pages; nr_hugepages ${before.nrHugepages} -> ${target} settled at ${settled} (the host has too little contiguous memory); lower pool.capacity or use reserve "none"`);
      }
    }
    this.features.push({ name: "MFD_HUGETLB|MFD_HUGE_2MB", available: true, detail: `nr_hugepages ${before.nrHugepages} -> ${target}` });
    const memfd = this.#kernel.memfdCreate("gmempool:reserve", "hugetlb-2m");
    this.#memfd = memfd;
    this.#kernel.ftruncate(memfd, BigInt(this.#capacityUnits) * UNIT_BYTES);
    await populateRunsWithProgress(heldRuns, this.#capacityUnits, this.#logger, "hugetlb reserve", async (offset, length) => {
      await this.#timer.time("fallocate(KEEP_SIZE)", () => fallocateChunked(this.#kernel, memfd, FALLOCATE_POPULATE, { offset, length }, { chunkBytes: 16n * UNIT_BYTES }));
    }, (units) => (this.#populated = units));
    this.#populated = this.#capacityUnits;
  }

  async punchSlots(slots: readonly UnitRange[]): Promise<void> {
    const memfd = this.#requireMemfd();
    for (const { start, end } of slots) {
      await this.#timer.time("fallocate(PUNCH_HOLE)", () => this.#kernel.fallocate(memfd, FALLOCATE_PUNCH, BigInt(start) * UNIT_BYTES, BigInt(end - start) * UNIT_BYTES));
    }
  }

  async populateSlots(slots: readonly UnitRange[]): Promise<void> {
    const memfd = this.#requireMemfd();
    for (const { start, end } of slots) {
      await this.#timer.time("fallocate(KEEP_SIZE)", () => this.#kernel.fallocate(memfd, FALLOCATE_POPULATE, BigInt(start) * UNIT_BYTES, BigInt(end - start) * UNIT_BYTES));
    }
  }

  async close(): Promise<void> {
    if (this.#memfd !== undefined) this.#kernel.close(this.#memfd);
    this.#memfd = undefined;
    const previous = this.#previousNrHugepages;
    this.#previousNrHugepages = undefined;
    if (previous !== undefined && this.#kernel.hugetlbPool().nrHugepages !== previous) {
      const settled = await this.#timer.time("write(nr_hugepages)", () => this.#kernel.setNrHugepages(previous));
      this.#logger.info({ restored: previous, settled }, "hugetlb reserve: nr_hugepages restored");
    }
  }

  #requireMemfd(): Fd {
    if (this.#memfd === undefined) throw new Error("hugetlb reserve is not started");
    return this.#memfd;
  }
}
