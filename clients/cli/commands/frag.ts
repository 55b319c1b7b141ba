/**
 * `gmempool frag`: the fragmentation map — per arena a heatmap of its units, the reserve's free
 * runs and the kernel's buddy allocator for 2 MiB and up — as terminal text, JSON or an SVG file.
 * The text fits the screen (the terminal's size, 80×24 off one, or --screen) unless --full.
 * The map names arenas and leases by id; their names, owners, kinds and labels come from
 * ListArenas / ListLeases (render/frag-labels.ts), asked at the same time.
 */
import { writeFile } from "node:fs/promises";
import { InvalidArgumentError, type Command } from "commander";
import type { Pool } from "../../node/src/pool.ts";
import { colorAllowed, type CliIo } from "../cli-io.ts";
import type { CommandContext } from "../command-context.ts";
import { addCommonOptions, ALL_OWNERS_HELP, type CommonOptions } from "../common-options.ts";
import { toJson } from "../json-output.ts";
import { hintAllOwners } from "../all-owners-hint.ts";
import { withPool } from "../pool-session.ts";
import { PLAIN_HEATMAP, renderFragHeatmap, type HeatmapOptions } from "../render/frag-heatmap.ts";
import { fragLabels, type FragLabels } from "../render/frag-labels.ts";
import { DEFAULT_SCREEN, type ScreenSize } from "../render/frag-screen-fit.ts";
import { renderFragSvg } from "../render/frag-svg.ts";
import { LEGEND_STATES, UNIT_STATE_STYLES } from "../render/unit-state-style.ts";

interface FragOptions extends CommonOptions {
  readonly all?: boolean | undefined;
  readonly arena?: string | undefined;
  readonly svg?: string | undefined;
  readonly full?: boolean | undefined;
  readonly screen?: ScreenSize | undefined;
}

const CELL_KEY = LEGEND_STATES.map((state) => {
  const style = UNIT_STATE_STYLES[state];
  return `  ${style.char}  ${style.label.padEnd(10)} ${style.meaning}`;
}).join("\n");

/** Room for the row label (unit index) and indent beside the grid. */
const LABEL_COLUMNS = 12;

/** The smallest --screen: the legend wraps below 72 columns, and 8 lines hold one arena. */
const MIN_SCREEN: ScreenSize = { columns: 40, rows: 8 };

export function parseScreen(text: string): ScreenSize {
  const match = /^(\d+)x(\d+)$/.exec(text);
  const screen = match === null ? undefined : { columns: Number(match[1]), rows: Number(match[2]) };
  if (screen === undefined || screen.columns < MIN_SCREEN.columns || screen.rows < MIN_SCREEN.rows) {
    throw new InvalidArgumentError(`--screen must be COLUMNSxROWS, at least ${MIN_SCREEN.columns}x${MIN_SCREEN.rows}, not "${text}".`);
  }
  return screen;
}

/**
 * The grid is as wide as the screen allows (in steps of 8 cells, 16 to 128). The screen is
 * `screen` when given, else the terminal's size, else 80×24, so that piped output does not
 * depend on who ran it; `full`: no screen, everything. Colour only on a terminal.
 */
export function heatmapOptionsFor(io: Pick<CliIo, "stdout" | "env">, choice: { readonly full?: boolean | undefined; readonly screen?: ScreenSize | undefined } = {}): HeatmapOptions {
  const tty = io.stdout.isTTY;
  const screen = choice.screen ?? (tty ? { columns: io.stdout.columns ?? DEFAULT_SCREEN.columns, rows: io.stdout.rows ?? DEFAULT_SCREEN.rows } : DEFAULT_SCREEN);
  const color = tty && colorAllowed(io);
  if (choice.full === true && !tty && choice.screen === undefined) return PLAIN_HEATMAP;
  const cellsPerRow = Math.min(128, Math.max(16, Math.floor((screen.columns - LABEL_COLUMNS) / 8) * 8));
  return { color, cellsPerRow, maxRows: PLAIN_HEATMAP.maxRows, ...(choice.full === true ? {} : { screen }) };
}

/** Names, owners, kinds and labels for the map's ids, from the same view of the pool. */
async function fetchLabels(pool: Pool, options: FragOptions): Promise<FragLabels> {
  if (options.arena !== undefined) {
    const [arena, leases] = await Promise.all([pool.getArena(options.arena), pool.listLeases({ arenaId: options.arena })]);
    return fragLabels([arena], leases);
  }
  const allOwners = options.all === true;
  const [arenas, leases] = await Promise.all([pool.listArenas({ allOwners }), pool.listLeases({ allOwners })]);
  return fragLabels(arenas, leases);
}

export function addFragCommand(program: Command, context: CommandContext): void {
  addCommonOptions(program.command("frag").description("the fragmentation map: a heatmap of every arena's units, the reserve's free runs, /proc/buddyinfo orders >= 9"))
    .option("--arena <id>", "only this arena (the admin may name any arena)")
    .option("--all", ALL_OWNERS_HELP)
    .option("--svg <file>", "also write the map as an SVG picture to FILE (open it in a browser; hover a run for its lease and label)")
    .option("--full", "every arena, every lease and the full tables, however long (default: fit the screen)")
    .option("--screen <COLSxROWS>", "fit the text to this screen (default: the terminal's size, else 80x24)", parseScreen)
    .addHelpText(
      "after",
      `
Each arena's heading gives its id, name, kind (guest_memfd, memfd shmem|hugetlb, or a pair) and
owner (pid, uid); under its grid its leases: id, label, first–last unit. Each cell is one 2 MiB
unit; an arena too wide for the screen groups units into cells, and a grouped cell shows its most
fragmented state (it is "free" only if all its units are). Cells:
${CELL_KEY}
The text fits the screen with the title and legend on it: grids are squeezed, leases and arenas
past the screen are counted ("+3 more"), the reserve and buddy zones take a line each; --full
shows everything. On a terminal the cells are coloured (NO_COLOR=1 turns that off); piped output
is plain and sized for 80x24. In the SVG, split and deferred units are outlined and marked above
the row, so that a single one stays visible at any scale.

Examples:
  gmempool frag --all
  gmempool frag --all --full | less
  gmempool frag --arena a-0001 --screen 120x40
  gmempool frag --arena a-0001 --svg /tmp/a-0001.svg
  gmempool frag --all --json | jq '.arenas[].largestFreeRunUnitCount'`,
    )
    .action(async (options: FragOptions) => {
      await withPool(context, options, async (pool) => {
        const request = { allOwners: options.all === true, ...(options.arena === undefined ? {} : { arenaId: options.arena }) };
        if (options.json === true) {
          const map = await pool.getFragmentationMap(request);
          context.io.stdout.write(toJson(map, 2) + "\n");
          hintAllOwners(context, options, map.arenas.length === 0);
          return undefined;
        }
        const [map, labels] = await Promise.all([pool.getFragmentationMap(request), fetchLabels(pool, options)]);
        if (options.svg !== undefined) await writeFile(options.svg, renderFragSvg(map, labels));
        context.io.stdout.write(renderFragHeatmap(map, heatmapOptionsFor(context.io, options), labels));
        hintAllOwners(context, options, map.arenas.length === 0);
        if (options.svg !== undefined) context.io.stderr.write(`SVG written to ${options.svg}\n`);
        return undefined;
      });
    });
}
