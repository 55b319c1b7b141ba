/**
 * A lease: a unit-aligned range of an arena, owned by one client identity, whose pages are
 * tracked in `pages` (DESIGN.md §2).
 *
 * Lifecycle: `allocating` (its first populate is in flight) -> `active` -> `releasing` -> gone.
 * A lease whose allocation or release failed in the kernel is `failed`: it holds exactly the
 * units that are populated, and accepts only a release. That way a failure mid-way never loses a
 * unit and never counts one twice.
 *
 * `busy` holds the lease-relative units that a plan in flight has claimed; no other plan may
 * touch them until that plan is committed or aborted (DESIGN.md §5: no lock across an await).
 */
import { ExtentSet } from "./extent-set.ts";
import type { ArenaId } from "./arena.ts";
import type { LeasePages } from "./lease-pages.ts";
import type { Units } from "./units.ts";

export type LeaseId = string;
export type LeaseState = "allocating" | "active" | "releasing" | "failed";

export class Lease {
  readonly id: LeaseId;
  readonly arenaId: ArenaId;
  /** Its arena's owner (invariant: always equal; `Pool.handOverArena` changes both). */
  owner: string;
  /** First arena unit of the lease. */
  readonly start: Units;
  readonly unitCount: Units;
  state: LeaseState;
  readonly pages: LeasePages;
  readonly busy = new ExtentSet();

  constructor(id: LeaseId, arenaId: ArenaId, owner: string, start: Units, unitCount: Units, pages: LeasePages, state: LeaseState) {
    this.id = id;
    this.arenaId = arenaId;
    this.owner = owner;
    this.start = start;
    this.unitCount = unitCount;
    this.pages = pages;
    this.state = state;
  }

  get end(): Units {
    return (this.start + this.unitCount) as Units;
  }
}
