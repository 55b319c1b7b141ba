/**
 * The fragmentation map's words, shared by the terminal heatmap and the SVG: an arena's
 * heading, the reserve's free runs and the kernel's /proc/buddyinfo for orders >= 9. Pure: map
 * in, lines out (no colour, no layout).
 */
import type { ArenaUnitMap, BuddyZone, ReserveMap } from "../../node/src/resources.ts";
import { formatBytes, unitsToBytes } from "../../node/src/units.ts";

/** "64 units (128 MiB)"; "1 unit (2 MiB)". */
export function unitsText(unitCount: number): string {
  return `${unitCount} unit${unitCount === 1 ? "" : "s"} (${formatBytes(unitsToBytes(unitCount))})`;
}

export function arenaHeading(arena: ArenaUnitMap, unitsPerCell: number): string {
  const scale = unitsPerCell === 1 ? "" : `; 1 cell = ${unitsText(unitsPerCell)}`;
  return `arena ${arena.arenaId}: ${unitsText(arena.unitCount)}, largest free run ${unitsText(arena.largestFreeRunUnitCount)}${scale}`;
}

export function reserveHeading(reserve: ReserveMap): string {
  return `reserve (${reserve.mode}): ${unitsText(reserve.freeUnitCount)} free, largest free run ${unitsText(reserve.largestFreeRunUnitCount)}`;
}

/** One row per order that has runs: order, the run lengths it covers, how many runs. Order k
 * holds maximal free runs of [2^k, 2^(k+1)) units (resources.proto ReserveMap); order 9 is 1 GiB. */
export function reserveRunRows(reserve: ReserveMap): string[][] {
  return reserve.freeRunCountsByOrder.flatMap((count, order) => {
    if (count === 0) return [];
    const from = unitsToBytes(2 ** order);
    const below = unitsToBytes(2 ** (order + 1));
    return [[String(order), `${formatBytes(from)} – <${formatBytes(below)}`, String(count)]];
  });
}

export const RESERVE_RUN_HEADERS = ["order", "run length", "free runs"] as const;

export const BUDDY_HEADING = "kernel /proc/buddyinfo, free blocks of order >= 9 (2 MiB and up):";

/** Header and rows of the buddy zones' table: node, zone, one column per order, free bytes.
 * Zones may report different numbers of orders; missing ones are blank. */
export function buddyTable(zones: readonly BuddyZone[]): { readonly headers: string[]; readonly rows: string[][] } {
  const firstOrder = Math.min(...zones.map((z) => z.firstOrder));
  const lastOrder = Math.max(...zones.map((z) => z.firstOrder + z.freeBlockCounts.length - 1));
  const orders: number[] = [];
  for (let order = firstOrder; order <= lastOrder; order++) orders.push(order);
  const headers = ["node", "zone", ...orders.map((o) => `order ${o}`), "free"];
  const rows = zones.map((zone) => [
    String(zone.node),
    zone.zone,
    ...orders.map((order) => zone.freeBlockCounts[order - zone.firstOrder]?.toString() ?? ""),
    formatBytes(zone.freeBytes),
  ]);
  return { headers, rows };
}
