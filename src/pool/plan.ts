/**
 * Plans: the claim -> kernel -> commit / abort protocol (DESIGN.md §5).
 *
 * A mutating pool operation does its bookkeeping synchronously and returns a plan: the exact
 * kernel calls the daemon must make, as independent steps. The units the plan touches are
 * claimed until the daemon settles the plan with `Pool.commit(planId, failedSteps)`, telling for
 * every step whether the kernel did it. A step that failed is reverted exactly (its units go back
 * where they were), a step that succeeded is applied; so a failure mid-way never loses a unit.
 *
 * Offsets are arena file offsets in bytes; reserve slots are unit indices in the reserve file.
 * Every populate and punch is aligned to and a multiple of the arena's punch granularity
 * (DESIGN.md §3 invariant 2), except that populates are never smaller than a unit.
 */
import type { ArenaId } from "./arena.ts";
import type { LeaseId } from "./lease.ts";
import type { ByteRange, UnitRange } from "./units.ts";

export type PlanId = number;
export type Side = 0 | 1;

/** Populate `bytes` of the arena file (fallocate KEEP_SIZE), then punch `reserveSlots`. */
export interface PopulateStep {
  readonly op: "populate";
  readonly arenaId: ArenaId;
  readonly side: Side;
  readonly bytes: ByteRange;
  /** Units this step takes out of the reserve (the side-units in `bytes` that were empty). */
  readonly unitsTaken: number;
  readonly reserveSlots: readonly UnitRange[];
}

/** Punch `bytes` of the arena file (PUNCH_HOLE|KEEP_SIZE), then populate `reserveSlots`. */
export interface PunchStep {
  readonly op: "punch";
  readonly arenaId: ArenaId;
  readonly side: Side;
  readonly bytes: ByteRange;
  /** Units this step gives back to the reserve (0 for a 4 KiB page punch inside a unit). */
  readonly unitsReturned: number;
  readonly reserveSlots: readonly UnitRange[];
}

/** Write zeroes over shared pages in place (policy `zero`); nothing is freed. */
export interface ZeroStep {
  readonly op: "zero";
  readonly arenaId: ArenaId;
  readonly side: Side;
  readonly bytes: ByteRange;
}

/** In-place conversion: KVM_SET_MEMORY_ATTRIBUTES2 on the gmem fd (side 0). */
export interface SetAttributesStep {
  readonly op: "set-attributes";
  readonly arenaId: ArenaId;
  readonly side: 0;
  readonly bytes: ByteRange;
  readonly private: boolean;
}

export type KernelStep = PopulateStep | PunchStep | ZeroStep | SetAttributesStep;

export type PlanKind = "allocate" | "release" | "discard" | "populate" | "convert";

/**
 * What a discard did with the pages it was given (reported back to the client as pool.proto's
 * DiscardResponse, whose comment these definitions follow). Every page of the range is in one
 * share: punched by this plan (live before, in no file after), zeroed, deferred, or discarded
 * before (already-discarded, not reported). `punchedBytes` is the kernel's figure, not the first
 * share: whole blocks punched, which can hold pages outside the range or pages of it discarded
 * before, and per file of a pair; so the range's punched share is at most `punchedBytes`.
 */
export interface DiscardOutcome {
  /** Bytes punched by this plan in the arena's files (whole blocks, or 4 KiB runs), per file. */
  readonly punchedBytes: number;
  /** Bytes zeroed in place. */
  readonly zeroedBytes: number;
  /**
   * Pages of the range this plan newly marks discarded that some file still holds after it:
   * held until their whole block is discarded. Not pages it punches, not pages discarded before.
   */
  readonly deferredBytes: number;
  /** The policy that decided the sub-granularity part. */
  readonly policy: "reject" | "zero" | "defer" | "none";
}

export interface Plan {
  readonly id: PlanId;
  readonly kind: PlanKind;
  readonly leaseId: LeaseId;
  readonly arenaId: ArenaId;
  readonly steps: readonly KernelStep[];
  readonly discard?: DiscardOutcome;
}

/**
 * What settling a plan did: complete, so that the daemon answers from it and never recomputes
 * figures from the plan's steps or the lease's bitmaps.
 */
export interface PlanResult {
  readonly planId: PlanId;
  readonly kind: PlanKind;
  readonly leaseId: LeaseId;
  readonly arenaId: ArenaId;
  readonly applied: number;
  readonly reverted: number;
  /** The lease after the plan, or undefined when it is gone (released). */
  readonly leaseState: "active" | "failed" | "released";
  /** Arena units (absolute) whose pages are all private again after a conversion to private. */
  readonly collapsibleUnits: readonly number[];
  // Over the steps the kernel did (failed steps excluded):
  /** Units taken out of the reserve (populate steps' `unitsTaken`). */
  readonly unitsTaken: number;
  /** Units given back to the reserve (punch steps' `unitsReturned`). */
  readonly unitsReturned: number;
  /** Bytes punched in the arena's files (per file: a pair's two sides both count). */
  readonly punchedBytes: number;
  /** Bytes populated in the arena's files. */
  readonly populatedBytes: number;
  // Figures of the plan's range as planned (exact when no step failed):
  /** Discard: bytes zeroed in place (DiscardOutcome). */
  readonly zeroedBytes: number;
  /** Discard: bytes newly marked discarded that a file still holds (DiscardOutcome). */
  readonly deferredBytes: number;
  /** Populate: bytes of the range that were discarded and are live again. */
  readonly restoredBytes: number;
  /** Convert: bytes of the range that were not already in the target state. */
  readonly convertedBytes: number;
  /** Discard: the policy that decided the sub-granularity part, unless none had to. */
  readonly discardPolicy: "reject" | "zero" | "defer" | undefined;
}
