/**
 * The fragmentation map for a terminal: per arena a heading (name, kind, owner), a grid of cells
 * (one per unit, or per group of units when the arena is wide, unit-cells.ts) and its leases with
 * their labels; the legend, the reserve's free runs and the kernel's buddy allocator view. Pure:
 * map in, text out.
 *
 * With `screen` the whole fits it (frag-screen-fit.ts): lines cut to its width, grids squeezed
 * and arenas left out (saying so) to its height, the reserve and buddy zones one line each.
 * Without, everything: full grids, every lease on its own line, tables.
 *
 * Plain text (`color: false`) shows each state as its own character (unit-state-style.ts) and
 * contains no escape sequence, so that it can be piped, diffed and grepped; colour mode puts the
 * same characters on coloured backgrounds, one SGR sequence per stretch of equal cells.
 */
import type { ArenaUnitMap, FragmentationMap, UnitState } from "../../node/src/resources.ts";
import { leaseExtents, leaseText, NO_LABELS, type FragLabels } from "./frag-labels.ts";
import { planScreen, type ScreenSize } from "./frag-screen-fit.ts";
import { arenaHeading, BUDDY_HEADING, buddyLine, buddyTable, fitLine, RESERVE_RUN_HEADERS, reserveHeading, reserveLine, reserveRunRows } from "./frag-summary.ts";
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
  /** Fit the output to this screen; absent: show everything. */
  readonly screen?: ScreenSize | undefined;
}

/** Everything, plain, 64 cells a row (`gmempool frag --full` piped). */
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

/** The legend, on as many lines of `width` as it needs (one from 72 columns up). */
export function renderLegend(color: boolean, width = Infinity): string {
  const lines = [{ text: "legend:", visible: "legend:".length }];
  for (const state of LEGEND_STATES) {
    const label = UNIT_STATE_STYLES[state].label;
    const itemColumns = 2 + label.length;
    let line = lines[lines.length - 1]!;
    let gap = lines.length === 1 && line.text === "legend:" ? " " : "  ";
    if (line.visible + gap.length + itemColumns > width && line.text !== "legend:") {
      line = { text: INDENT, visible: INDENT.length };
      lines.push(line);
      gap = "";
    }
    line.text += `${gap}${paint(state, 1, color)} ${label}`;
    line.visible += gap.length + itemColumns;
  }
  return lines.map((line) => line.text + "\n").join("");
}

export function renderArenaGrid(arena: ArenaUnitMap, options: HeatmapOptions, labels: FragLabels = NO_LABELS, maxRows = options.maxRows): string {
  const { unitsPerCell, cells } = unitCells(arena, options.cellsPerRow * maxRows);
  const labelWidth = String(Math.max(0, arena.unitCount - 1)).length;
  let text = arenaHeading(arena, unitsPerCell, labels, options.screen?.columns) + "\n";
  for (let row = 0; row * options.cellsPerRow < cells.length; row++) {
    const rowCells = cells.slice(row * options.cellsPerRow, (row + 1) * options.cellsPerRow);
    const label = String(rowCells[0]!.firstUnit).padStart(labelWidth);
    text += `${INDENT}${label} ${gridLine(rowCells, options.color)}\n`;
  }
  return text + leaseLines(arena, labels, options.screen?.columns);
}

/** With a width: one line, `leases: l-1 "boot" 0–15, …, +N more`; without: a line per lease. */
function leaseLines(arena: ArenaUnitMap, labels: FragLabels, width: number | undefined): string {
  const leases = leaseExtents(arena).map((extent) => leaseText(extent, labels));
  if (leases.length === 0) return "";
  if (width === undefined) return leases.map((lease) => `${INDENT}lease ${lease}\n`).join("");
  let line = `${INDENT}leases:`;
  for (let i = 0; i < leases.length; i++) {
    const item = `${i === 0 ? " " : ", "}${leases[i]}`;
    // A lease goes on only with the count of the ones after it still on the line.
    const rest = i + 1 < leases.length ? `, +${leases.length - i - 1} more` : "";
    if ((line + item + rest).length > width) {
      return (i === 0 ? fitLine(line + item, width - rest.length) + rest : `${line}, +${leases.length - i} more`) + "\n";
    }
    line += item;
  }
  return line + "\n";
}

function titleLine(map: FragmentationMap): string {
  return `fragmentation map${map.time === undefined ? "" : ` at ${map.time.toISOString()}`}, 1 unit = 2 MiB`;
}

export function renderFragHeatmap(map: FragmentationMap, options: HeatmapOptions, labels: FragLabels = NO_LABELS): string {
  return options.screen === undefined ? renderEverything(map, options, labels) : renderScreen(map, options, options.screen, labels);
}

function renderEverything(map: FragmentationMap, options: HeatmapOptions, labels: FragLabels): string {
  const sections: string[] = [];
  sections.push(`${titleLine(map)}; rows start at the unit index shown\n` + renderLegend(options.color));
  if (map.arenas.length === 0) sections.push("no arenas in the map\n");
  for (const arena of map.arenas) sections.push(renderArenaGrid(arena, options, labels));

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

function renderScreen(map: FragmentationMap, options: HeatmapOptions, screen: ScreenSize, labels: FragLabels): string {
  const fit = (line: string): string => fitLine(line, screen.columns) + "\n";
  const legend = renderLegend(options.color, screen.columns);
  const plan = planScreen(
    map.arenas.map((arena) => ({ naturalRows: Math.min(options.maxRows, Math.ceil(arena.unitCount / options.cellsPerRow)), hasLeases: leaseExtents(arena).length > 0 })),
    screen.rows - (legend.split("\n").length - 2),
  );
  let text = fit(titleLine(map)) + legend;
  if (map.arenas.length === 0) text += fit("no arenas in the map");
  plan.gridRows.forEach((rows, i) => {
    text += renderArenaGrid(map.arenas[i]!, options, labels, rows);
  });
  if (plan.omittedArenas > 0) {
    const first = map.arenas[plan.gridRows.length]!.arenaId;
    text += fit(`… ${plan.omittedArenas} more arena${plan.omittedArenas === 1 ? "" : "s"} (${first} on) below the screen: --arena ID for one, --full for all`);
  }
  return text + fit(reserveLine(map.reserve)) + fit(buddyLine(map.kernelBuddyZones));
}
