/**
 * Where a new lease goes in an arena. Leases prefer contiguous placement: a lease is one run of
 * units, aligned to the arena's populate block. First-fit (lowest run that holds it) is the
 * default; best-fit (smallest run that holds it) is measured against it by the simulator.
 */
import type { ExtentSet } from "./extent-set.ts";
import type { FitStrategy } from "./policy.ts";

/** Start of a run of `length` free units aligned to `align`, chosen by `fit`; -1 when none. */
export function alignedFit(free: ExtentSet, length: number, align: number, fit: FitStrategy): number {
  let best = -1;
  let bestRun = Infinity;
  for (const [s, e] of free.runs()) {
    const start = Math.ceil(s / align) * align;
    if (start + length > e) continue;
    if (fit === "first-fit") return start;
    if (e - s < bestRun) {
      best = start;
      bestRun = e - s;
    }
  }
  return best;
}

