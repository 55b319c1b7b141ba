/**
 * HandOverArena: ownership follows the VMM. A launcher creates an arena and its lease, spawns
 * the VMM, and hands the arena to the VMM's process by its pidfd; from then on the arena lives
 * while THAT process does (owner-reaper.ts frees it when the pidfd fires), and the launcher may
 * exit without the guest's memory being touched.
 *
 * Rules, in order (pool.proto HandOverArena):
 *  1. the caller owns the arena (the admin: any arena); another owner's id is not-found;
 *  2. the arena is ACTIVE (a DELETING one is going, a DETACHED one waits for its owner's files);
 *  3. the pidfd names a live process (read through the pidfd: kernel port `pidfdProcess`);
 *  4. of the arena owner's uid — a handover never moves memory to another tenant;
 *  5. that process is below the limit of arenas per process.
 * Then one journaled transaction without a kernel phase moves the arena and its leases to the
 * new owner key (`uid:pid:starttime`); the daemon watches the new owner through a dup of the
 * pidfd (no pid is looked up again, so a reused pid cannot take the arena), and stops watching
 * the old owner when it owns nothing more.
 */
import { isKernelError, type Fd } from "@gmempool/sys";
import { GmempoolError } from "../pool/errors.ts";
import { ownedArena, requireActive, visibleArena, requireId } from "./access-checks.ts";
import { callerIdentity } from "./caller-identity.ts";
import type { DaemonContext } from "./daemon-context.ts";
import { mutatingCall } from "./mutating-call.ts";
import { arenaInfoOf } from "./pool-queries.ts";
import { checkArenaLimit } from "./request-rules.ts";
import type { ArenaResult, Caller, HandOverArenaRequest, Identity } from "./pool-service.ts";

/** Who the pidfd's process is, or the refusal naming why it cannot own anything. */
function processOfPidfd(ctx: DaemonContext, pidfd: Fd): Identity {
  let process;
  try {
    process = ctx.kernel.pidfdProcess(pidfd);
  } catch (error) {
    if (isKernelError(error, "ESRCH")) throw new GmempoolError("failed-precondition", `the pidfd's process cannot own an arena: ${error.message}`, { field: "owner_pidfd_token", cause: error });
    if (isKernelError(error, "EINVAL")) throw new GmempoolError("invalid-argument", `owner_pidfd_token: ${error.message}`, { field: "owner_pidfd_token", cause: error });
    throw error;
  }
  return { uid: process.uid, gid: process.gid, pid: process.pid, startTimeTicks: ctx.startTimeOf(process.pid) ?? 0n };
}

export function handOverArena(ctx: DaemonContext, caller: Caller, request: HandOverArenaRequest): Promise<ArenaResult> {
  return mutatingCall(ctx, caller, "HandOverArena", request, { arenaId: request.arenaId }, async (idem) => {
    requireId(request.arenaId, "arena_id");
    const arena = caller.isAdmin ? visibleArena(ctx, caller, request.arenaId) : ownedArena(ctx, caller, request.arenaId);
    requireActive(ctx, arena);
    const from = ctx.registry.get(arena.id).meta;
    const to = processOfPidfd(ctx, request.ownerPidfd);
    if (to.uid !== from.owner.uid) {
      throw new GmempoolError("permission-denied", `process ${to.pid} belongs to uid ${to.uid}; arena "${arena.id}" belongs to uid ${from.owner.uid}: an arena is handed over only within its owner's uid`, { resource: "arena", id: arena.id, value: String(to.uid) });
    }
    const toKey = callerIdentity(to.uid, to.pid, to.startTimeTicks);
    if (toKey !== from.ownerKey) checkArenaLimit(ctx, { identity: toKey, pid: to.pid });
    const scope = { owner: toKey, arenaId: arena.id };
    return ctx.transactions.run({
      arenaId: arena.id,
      scope,
      // Checked where the arena moves: a gid quota of the new owner counts it from now on.
      claim: () => ctx.quotas.checkHandOver(from.owner, to, arena.leasedUnits),
      kernel: () => Promise.resolve(),
      commit: () => {
        ctx.pool.handOverArena(arena.id, toKey);
        ctx.registry.setOwner(arena.id, to, toKey);
        // The watch takes the dup; the request's pidfd stays the transport's (borrowed).
        ctx.peers.trackPidfd(toKey, ctx.kernel.dupCloexec(request.ownerPidfd), to.pid);
        if (ctx.registry.countOwnedBy(from.ownerKey) === 0) {
          ctx.peers.untrack(from.ownerKey);
          ctx.registry.forgetOwner(from.ownerKey);
        }
        ctx.logger.info({ arenaId: arena.id, from: from.ownerKey, to: toKey, by: caller.identity }, "arena handed over");
        const info = arenaInfoOf(ctx, arena);
        return { changes: { arenas: [arena.id], leases: [...arena.leases.keys()] }, result: { arena: info }, event: { kind: "arena-state-changed", arena: info } };
      },
    }, idem);
  });
}
