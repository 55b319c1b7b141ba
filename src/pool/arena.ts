/**
 * An arena: one file (or a gmem + memfd pair) that backs one VM's memory, of a fixed
 * unit-aligned size (DESIGN.md §2). The arena records which of its units are covered by leases;
 * whether they are populated is the leases' business.
 *
 * Invariants (checked by the pool's `assertInvariants`):
 * - `free` and the leases' unit ranges partition [0, sizeUnits) (DESIGN.md §3 invariant 3);
 * - every lease of `leases` names this arena;
 * - `poolUnits` = the side-units its leases hold populated + those a populate in flight claimed
 *   (what a bound reservation's ear-mark is measured against).
 */
import { ExtentSet } from "./extent-set.ts";
import type { Lease } from "./lease.ts";
import type { ArenaPolicy } from "./policy.ts";
import type { Units } from "./units.ts";

/** What kind of file backs a side of an arena. */
export type FileKind = "guest_memfd" | "memfd" | "memfd-hugetlb";
export const FILE_KINDS: readonly FileKind[] = ["guest_memfd", "memfd", "memfd-hugetlb"];

/**
 * `single`: one file holds every page (shared and private pages of an in-place gmem, or a plain
 * memfd). `pair`: an out-of-place confidential VM: private pages in the gmem (side 0), shared
 * pages in a memfd (side 1).
 */
export type ArenaLayout = "single" | "pair";

export type ArenaId = string;

export class Arena {
  readonly id: ArenaId;
  /** The owner key; changes only by `Pool.handOverArena`, together with its leases'. */
  owner: string;
  readonly sizeUnits: Units;
  readonly layout: ArenaLayout;
  /** files[0] is side 0; files[1] exists for pairs. */
  readonly files: readonly FileKind[];
  policy: ArenaPolicy;
  readonly free = new ExtentSet();
  readonly leases = new Map<string, Lease>();
  /** The claim UID of the reservation the arena's units come from (reservation.ts), if any. */
  reservation: string | undefined;
  /** Units the arena holds from the pool: populated side-units + hand-outs in flight. */
  poolUnits = 0;

  constructor(id: ArenaId, owner: string, sizeUnits: Units, files: readonly FileKind[], policy: ArenaPolicy) {
    this.id = id;
    this.owner = owner;
    this.sizeUnits = sizeUnits;
    this.files = files;
    this.layout = files.length === 2 ? "pair" : "single";
    this.policy = policy;
    this.free.add(0, sizeUnits);
  }

  /** Units inside leases (free extents and leases partition the arena: invariant 3). */
  get leasedUnits(): number {
    return this.sizeUnits - this.free.size;
  }

  get sides(): 1 | 2 {
    return this.layout === "pair" ? 2 : 1;
  }

  /** Whether the arena can hold private pages at all. */
  get hasPrivateMemory(): boolean {
    return this.files[0] === "guest_memfd";
  }
}
