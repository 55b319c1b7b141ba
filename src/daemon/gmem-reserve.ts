/**
 * The `gmem` reserve (DESIGN.md §2): the daemon creates its own VM (only a VM's creator may
 * issue ioctls on it, KERNEL.md §3) and one guest_memfd of pool size on it, and populates the
 * free units at start-up. Handing a unit out punches its slot; taking it back populates it.
 *
 * Ownership: this object owns the VM fd and the guest_memfd fd, closed by `close()`. The
 * guest_memfd's memory is charged to the daemon's memory cgroup (KERNEL.md §4).
 */
import type { Logger } from "pino";
import { FALLOCATE_POPULATE, FALLOCATE_PUNCH, type Fd, KVM_X86_DEFAULT_VM } from "@gmempool/sys";
import { fallocateChunked } from "../kvm/fallocate-chunked.ts";
import { UNIT_BYTES } from "@gmempool/contract";
import type { KernelPort } from "../kvm/kernel-port.ts";
import type { UnitRange } from "../pool/index.ts";
import type { KernelTimer } from "./kernel-timer.ts";
import type { KernelFeature } from "./pool-service.ts";
import type { ReserveBackend } from "./reserve-backend.ts";
import { populateRunsWithProgress } from "./reserve-progress.ts";

export class GmemReserve implements ReserveBackend {
  readonly mode = "gmem";
  readonly handOutOrder = "arena-first";
  readonly features: KernelFeature[] = [];
  readonly #kernel: KernelPort;
  readonly #timer: KernelTimer;
  readonly #logger: Logger;
  readonly #capacityUnits: number;
  #vm: Fd | undefined;
  #gmem: Fd | undefined;
  #populated = 0;

  constructor(kernel: KernelPort, timer: KernelTimer, logger: Logger, capacityUnits: number) {
    this.#kernel = kernel;
    this.#timer = timer;
    this.#logger = logger;
    this.#capacityUnits = capacityUnits;
  }

  get fileFd(): Fd | undefined {
    return this.#gmem;
  }

  get populatedUnits(): number {
    return this.#populated;
  }

  async start(heldRuns: readonly (readonly [number, number])[]): Promise<void> {
    const vm = this.#kernel.createVm(KVM_X86_DEFAULT_VM);
    this.#vm = vm;
    // Flags 0: the reserve is never mapped or bound; it only holds memory.
    this.#gmem = this.#kernel.createGuestMemfd(vm, BigInt(this.#capacityUnits) * UNIT_BYTES, 0n);
    this.features.push({ name: "KVM_CREATE_GUEST_MEMFD", available: true, detail: `reserve guest_memfd of ${this.#capacityUnits} units on the daemon's own VM` });
    const gmem = this.#gmem;
    await populateRunsWithProgress(heldRuns, this.#capacityUnits, this.#logger, "gmem reserve", async (offset, length) => {
      await this.#timer.time("fallocate(KEEP_SIZE)", () => fallocateChunked(this.#kernel, gmem, FALLOCATE_POPULATE, { offset, length }, { chunkBytes: 16n * UNIT_BYTES }));
    }, (units) => (this.#populated = units));
    this.#populated = this.#capacityUnits;
  }

  async punchSlots(slots: readonly UnitRange[]): Promise<void> {
    const gmem = this.#requireGmem();
    for (const { start, end } of slots) {
      await this.#timer.time("fallocate(PUNCH_HOLE)", () => this.#kernel.fallocate(gmem, FALLOCATE_PUNCH, BigInt(start) * UNIT_BYTES, BigInt(end - start) * UNIT_BYTES));
    }
  }

  async populateSlots(slots: readonly UnitRange[]): Promise<void> {
    const gmem = this.#requireGmem();
    for (const { start, end } of slots) {
      await this.#timer.time("fallocate(KEEP_SIZE)", () => this.#kernel.fallocate(gmem, FALLOCATE_POPULATE, BigInt(start) * UNIT_BYTES, BigInt(end - start) * UNIT_BYTES));
    }
  }

  close(): Promise<void> {
    if (this.#gmem !== undefined) this.#kernel.close(this.#gmem);
    if (this.#vm !== undefined) this.#kernel.close(this.#vm);
    this.#gmem = undefined;
    this.#vm = undefined;
    return Promise.resolve();
  }

  #requireGmem(): Fd {
    if (this.#gmem === undefined) throw new Error("gmem reserve is not started");
    return this.#gmem;
  }
}
