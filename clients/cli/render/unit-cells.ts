/**
 * An arena's unit runs as at most `maxCells` cells for a picture: one cell per unit when the
 * arena fits, else one cell per group of `unitsPerCell` consecutive units (the last cell may
 * hold fewer).
 *
 * A grouped cell shows the most fragmented state among its units (FRAGMENTATION_RANK), not the
 * most common one: the map exists to find fragmentation, so a cell is drawn free only when every
 * unit in it is free, and one split unit in a group of 64 leased ones is not hidden.
 */
import type { ArenaUnitMap, UnitState } from "../../node/src/resources.ts";

export interface UnitCell {
  readonly firstUnit: number;
  readonly unitCount: number;
  readonly state: UnitState;
}

export interface UnitCells {
  readonly unitsPerCell: number;
  readonly cells: readonly UnitCell[];
}

/** Higher wins in a grouped cell. */
const FRAGMENTATION_RANK: Readonly<Record<UnitState, number>> = { free: 0, leased: 1, claimed: 2, discarded: 3, deferred: 4, split: 5 };

export function unitCells(arena: ArenaUnitMap, maxCells: number): UnitCells {
  const unitsPerCell = Math.max(1, Math.ceil(arena.unitCount / Math.max(1, maxCells)));
  const cellCount = Math.ceil(arena.unitCount / unitsPerCell);
  const states: UnitState[] = new Array<UnitState>(cellCount).fill("free");
  for (const run of arena.runs) {
    if (run.unitCount <= 0) continue;
    const first = Math.floor(run.firstUnit / unitsPerCell);
    const last = Math.min(cellCount - 1, Math.floor((run.firstUnit + run.unitCount - 1) / unitsPerCell));
    for (let cell = first; cell <= last; cell++) {
      if (FRAGMENTATION_RANK[run.state] > FRAGMENTATION_RANK[states[cell]!]) states[cell] = run.state;
    }
  }
  const cells = states.map((state, i) => {
    const firstUnit = i * unitsPerCell;
    return { firstUnit, unitCount: Math.min(unitsPerCell, arena.unitCount - firstUnit), state };
  });
  return { unitsPerCell, cells };
}
