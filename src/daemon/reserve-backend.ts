/**
 * How free units are held in the kernel (DESIGN.md §2 "Reserve"). The pool core decides WHICH
 * reserve slots a plan takes or gives back; a backend does the kernel work on them:
 *
 * - `gmem`: a guest_memfd of the daemon's own VM, one slot per unit (gmem-reserve.ts);
 * - `hugetlb`: a hugetlb memfd over a sized nr_hugepages pool (hugetlb-reserve.ts);
 * - `none`: accounting only (this file).
 *
 * `handOutOrder` says how a unit moves into an arena without ever needing twice its memory
 * or leaving a window where someone else can take it:
 * - "arena-first" (gmem): populate the arena, then punch the reserve slot. For a moment both
 *   hold the unit; memory-neutral over the step (KERNEL.md §7: ~0.23 ms per 2 MiB punch).
 * - "reserve-first" (hugetlb): punch the slot first, which puts its 2 MiB page back in the
 *   kernel's hugetlb free pool, then populate the arena, which takes a page from that pool. The
 *   other order would fail with ENOSPC: the pool is sized for the reserve exactly.
 * Taking a unit back is always "punch the arena, then populate the slot".
 */
import type { Fd } from "@gmempool/sys";
import type { UnitRange } from "../pool/index.ts";
import type { KernelFeature, ReserveMode } from "./pool-service.ts";

export interface ReserveBackend {
  readonly mode: ReserveMode;
  readonly handOutOrder: "arena-first" | "reserve-first";
  /** Slots populated so far during start-up (progress), then the capacity. */
  readonly populatedUnits: number;
  /** What the backend probed, for GetCapabilities. */
  readonly features: readonly KernelFeature[];
  /** Creates the reserve file and populates `heldRuns` (slot ranges); rejects with a reason. */
  start(heldRuns: readonly (readonly [number, number])[]): Promise<void>;
  /** Punches slots (their units go to an arena). */
  punchSlots(slots: readonly UnitRange[]): Promise<void>;
  /** Populates slots (their units came back from an arena). */
  populateSlots(slots: readonly UnitRange[]): Promise<void>;
  /** Closes the reserve file and undoes start-up (nr_hugepages). Idempotent. */
  close(): Promise<void>;
  /** The reserve file (borrowed; for diagnostics and tests), undefined in mode none. */
  readonly fileFd: Fd | undefined;
}

/** `none`: admission control without holding memory; every slot operation is free. */
export class NoReserve implements ReserveBackend {
  readonly mode = "none";
  readonly handOutOrder = "arena-first";
  readonly populatedUnits = 0;
  readonly features: readonly KernelFeature[] = [];
  readonly fileFd = undefined;

  start(): Promise<void> {
    return Promise.resolve();
  }
  punchSlots(): Promise<void> {
    return Promise.resolve();
  }
  populateSlots(): Promise<void> {
    return Promise.resolve();
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}
