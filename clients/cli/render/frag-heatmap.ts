/**
 * The fragmentation map for a terminal: per arena a grid of cells (one per unit, or per group
 * of units when the arena is wide, unit-cells.ts), the legend, the reserve's free runs and the
 * kernel's buddy allocator view. Pure: map in, text out.
 *
 * Plain text (`color: false`) shows each state as its own character (unit-state-style.ts) and
 * contains no escape sequence, so that it can be piped, diffed and grepped; colour mode puts the
 * same characters on coloured backgrounds, one SGR sequence per stretch of equal cells.
 */
import type { ArenaUnitMap, FragmentationMap, UnitState } from "../../node/src/resources.ts";
import { arenaHeading, BUDDY_HEADING, buddyTable, RESERVE_RUN_HEADERS, reserveHeading, reserveRunRows } from "./frag-summary.ts";
import { renderTable } from "./table.ts";
import { unitCells, type UnitCell } from "./unit-cells.ts";
import { LEGEND_STATES, UNIT_STATE_STYLES } from "./unit-state-style.ts";

export interface HeatmapOptions {
  /** ANSI colours (a terminal without NO_COLOR) or plain characters. */
  readonly color: boolean;
  /** Cells on one line of the grid. */
  readonly cellsPerRow: number;
  /** Lines of grid per arena at most; a wider arena groups units into cells. */
  readonly maxRows: number;
}

export const PLAIN_HEATMAP: HeatmapOptions = { color: false, cellsPerRow: 64, maxRows: 16 };

const RESET = "\x1b[0m";
const INDENT = "  ";

function paint(state: UnitState, count: number, color: boolean): string {
  const style = UNIT_STATE_STYLES[state];
  const text = style.char.repeat(count);
  return color ? `\x1b[${style.sgr}m${text}${RESET}` : text;
}

/** One grid line: equal neighbouring cells share one escape sequence. */
function gridLine(cells: readonly UnitCell[], color: boolean): string {
  let line = "";
  for (let i = 0; i < cells.length; ) {
    const state = cells[i]!.state;
    let end = i + 1;
    while (end < cells.length && cells[end]!.state === state) end++;
    line += paint(state, end - i, color);
    i = end;
  }
  return line;
}

export function renderLegend(color: boolean): string {
  return "legend: " + LEGEND_STATES.map((state) => `${paint(state, 1, color)} ${UNIT_STATE_STYLES[state].label}`).join("  ") + "\n";
}

export function renderArenaGrid(arena: ArenaUnitMap, options: HeatmapOptions): string {
  const { unitsPerCell, cells } = unitCells(arena, options.cellsPerRow * options.maxRows);
  const labelWidth = String(Math.max(0, arena.unitCount - 1)).length;
  let text = arenaHeading(arena, unitsPerCell) + "\n";
  for (let row = 0; row * options.cellsPerRow < cells.length; row++) {
    const rowCells = cells.slice(row * options.cellsPerRow, (row + 1) * options.cellsPerRow);
    const label = String(rowCells[0]!.firstUnit).padStart(labelWidth);
    text += `${INDENT}${label} ${gridLine(rowCells, options.color)}\n`;
  }
  return text;
}

export function renderFragHeatmap(map: FragmentationMap, options: HeatmapOptions): string {
  const sections: string[] = [];
  const when = map.time === undefined ? "" : ` at ${map.time.toISOString()}`;
  sections.push(`fragmentation map${when}; rows start at the unit index shown, 1 unit = 2 MiB\n` + renderLegend(options.color));
  if (map.arenas.length === 0) sections.push("no arenas in the map\n");
  for (const arena of map.arenas) sections.push(renderArenaGrid(arena, options));

  const runRows = reserveRunRows(map.reserve);
  sections.push(reserveHeading(map.reserve) + "\n" + (runRows.length === 0 ? `${INDENT}no free runs\n` : renderTable(RESERVE_RUN_HEADERS.map((header, i) => ({ header, align: i === 1 ? "left" : "right" })), runRows, INDENT)));

  if (map.kernelBuddyZones.length === 0) {
    sections.push(`${BUDDY_HEADING}\n${INDENT}no zone reported\n`);
  } else {
    const { headers, rows } = buddyTable(map.kernelBuddyZones);
    sections.push(`${BUDDY_HEADING}\n` + renderTable(headers.map((header) => ({ header, align: header === "zone" ? "left" : "right" })), rows, INDENT));
  }
  return sections.join("\n");
}
