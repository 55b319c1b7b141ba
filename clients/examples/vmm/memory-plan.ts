/**
 * How the example VM uses its arena, decided from the arena's size alone (in units of 2 MiB):
 *
 *   units [0, N/2)          the boot lease ("boot"), placed at offset 0
 *   units [N/2, N/2 + N/4)  the hot-plugged lease ("hotplug-1"), placed right after it
 *   the rest                free in the arena: room for more hot-plugs, never allocated
 *
 * and which ranges it gives back: a 64 KiB sub-unit range and, later, a whole unit (what a
 * balloon or virtio-mem driver would free), and a 16 KiB range it converts. Leases are placed
 * explicitly because in KVM mode a lease's offset is also its guest physical address.
 */
import type { ByteRange } from "../../node/src/pool.ts";
import { PAGE_BYTES, UNIT_BYTES } from "../../node/src/units.ts";

/** Four units: a boot lease of two (one for the guest's code and data, one to discard and
 * convert in) and a hot-plugged lease of one. */
export const MIN_ARENA_UNITS = 4;
const KiB = 1024n;

export interface LeasePlan {
  readonly label: string;
  readonly offsetBytes: bigint;
  readonly unitCount: number;
}

export interface MemoryPlan {
  readonly arenaBytes: bigint;
  readonly arenaUnitCount: number;
  readonly boot: LeasePlan;
  readonly hotplug: LeasePlan;
  /** 64 KiB, 1 MiB into the boot lease's last unit: smaller than a unit, so the discard policy
   * decides (defer, zero or reject). */
  readonly subUnitDiscard: ByteRange;
  /** The hot-plugged lease's last unit: a whole punch granule, punched at once. */
  readonly wholeUnitDiscard: ByteRange;
  /** 16 KiB at the start of the boot lease's last unit: converted to private and back. */
  readonly conversion: ByteRange;
}

export const leaseBytes = (lease: LeasePlan): bigint => BigInt(lease.unitCount) * UNIT_BYTES;
const lastUnit = (lease: LeasePlan): bigint => lease.offsetBytes + leaseBytes(lease) - UNIT_BYTES;

export function planMemory(arenaBytes: bigint): MemoryPlan {
  if (arenaBytes % UNIT_BYTES !== 0n) throw new RangeError(`the memory size must be a multiple of 2 MiB, got ${arenaBytes} bytes`);
  const arenaUnitCount = Number(arenaBytes / UNIT_BYTES);
  if (arenaUnitCount < MIN_ARENA_UNITS) throw new RangeError(`the memory size must be at least ${MIN_ARENA_UNITS} units (8 MiB), got ${arenaUnitCount}`);
  const boot: LeasePlan = { label: "boot", offsetBytes: 0n, unitCount: Math.floor(arenaUnitCount / 2) };
  const hotplug: LeasePlan = { label: "hotplug-1", offsetBytes: leaseBytes(boot), unitCount: Math.max(1, Math.floor(arenaUnitCount / 4)) };
  return {
    arenaBytes,
    arenaUnitCount,
    boot,
    hotplug,
    subUnitDiscard: { offsetBytes: lastUnit(boot) + UNIT_BYTES / 2n, lengthBytes: 64n * KiB },
    wholeUnitDiscard: { offsetBytes: lastUnit(hotplug), lengthBytes: UNIT_BYTES },
    conversion: { offsetBytes: lastUnit(boot), lengthBytes: 4n * PAGE_BYTES },
  };
}
