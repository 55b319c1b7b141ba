/**
 * Where a new lease goes in an arena (the daemon's first-fit placement): the lowest free run that
 * holds it at a block boundary, or the placement the caller asked for, which must be aligned to
 * the block and must not overlap a lease.
 */
import { ExhaustedError, FailedPreconditionError, InvalidArgumentError } from "../pool-errors.ts";
import { leaseEnd, type FakeArena } from "./fake-records.ts";
import { freeRuns } from "./resource-views.ts";

/** The first unit of the lowest free run that holds `unitCount` units at a block boundary. */
export function findPlacement(arena: FakeArena, unitCount: number, blockUnits: number): number {
  const runs = freeRuns(arena);
  for (const [s, e] of runs) {
    const start = Math.ceil(s / blockUnits) * blockUnits;
    if (start + unitCount <= e) return start;
  }
  const largest = runs.reduce((max, [s, e]) => Math.max(max, e - s), 0);
  const free = runs.reduce((n, [s, e]) => n + e - s, 0);
  throw new ExhaustedError(`arena "${arena.id}" has no free run of ${unitCount} units (largest is ${largest} of ${free} free)`);
}

/** Checks an explicit placement (already inside the arena) and returns its first unit. */
export function checkPlacement(arena: FakeArena, offsetUnits: number, unitCount: number, blockUnits: number): number {
  if (offsetUnits % blockUnits !== 0) throw new InvalidArgumentError(`placement offset ${offsetUnits} units is not aligned to the punch granularity of arena "${arena.id}" (${blockUnits} units)`);
  const end = offsetUnits + unitCount;
  const other = [...arena.leases.values()].find((l) => l.firstUnit < end && offsetUnits < leaseEnd(l));
  if (other !== undefined) throw new FailedPreconditionError(`placement [${offsetUnits}, ${end}) units overlaps lease "${other.id}" in arena "${arena.id}"`);
  return offsetUnits;
}
