/**
 * `gmempool frag`: the fragmentation map — per arena a heatmap of its units, the reserve's free
 * runs and the kernel's buddy allocator for 2 MiB and up — as terminal text, JSON or an SVG file.
 */
import { writeFile } from "node:fs/promises";
import type { Command } from "commander";
import { colorAllowed, type CliIo } from "../cli-io.ts";
import type { CommandContext } from "../command-context.ts";
import { addCommonOptions, ALL_OWNERS_HELP, type CommonOptions } from "../common-options.ts";
import { toJson } from "../json-output.ts";
import { hintAllOwners } from "../all-owners-hint.ts";
import { withPool } from "../pool-session.ts";
import { PLAIN_HEATMAP, renderFragHeatmap, type HeatmapOptions } from "../render/frag-heatmap.ts";
import { renderFragSvg } from "../render/frag-svg.ts";
import { LEGEND_STATES, UNIT_STATE_STYLES } from "../render/unit-state-style.ts";

interface FragOptions extends CommonOptions {
  readonly all?: boolean | undefined;
  readonly arena?: string | undefined;
  readonly svg?: string | undefined;
}

const CELL_KEY = LEGEND_STATES.map((state) => {
  const style = UNIT_STATE_STYLES[state];
  return `  ${style.char}  ${style.label.padEnd(10)} ${style.meaning}`;
}).join("\n");

/** Room for the row label (unit index) and indent beside the grid. */
const LABEL_COLUMNS = 12;

/** On a terminal the grid fills its width (in steps of 8 cells, 16 to 128); elsewhere the
 * fixed plain layout, so that piped output does not depend on who ran it. */
export function heatmapOptionsFor(io: Pick<CliIo, "stdout" | "env">): HeatmapOptions {
  if (!io.stdout.isTTY) return PLAIN_HEATMAP;
  const columns = io.stdout.columns ?? 80;
  const cellsPerRow = Math.min(128, Math.max(16, Math.floor((columns - LABEL_COLUMNS) / 8) * 8));
  return { color: colorAllowed(io), cellsPerRow, maxRows: PLAIN_HEATMAP.maxRows };
}

export function addFragCommand(program: Command, context: CommandContext): void {
  addCommonOptions(program.command("frag").description("the fragmentation map: a heatmap of every arena's units, the reserve's free runs, /proc/buddyinfo orders >= 9"))
    .option("--arena <id>", "only this arena (the admin may name any arena)")
    .option("--all", ALL_OWNERS_HELP)
    .option("--svg <file>", "also write the map as an SVG picture to FILE (open it in a browser; hover a run for its lease)")
    .addHelpText(
      "after",
      `
Each cell is one 2 MiB unit; an arena too wide for the screen groups units into cells, and a
grouped cell shows its most fragmented state (it is "free" only if all its units are). Cells:
${CELL_KEY}
On a terminal the cells are coloured (set NO_COLOR=1 to turn that off); piped output is plain.

Examples:
  gmempool frag --all
  gmempool frag --arena a-0001 --svg /tmp/a-0001.svg
  gmempool frag --all --json | jq '.arenas[].largestFreeRunUnitCount'`,
    )
    .action(async (options: FragOptions) => {
      await withPool(context, options, async (pool) => {
        const map = await pool.getFragmentationMap({ allOwners: options.all === true, ...(options.arena === undefined ? {} : { arenaId: options.arena }) });
        if (options.svg !== undefined) await writeFile(options.svg, renderFragSvg(map));
        context.io.stdout.write(options.json === true ? toJson(map, 2) + "\n" : renderFragHeatmap(map, heatmapOptionsFor(context.io)));
        hintAllOwners(context, options, map.arenas.length === 0);
        if (options.svg !== undefined) context.io.stderr.write(`SVG written to ${options.svg}\n`);
        return undefined;
      });
    });
}
