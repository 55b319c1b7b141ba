/** The pool core's public surface (DESIGN.md §2–§3): pure, synchronous bookkeeping. */
export { Arena, FILE_KINDS, type ArenaId, type ArenaLayout, type FileKind } from "./arena.ts";
export {
  ConflictError,
  ExhaustedError,
  FailedPreconditionError,
  InvalidArgumentError,
  NotFoundError,
  GmempoolError,
  isGmempoolError,
  type ErrorFields,
  type ErrorKind,
  type ErrorOptions,
} from "./errors.ts";
export { ExtentSet } from "./extent-set.ts";
export { fragmentationReport, UNIT_MAP_LEGEND, type ArenaFragmentation, type PoolFragmentation, type UnitMapSymbol } from "./fragmentation.ts";
export { Lease, type LeaseId, type LeaseState } from "./lease.ts";
export type { DiscardOutcome, KernelStep, Plan, PlanId, PlanKind, PlanResult, PopulateStep, PunchStep, SetAttributesStep, Side, ZeroStep } from "./plan.ts";
export { DEFAULT_POLICY, DISCARD_POLICIES, type ArenaPolicy, type DeferOverflow, type DiscardPolicy, type FitStrategy, type PoolPolicy } from "./policy.ts";
export { exportSnapshot, importSnapshot, reservationSnapshot, SNAPSHOT_VERSION, type PoolSnapshot, type ReservationSnapshot } from "./snapshot.ts";
export { totalsOf, spansOf, type PlanTotals, type UnitSpan } from "./plan-totals.ts";
export type { ArenaRangeRequest, RangeOperation } from "./range-plans.ts";
export { Reservation } from "./reservation.ts";
export { Pool, type AllocateRequest, type ArenaSpec, type ConversionMode, type ConvertRequest, type PoolOptions, type RangeRequest } from "./pool.ts";
export { arenaUnitsOf, MAX_ARENA_UNITS, PAGE_BYTES, PAGES_PER_UNIT, UNIT_BYTES, units, type ByteRange, type Bytes, type Pages, type UnitRange, type Units } from "./units.ts";
