/**
 * How much of a fragmentation map fits one screen, so that `gmempool frag` on a terminal (80×24
 * when it cannot tell) shows its title and legend instead of scrolling them away. Pure: counts in,
 * a plan out.
 *
 * Lines: title and legend first, the reserve and the kernel's buddy zones one line each last,
 * and one line left for the shell's prompt after the output. Between them, per arena its heading,
 * its grid and a line of its leases (none when it has none). Every arena shown gets at least one
 * grid row (a whole arena squeezed into one row groups its units into cells, unit-cells.ts, so no
 * unit is left out); rows left over go round-robin to the arenas that have more to show, up to
 * `maxRows` each. Arenas that do not fit even so are left out, last first, and one line says how
 * many and how to see them.
 */

export interface ScreenSize {
  readonly columns: number;
  readonly rows: number;
}

/** What `gmempool frag` assumes off a terminal, and on one that does not say. */
export const DEFAULT_SCREEN: ScreenSize = { columns: 80, rows: 24 };

/** Title, legend; reserve, buddy zones; the prompt's line. */
const FIXED_LINES = 5;

export interface ArenaFitInput {
  /** Grid rows the arena would take one unit per cell (capped at maxRows by the caller). */
  readonly naturalRows: number;
  readonly hasLeases: boolean;
}

export interface ScreenPlan {
  /** Grid rows of each arena shown, in order; arenas beyond its length are left out. */
  readonly gridRows: readonly number[];
  readonly omittedArenas: number;
}

export function planScreen(arenas: readonly ArenaFitInput[], screenRows: number): ScreenPlan {
  const room = Math.max(0, screenRows - FIXED_LINES);
  const minimum = (a: ArenaFitInput): number => 2 + (a.hasLeases ? 1 : 0);
  let shown = 0;
  let used = 0;
  for (const arena of arenas) {
    // Leaving any arena out costs the line that says so.
    const omissionLine = shown + 1 < arenas.length ? 1 : 0;
    if (used + minimum(arena) + omissionLine > room) break;
    used += minimum(arena);
    shown++;
  }
  const gridRows = arenas.slice(0, shown).map(() => 1);
  let spare = room - used - (shown < arenas.length ? 1 : 0);
  for (let grew = true; spare > 0 && grew; ) {
    grew = false;
    for (let i = 0; i < shown && spare > 0; i++) {
      if (gridRows[i]! < Math.max(1, arenas[i]!.naturalRows)) {
        gridRows[i]!++;
        spare--;
        grew = true;
      }
    }
  }
  return { gridRows, omittedArenas: arenas.length - shown };
}
