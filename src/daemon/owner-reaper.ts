/**
 * When an owner's process is gone (its pidfd fired, or at start-up its pid no longer runs the
 * same process), its arenas are deleted and their leases released (reason owner-exited), each
 * arena as one deletion (arena-lifecycle.ts). A deletion that fails in the kernel is retried
 * after `OWNER_CLEANUP_RETRY_MS`; the units stay accounted meanwhile.
 */
import type { Identity } from "./pool-service.ts";
import { deleteArenaNow, markDeleting } from "./arena-lifecycle.ts";
import type { DaemonContext } from "./daemon-context.ts";
import { byId } from "./pool-queries.ts";
import { NO_IDEM } from "./transaction-runner.ts";

/** How long an owner's cleanup waits before retrying a release that failed in the kernel. */
export const OWNER_CLEANUP_RETRY_MS = 1000;

export class OwnerReaper {
  readonly #ctx: DaemonContext;
  /** Resolves when start-up is over (the reaper waits for it before deleting). */
  readonly #started: () => Promise<void> | undefined;

  constructor(ctx: DaemonContext, started: () => Promise<void> | undefined) {
    this.#ctx = ctx;
    this.#started = started;
    ctx.onOwnerExited = (owner) => this.ownerExited(owner);
  }

  /** The owner process is gone: release its leases and delete its arenas. */
  ownerExited(owner: string): void {
    this.#ctx.registry.markGone(owner);
    // No retry can come from a process that is gone: its request ids go (the journal's next
    // snapshot leaves them out).
    this.#ctx.idempotency.forgetIdentity(owner);
    void this.#reap(owner);
  }

  async #reap(owner: string): Promise<void> {
    const ctx = this.#ctx;
    if (ctx.servingState === "starting") await this.#started()?.catch(() => undefined);
    if (ctx.servingState === "draining") return;
    const arenas = [...ctx.pool.arenas()].filter((a) => a.owner === owner).sort(byId);
    let identity: Identity | undefined;
    let leases = 0;
    let units = 0;
    // Every arena becomes DELETING at once, then they go one by one.
    for (const arena of arenas) {
      identity ??= ctx.registry.find(arena.id)?.meta.owner;
      markDeleting(ctx, arena);
    }
    for (const arena of arenas) {
      try {
        const r = await deleteArenaNow(ctx, arena, "owner-exited", NO_IDEM);
        leases += r.leases;
        units += r.units;
      } catch (error) {
        ctx.logger.error({ err: error, arenaId: arena.id, owner }, "owner exited: releasing its arena failed; retrying");
        setTimeout(() => void this.#reap(owner), OWNER_CLEANUP_RETRY_MS).unref();
        return;
      }
    }
    if (identity !== undefined) {
      ctx.events.publish({ kind: "owner-exited", owner: identity, deletedArenaCount: arenas.length, releasedLeaseCount: leases, releasedUnitCount: units }, { owner, arenaId: undefined });
    }
  }
}
