/**
 * The fragmentation map's words, shared by the terminal heatmap and the SVG: an arena's
 * heading, the reserve's free runs and the kernel's /proc/buddyinfo for orders >= 9. Pure: map
 * in, lines out (no colour, no layout).
 */
import type { ArenaUnitMap, BuddyZone, ReserveMap } from "../../node/src/resources.ts";
import { formatBytes, unitsToBytes } from "../../node/src/units.ts";
import { arenaIdentity, NO_LABELS, type FragLabels } from "./frag-labels.ts";

/** "64 units (128 MiB)"; "1 unit (2 MiB)". */
export function unitsText(unitCount: number): string {
  return `${unitCount} unit${unitCount === 1 ? "" : "s"} (${formatBytes(unitsToBytes(unitCount))})`;
}

/** `text` cut to `width` columns, the cut marked "…" (every character here is one column). */
export function fitLine(text: string, width: number): string {
  return text.length <= width ? text : text.slice(0, Math.max(0, width - 1)) + "…";
}

/**
 * `arena ID "NAME" KIND, pid P uid U: SIZE, largest free run N; 1 cell = M units`. Where that
 * is wider than `width`: `ID "NAME" KIND, pid P uid U: 8 GiB, 128 MiB/cell` (the free
 * run is in the summary of `gmempool arenas`), the name shortened first if that is still too
 * wide, so that id, kind, owner and scale stay on the line.
 */
export function arenaHeading(arena: ArenaUnitMap, unitsPerCell: number, labels: FragLabels = NO_LABELS, width = Infinity): string {
  const resource = labels.arenas.get(arena.arenaId);
  const who = (maxName?: number): string => (resource === undefined ? "" : ` ${arenaIdentity(resource, maxName)}`);
  const scale = unitsPerCell === 1 ? "" : `; 1 cell = ${unitsText(unitsPerCell)}`;
  const full = `arena ${arena.arenaId}${who()}: ${unitsText(arena.unitCount)}, largest free run ${unitsText(arena.largestFreeRunUnitCount)}${scale}`;
  if (full.length <= width) return full;
  const tail = `: ${formatBytes(unitsToBytes(arena.unitCount))}${unitsPerCell === 1 ? "" : `, ${formatBytes(unitsToBytes(unitsPerCell))}/cell`}`;
  const compact = (maxName?: number): string => `${arena.arenaId}${who(maxName)}${tail}`;
  const nameRoom = (resource?.name.length ?? 0) - (compact().length - width);
  return fitLine(compact(Math.max(4, nameRoom)), width);
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

/** The reserve in one line, counts in units, free runs as `order:count` (the screen-sized view). */
export function reserveLine(reserve: ReserveMap): string {
  const byOrder = reserve.freeRunCountsByOrder.flatMap((count, order) => (count === 0 ? [] : [`${order}:${count}`]));
  const runs = byOrder.length === 0 ? "no free runs" : `free runs by order ${byOrder.join(" ")}`;
  return `reserve (${reserve.mode}): ${reserve.freeUnitCount} units free, largest run ${reserve.largestFreeRunUnitCount}; ${runs}`;
}

export const RESERVE_RUN_HEADERS = ["order", "run length", "free runs"] as const;

export const BUDDY_HEADING = "kernel /proc/buddyinfo, free blocks of order >= 9 (2 MiB and up):";

/** The buddy zones in one line: per zone its counts from order 9 up and its free bytes. */
export function buddyLine(zones: readonly BuddyZone[]): string {
  const text = zones.map((z) => `${z.node}/${z.zone} ${z.freeBlockCounts.join(" ")} (${formatBytes(z.freeBytes)})`).join("; ");
  return `buddyinfo, order 9 up: ${zones.length === 0 ? "no zone reported" : text}`;
}

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
