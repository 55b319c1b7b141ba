/**
 * The contract every benchmark of `npm run bench -- NAME` fulfils.
 *
 * A benchmark measures, then returns its figures twice: as the JSON object its issue names
 * (printed with `--json`) and as a human-readable table (printed otherwise). Benchmarks are
 * scripts that print figures, never timed tests.
 */
export interface BenchResult {
  /** The JSON object printed with `--json`: exactly the figures named by the issue. */
  readonly json: Record<string, unknown>;
  /** Human-readable lines printed without `--json`. */
  readonly table: readonly string[];
}

export interface Bench {
  readonly name: string;
  readonly summary: string;
  /** `args` are the arguments after NAME, without `--json`. Progress goes to stderr. */
  run(args: readonly string[]): Promise<BenchResult>;
}

/** Median of a non-empty list (measurements here are noisy: report medians, not means). */
export function median(values: readonly number[]): number {
  if (values.length === 0) throw new RangeError("median of an empty list");
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** The p-th percentile (0..100) by nearest rank. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) throw new RangeError("percentile of an empty list");
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

/** Formats rows as an aligned text table; the first row is the header. */
export function formatTable(rows: readonly (readonly string[])[]): string[] {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  const lines = rows.map((row) => row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join("  "));
  if (lines.length > 1) lines.splice(1, 0, widths.map((w) => "-".repeat(w)).join("  "));
  return lines;
}

/** Every value given to a repeatable flag (`--variant a --variant b` → ["a", "b"]), in order. */
export function flagValues(args: readonly string[], name: string): string[] {
  return args.flatMap((a, i) => (a === name && args[i + 1] !== undefined ? [args[i + 1]!] : []));
}
