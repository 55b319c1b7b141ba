/**
 * A reservation: units of the pool ear-marked for a claim (a Kubernetes ResourceClaim, by its
 * UID) before any VMM exists (issue 11). The units stay held in the reserve — nobody else can
 * be handed them — but they are counted as their own state, `reserved`, not as free.
 *
 * Who owns what: the pool owns the reservation; the daemon made its token (128 random bits;
 * the core has no randomness) and is the one that compares a presented token, in constant
 * time. At most one arena is bound to a reservation (`arenaId`): that arena's hand-outs draw on
 * the reservation first and its take-backs refill it, so a VMM that releases and re-allocates
 * inside its claim never loses the capacity to another tenant. The binding lives on the arena
 * (`Arena.reservation`); `arenaId` is its mirror, kept by the pool.
 *
 * Invariants (checked by the pool's `assertInvariants`):
 * - `reservedUnits(arenaUnits) = sizeUnits − min(sizeUnits, units the bound arena holds)`: the
 *   part of the claim not yet in an arena; the reserve's ear-mark is the sum of these;
 * - `arenaId` names an arena whose `reservation` is this claim, and no other arena names it.
 */
import type { ArenaId } from "./arena.ts";
import type { Units } from "./units.ts";

export class Reservation {
  readonly claimUid: string;
  readonly sizeUnits: Units;
  /** Opaque to the core: the secret the pod presents. */
  readonly token: string;
  arenaId: ArenaId | undefined;

  constructor(claimUid: string, sizeUnits: Units, token: string, arenaId?: ArenaId) {
    this.claimUid = claimUid;
    this.sizeUnits = sizeUnits;
    this.token = token;
    this.arenaId = arenaId;
  }

  /** The units still ear-marked, given how many units the bound arena holds from the pool. */
  reservedUnits(arenaUnits: number): number {
    return this.sizeUnits - Math.min(this.sizeUnits, arenaUnits);
  }
}
