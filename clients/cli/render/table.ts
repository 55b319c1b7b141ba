/**
 * Aligned plain-text tables for human output: columns padded to their widest cell, two spaces
 * apart, numbers right-aligned so that their digits line up. No box drawing: the output stays
 * greppable and pastes into an issue as it is.
 */

export interface Column {
  readonly header: string;
  /** "right" for numbers and sizes (default "left"). */
  readonly align?: "left" | "right";
}

const GAP = "  ";

/** Display width. UTF-16 length: every character the CLI prints ("–", ASCII ids and labels)
 * is one code unit; a label with an emoji would be padded one short, which is harmless. */
function width(text: string): number {
  return text.length;
}

function pad(text: string, to: number, align: "left" | "right"): string {
  const fill = " ".repeat(Math.max(0, to - width(text)));
  return align === "right" ? fill + text : text + fill;
}

/** The header row and one line per row, each ending in "\n" and starting with `indent`; rows
 * shorter than the columns are padded with empty cells. */
export function renderTable(columns: readonly Column[], rows: readonly (readonly string[])[], indent = ""): string {
  const widths = columns.map((column, i) => Math.max(width(column.header), ...rows.map((row) => width(row[i] ?? ""))));
  const line = (cells: readonly string[]): string =>
    indent +
    columns
      .map((column, i) => pad(cells[i] ?? "", widths[i]!, column.align ?? "left"))
      .join(GAP)
      .trimEnd() + "\n";
  return line(columns.map((c) => c.header)) + rows.map(line).join("");
}

/** "name  value" lines with the values aligned, for a record (status, policy). */
export function renderFields(fields: readonly (readonly [name: string, value: string])[], indent = ""): string {
  const nameWidth = Math.max(0, ...fields.map(([name]) => width(name)));
  return fields.map(([name, value]) => `${indent}${pad(name, nameWidth, "left")}${GAP}${value}`.trimEnd() + "\n").join("");
}
