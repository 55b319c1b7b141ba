/**
 * What the fragmentation map does not carry but its reader needs: each arena's name, owner and
 * kind, each lease's label. GetFragmentationMap answers with ids only (resources.proto
 * ArenaUnitMap: a picture of units, not a second copy of the resources); `gmempool frag` asks
 * ListArenas / ListLeases for the rest, and the renderers look it up here by id. An id missing
 * from these (made between the calls, or the lists refused) is drawn by id alone.
 */
import type { Arena, ArenaUnitMap, Lease } from "../../node/src/resources.ts";
import { identityText } from "./identity-text.ts";

export interface FragLabels {
  readonly arenas: ReadonlyMap<string, Arena>;
  readonly leases: ReadonlyMap<string, Lease>;
}

export const NO_LABELS: FragLabels = { arenas: new Map(), leases: new Map() };

export function fragLabels(arenas: readonly Arena[], leases: readonly Lease[]): FragLabels {
  return { arenas: new Map(arenas.map((a) => [a.arenaId, a])), leases: new Map(leases.map((l) => [l.leaseId, l])) };
}

/** By a non-guest_memfd file's FdType (a pidfd is never an arena's file; listed for totality). */
const BACKING = { memfd_shmem: "shmem", memfd_hugetlb: "hugetlb", pidfd: "pidfd" } as const;

/** "guest_memfd", "memfd shmem", "pair guest_memfd+hugetlb": the kind and its memfd's backing. */
export function arenaKindText(arena: Arena): string {
  const memfd = arena.files.find((f) => f.fdType !== "guest_memfd");
  const backing = memfd === undefined || memfd.fdType === "guest_memfd" ? "" : BACKING[memfd.fdType];
  if (arena.kind === "pair") return `pair guest_memfd+${backing}`;
  return arena.kind === "memfd" ? `memfd ${backing}` : arena.kind;
}

/** `"vm-1" memfd shmem, pid 42 uid 1000`; `maxNameLength` shortens a long name with "…". */
export function arenaIdentity(arena: Arena, maxNameLength = Infinity): string {
  const name = arena.name.length > maxNameLength ? arena.name.slice(0, Math.max(0, maxNameLength - 1)) + "…" : arena.name;
  return `${name === "" ? "" : `"${name}" `}${arenaKindText(arena)}, ${identityText(arena.owner)}`;
}

/** A lease as the map sees it: the units its runs cover, first to last. */
export interface LeaseExtent {
  readonly leaseId: string;
  readonly firstUnit: number;
  readonly lastUnit: number;
}

/** The leases of an arena's runs, in unit order. */
export function leaseExtents(arena: ArenaUnitMap): LeaseExtent[] {
  const extents = new Map<string, { firstUnit: number; lastUnit: number }>();
  for (const run of arena.runs) {
    if (run.leaseId === "" || run.unitCount <= 0) continue;
    const last = run.firstUnit + run.unitCount - 1;
    const extent = extents.get(run.leaseId);
    if (extent === undefined) extents.set(run.leaseId, { firstUnit: run.firstUnit, lastUnit: last });
    else extent.lastUnit = Math.max(extent.lastUnit, last);
  }
  return [...extents].map(([leaseId, e]) => ({ leaseId, ...e })).sort((a, b) => a.firstUnit - b.firstUnit);
}

/** `l-1 "boot" 0–15`: id, label (when it has one) and units. */
export function leaseText(extent: LeaseExtent, labels: FragLabels): string {
  const label = labels.leases.get(extent.leaseId)?.label ?? "";
  const units = extent.firstUnit === extent.lastUnit ? `${extent.firstUnit}` : `${extent.firstUnit}–${extent.lastUnit}`;
  return `${extent.leaseId}${label === "" ? "" : ` "${label}"`} ${units}`;
}
