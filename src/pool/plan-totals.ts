/**
 * The sums a response over several plans reports (a Discard, Populate or Convert whose range
 * spans several leases is one plan per lease): every figure of `PlanResult` added up, the
 * collapsible units as runs, and the discard policy that decided.
 */
import type { PlanResult } from "./plan.ts";

/** A run of arena units. */
export interface UnitSpan {
  readonly firstUnit: number;
  readonly unitCount: number;
}

/** The figures of `PlanResult` that add up over plans. */
export type PlanFigures = Pick<PlanResult, "unitsTaken" | "unitsReturned" | "punchedBytes" | "populatedBytes" | "zeroedBytes" | "deferredBytes" | "restoredBytes" | "convertedBytes">;

export interface PlanTotals extends PlanFigures {
  /** Sorted, merged runs of the plans' collapsible units. */
  readonly collapsibleUnits: readonly UnitSpan[];
  /** The first plan's deciding discard policy (they share one arena, hence one policy). */
  readonly discardPolicy: PlanResult["discardPolicy"];
}

export function totalsOf(results: readonly PlanResult[]): PlanTotals {
  let unitsTaken = 0;
  let unitsReturned = 0;
  let punchedBytes = 0;
  let populatedBytes = 0;
  let zeroedBytes = 0;
  let deferredBytes = 0;
  let restoredBytes = 0;
  let convertedBytes = 0;
  let discardPolicy: PlanResult["discardPolicy"];
  const collapsible: number[] = [];
  for (const r of results) {
    unitsTaken += r.unitsTaken;
    unitsReturned += r.unitsReturned;
    punchedBytes += r.punchedBytes;
    populatedBytes += r.populatedBytes;
    zeroedBytes += r.zeroedBytes;
    deferredBytes += r.deferredBytes;
    restoredBytes += r.restoredBytes;
    convertedBytes += r.convertedBytes;
    discardPolicy ??= r.discardPolicy;
    collapsible.push(...r.collapsibleUnits);
  }
  return { unitsTaken, unitsReturned, punchedBytes, populatedBytes, zeroedBytes, deferredBytes, restoredBytes, convertedBytes, collapsibleUnits: spansOf(collapsible), discardPolicy };
}

/** Unit numbers (any order, repeats allowed) as sorted runs. */
export function spansOf(units: readonly number[]): UnitSpan[] {
  const sorted = [...new Set(units)].sort((a, b) => a - b);
  const spans: UnitSpan[] = [];
  for (const u of sorted) {
    const last = spans[spans.length - 1];
    if (last !== undefined && last.firstUnit + last.unitCount === u) spans[spans.length - 1] = { firstUnit: last.firstUnit, unitCount: last.unitCount + 1 };
    else spans.push({ firstUnit: u, unitCount: 1 });
  }
  return spans;
}
