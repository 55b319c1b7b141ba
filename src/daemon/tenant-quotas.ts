/**
 * Per-uid and per-gid quotas (config `[[quotas]]`, issue 12 "a tenant may not take the whole
 * pool"): the units leased in all arenas of a subject's processes together, and the arenas
 * they hold together. A caller is bound by every quota naming its uid or its primary gid
 * (SO_PEERCRED's); admins by none. Over a quota the call fails RESOURCE_EXHAUSTED naming the
 * quota, its limit, what is used and what was asked, and nothing changes.
 *
 * Usage is computed from the books when asked (arenas in the registry, their leased units from
 * the pool: size minus free extents), not kept in counters, so it cannot drift from them; the
 * cost is one pass over the subject's arenas per checked call. The one state kept here is the
 * arenas being created (claimed, not yet committed: their kernel step is in flight), so that
 * two creations racing past the check cannot both take the last arena of a quota. Units need
 * no such state: Allocate checks and plans in one synchronous claim, and the planned lease is
 * in the pool (hence in the usage) before the next call can run.
 *
 * Invariants:
 * - `#creating` holds exactly the arenas between a creation's claim and its finish.
 */
import { GmempoolError } from "../pool/errors.ts";
import type { TenantQuota } from "./config.ts";
import type { QuotaUsage } from "./service-resources.ts";

/** Who holds arenas: a caller, or an arena's owner as journaled. */
export interface QuotaHolder {
  readonly uid: number;
  readonly gid: number;
  readonly isAdmin?: boolean;
}

/** One arena as quotas see it. */
export interface QuotaArena {
  readonly holder: QuotaHolder;
  readonly leasedUnits: number;
}


export class TenantQuotas {
  readonly #quotas: readonly TenantQuota[];
  readonly #arenas: () => Iterable<QuotaArena>;
  readonly #creating = new Map<string, QuotaHolder>();

  constructor(quotas: readonly TenantQuota[], arenas: () => Iterable<QuotaArena>) {
    this.#quotas = quotas;
    this.#arenas = arenas;
  }

  /** The quotas binding `holder` (none for an admin). */
  applying(holder: QuotaHolder): TenantQuota[] {
    if (holder.isAdmin === true) return [];
    return this.#quotas.filter((q) => (q.subject === "uid" ? holder.uid : holder.gid) === q.id);
  }

  /** What `quota`'s subject uses now. */
  usage(quota: TenantQuota): { readonly leasedUnitCount: number; readonly arenaCount: number } {
    const covers = (h: QuotaHolder): boolean => (quota.subject === "uid" ? h.uid : h.gid) === quota.id;
    let leasedUnitCount = 0;
    let arenaCount = 0;
    for (const arena of this.#arenas()) {
      if (!covers(arena.holder)) continue;
      leasedUnitCount += arena.leasedUnits;
      arenaCount += 1;
    }
    for (const holder of this.#creating.values()) if (covers(holder)) arenaCount += 1;
    return { leasedUnitCount, arenaCount };
  }

  /** What GetPoolStatus reports to `caller`: every quota for an admin, else the caller's own. */
  report(caller: QuotaHolder): QuotaUsage[] {
    return (caller.isAdmin === true ? this.#quotas : this.applying(caller)).map((q) => ({ subject: q.subject, id: q.id, unitLimit: q.units, arenaLimit: q.arenas, ...this.usage(q) }));
  }

  /** Allocate of `unitCount` units by `caller`: throws when a quota would be passed. */
  checkUnits(caller: QuotaHolder, unitCount: number): void {
    for (const quota of this.applying(caller)) {
      if (quota.units === undefined) continue;
      const { leasedUnitCount } = this.usage(quota);
      if (leasedUnitCount + unitCount > quota.units) {
        throw overUnits(quota, leasedUnitCount, unitCount);
      }
    }
  }

  /**
   * An arena holding `leasedUnits` moves from `from` to `to` (HandOverArena, same uid): every
   * quota that binds `to` and not `from` (another gid) gains the arena and its units, so the
   * move is refused past one of them, as a creation and Allocates there would be.
   */
  checkHandOver(from: QuotaHolder, to: QuotaHolder, leasedUnits: number): void {
    const before = new Set(this.applying(from));
    for (const quota of this.applying(to)) {
      if (before.has(quota)) continue;
      const { leasedUnitCount, arenaCount } = this.usage(quota);
      if (quota.units !== undefined && leasedUnitCount + leasedUnits > quota.units) {
        throw overUnits(quota, leasedUnitCount, leasedUnits);
      }
      if (quota.arenas !== undefined && arenaCount + 1 > quota.arenas) {
        throw overArenas(quota, arenaCount);
      }
    }
  }

  /**
   * A new arena `arenaId` for `caller`, in a creation's claim: throws when a quota's arena
   * count would be passed, else counts the arena until the returned function (the claim's
   * release) is called — by then it is in the registry, or was never made.
   */
  claimArena(caller: QuotaHolder, arenaId: string): () => void {
    for (const quota of this.applying(caller)) {
      if (quota.arenas === undefined) continue;
      const { arenaCount } = this.usage(quota);
      if (arenaCount + 1 > quota.arenas) {
        throw overArenas(quota, arenaCount);
      }
    }
    this.#creating.set(arenaId, { uid: caller.uid, gid: caller.gid });
    return () => {
      this.#creating.delete(arenaId);
    };
  }

  /** Arenas claimed and not yet committed or given up (tests: 0 when idle). */
  get creatingCount(): number {
    return this.#creating.size;
  }
}

/** The refusals, naming the quota ("uid 1001's"), its limit, what is used and what was asked. */
function overUnits(quota: TenantQuota, leased: number, requested: number): GmempoolError {
  return new GmempoolError("exhausted", `${quota.subject} ${quota.id}'s quota of ${quota.units} units is reached: ${leased} leased, ${requested} requested`, { resource: "quota", value: `${quota.subject}=${quota.id}` });
}

function overArenas(quota: TenantQuota, held: number): GmempoolError {
  return new GmempoolError("exhausted", `${quota.subject} ${quota.id}'s quota of ${quota.arenas} arenas is reached: ${held} held`, { resource: "quota", value: `${quota.subject}=${quota.id}` });
}
