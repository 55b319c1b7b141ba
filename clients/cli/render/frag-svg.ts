/**
 * The fragmentation map as a self-contained SVG picture (`gmempool frag --svg FILE`). Pure:
 * map in, SVG text out; no dependency, any browser shows it.
 *
 * Layout: per arena a heading and rows of `unitsPerRow` units (the same for every arena of the
 * picture, so arenas compare by length: a power of two from 64 up to 512 units, i.e. 1 GiB, fitted
 * to the largest arena); each unit run is one <rect> (a run crossing a row's end continues on the
 * next row as a second rect), with a <title> tooltip naming its units, state, lease and label.
 * A split or deferred run is also outlined and gets a marker in the gap above its row, at least
 * MIN_MARKER_PX wide: at 512 units a row a unit is 2 px, and one such unit is what the picture is
 * for. Under each arena its leases with their labels; then the legend, the reserve's free runs
 * and the kernel's buddy zones as text.
 */
import type { ArenaUnitMap, FragmentationMap, UnitRun, UnitState } from "../../node/src/resources.ts";
import { formatBytes, unitsToBytes } from "../../node/src/units.ts";
import { leaseExtents, leaseText, NO_LABELS, type FragLabels } from "./frag-labels.ts";
import { arenaHeading, BUDDY_HEADING, buddyTable, reserveHeading, reserveRunRows } from "./frag-summary.ts";
import { LEGEND_STATES, UNIT_STATE_STYLES } from "./unit-state-style.ts";

const ROW_WIDTH_PX = 1024;
const MARGIN_LEFT_PX = 64;
const MARGIN_RIGHT_PX = 16;
const ROW_HEIGHT_PX = 16;
const ROW_GAP_PX = 3;
const LINE_PX = 18;
const INDENT_PX = 16;
const MIN_UNITS_PER_ROW = 64;
/** 1 GiB: a row is one order-9 block, the size a 1 GiB page would need intact. */
const MAX_UNITS_PER_ROW = 512;
/** The states a lone unit of must not be lost at heatmap scale. */
const MARKED_STATES: ReadonlySet<UnitState> = new Set(["split", "deferred"]);
const MIN_MARKER_PX = 6;
const MARKER_HEIGHT_PX = 3;
/** Lines of leases under an arena, and characters a line (12 px sans-serif in ROW_WIDTH_PX); the rest are counted. */
const MAX_LEASE_LINES = 4;
const LEASE_LINE_CHARS = 150;

export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&apos;" })[c]!);
}

/** The units of one row of the picture: the largest arena's size rounded up to a power of two,
 * within [MIN_UNITS_PER_ROW, MAX_UNITS_PER_ROW]. */
export function svgUnitsPerRow(map: FragmentationMap): number {
  const largest = Math.max(1, ...map.arenas.map((a) => a.unitCount));
  let units = MIN_UNITS_PER_ROW;
  while (units < largest && units < MAX_UNITS_PER_ROW) units *= 2;
  return units;
}

function text(x: number, y: number, content: string, attributes = ""): string {
  return `<text x="${x}" y="${y}"${attributes}>${escapeXml(content)}</text>`;
}

function runTooltip(run: UnitRun, labels: FragLabels): string {
  const last = run.firstUnit + run.unitCount - 1;
  const units = run.unitCount === 1 ? `unit ${run.firstUnit}` : `units ${run.firstUnit}–${last}`;
  const label = labels.leases.get(run.leaseId)?.label ?? "";
  const lease = run.leaseId === "" ? "" : `, lease ${run.leaseId}${label === "" ? "" : ` "${label}"`}`;
  return `${units} (${formatBytes(unitsToBytes(run.unitCount))}): ${run.state}${lease}`;
}

/** The rects of one arena's runs, rows starting at `top`; returns them and the height used. */
function arenaRects(arena: ArenaUnitMap, unitsPerRow: number, top: number, labels: FragLabels): { readonly parts: string[]; readonly height: number } {
  const unitPx = ROW_WIDTH_PX / unitsPerRow;
  const rowCount = Math.max(1, Math.ceil(arena.unitCount / unitsPerRow));
  const rowTop = (row: number): number => top + row * (ROW_HEIGHT_PX + ROW_GAP_PX);
  const parts: string[] = [];
  for (let row = 0; row < rowCount; row++) {
    parts.push(text(MARGIN_LEFT_PX - 6, rowTop(row) + ROW_HEIGHT_PX - 4, String(row * unitsPerRow), ' text-anchor="end" fill="#555"'));
  }
  for (const run of arena.runs) {
    const tooltip = `<title>${escapeXml(runTooltip(run, labels))}</title>`;
    const marked = MARKED_STATES.has(run.state);
    for (let unit = run.firstUnit; unit < run.firstUnit + run.unitCount; ) {
      const row = Math.floor(unit / unitsPerRow);
      const end = Math.min(run.firstUnit + run.unitCount, (row + 1) * unitsPerRow);
      const x = MARGIN_LEFT_PX + (unit - row * unitsPerRow) * unitPx;
      const attributes = `class="run" data-state="${run.state}" data-first-unit="${unit}" data-unit-count="${end - unit}"`;
      const width = (end - unit) * unitPx;
      const outline = marked ? ' stroke="#000" stroke-width="1"' : "";
      parts.push(`<rect ${attributes} x="${x}" y="${rowTop(row)}" width="${width}" height="${ROW_HEIGHT_PX}" fill="${UNIT_STATE_STYLES[run.state].svgFill}"${outline}>${tooltip}</rect>`);
      if (marked) {
        const markerWidth = Math.max(MIN_MARKER_PX, width);
        const markerAttributes = `class="marker" data-state="${run.state}" data-first-unit="${unit}" data-unit-count="${end - unit}"`;
        parts.push(`<rect ${markerAttributes} x="${x + width / 2 - markerWidth / 2}" y="${rowTop(row) - MARKER_HEIGHT_PX}" width="${markerWidth}" height="${MARKER_HEIGHT_PX}" fill="${UNIT_STATE_STYLES[run.state].svgFill}" stroke="#000" stroke-width="0.5">${tooltip}</rect>`);
      }
      unit = end;
    }
  }
  return { parts, height: rowCount * (ROW_HEIGHT_PX + ROW_GAP_PX) };
}

function legend(top: number): string[] {
  const itemPx = 150;
  return LEGEND_STATES.flatMap((state, i) => {
    const style = UNIT_STATE_STYLES[state];
    const x = MARGIN_LEFT_PX + i * itemPx;
    return [
      `<rect class="legend" data-state="${state}" x="${x}" y="${top - 11}" width="14" height="14" fill="${style.svgFill}"><title>${escapeXml(style.meaning)}</title></rect>`,
      text(x + 20, top, style.label),
    ];
  });
}

/** `leases: l-1 "boot" 0–15, l-2 4–7, …` on up to MAX_LEASE_LINES lines, the last ending `+N more` if need be. */
function leaseListLines(arena: ArenaUnitMap, labels: FragLabels): string[] {
  const leases = leaseExtents(arena).map((extent) => leaseText(extent, labels));
  const lines: string[] = [];
  let line = "leases:";
  for (let i = 0; i < leases.length; i++) {
    const first = line === "leases:";
    const longer = `${line}${first ? " " : ", "}${leases[i]}`;
    if (first || longer.length <= LEASE_LINE_CHARS) {
      line = longer;
      continue;
    }
    if (lines.length + 1 === MAX_LEASE_LINES) return [...lines, `${line}, +${leases.length - i} more`];
    lines.push(`${line},`);
    line = leases[i]!;
  }
  return leases.length === 0 ? [] : [...lines, line];
}

export function renderFragSvg(map: FragmentationMap, labels: FragLabels = NO_LABELS): string {
  const unitsPerRow = svgUnitsPerRow(map);
  const width = MARGIN_LEFT_PX + ROW_WIDTH_PX + MARGIN_RIGHT_PX;
  const title = `gmempool fragmentation map${map.time === undefined ? "" : ` at ${map.time.toISOString()}`}`;
  const body: string[] = [];
  let y = 28;
  body.push(text(MARGIN_LEFT_PX, y, title, ' font-size="16" font-weight="bold"'));
  y += LINE_PX;
  body.push(text(MARGIN_LEFT_PX, y, `one row = ${unitsPerRow} units (${formatBytes(unitsToBytes(unitsPerRow))}); row labels are unit indexes; hover a run for its units, lease and label; split and deferred runs are outlined and marked above the row`, ' fill="#555"'));
  y += LINE_PX + 6;
  body.push(...legend(y));
  y += LINE_PX + 8;

  if (map.arenas.length === 0) {
    body.push(text(MARGIN_LEFT_PX, y, "no arenas in the map"));
    y += LINE_PX;
  }
  for (const arena of map.arenas) {
    body.push(text(MARGIN_LEFT_PX, y, arenaHeading(arena, 1, labels), ' font-weight="bold"'));
    y += 8;
    const { parts, height } = arenaRects(arena, unitsPerRow, y, labels);
    body.push(...parts);
    y += height + LINE_PX;
    for (const line of leaseListLines(arena, labels)) {
      body.push(text(MARGIN_LEFT_PX + INDENT_PX, y - 6, line, ' class="leases" fill="#333"'));
      y += LINE_PX;
    }
  }

  // [indented, text]: SVG collapses leading spaces, so indentation is an x offset.
  const lines: [boolean, string][] = [[false, reserveHeading(map.reserve)], ...reserveRunRows(map.reserve).map(([order, length, count]): [boolean, string] => [true, `order ${order} (${length}): ${count} free run${count === "1" ? "" : "s"}`])];
  lines.push([false, BUDDY_HEADING]);
  if (map.kernelBuddyZones.length === 0) lines.push([true, "no zone reported"]);
  else {
    const { headers, rows } = buddyTable(map.kernelBuddyZones);
    for (const row of rows) lines.push([true, row.map((cell, i) => `${headers[i]} ${cell}`).join(", ")]);
  }
  for (const [indented, line] of lines) {
    body.push(text(MARGIN_LEFT_PX + (indented ? INDENT_PX : 0), y, line));
    y += LINE_PX;
  }

  const height = y + 8;
  return [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<title>${escapeXml(title)}</title>`,
    `<rect class="background" width="${width}" height="${height}" fill="white"/>`,
    ...body,
    "</svg>",
    "",
  ].join("\n");
}
