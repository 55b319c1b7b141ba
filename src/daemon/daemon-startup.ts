/**
 * Start-up and recovery (DESIGN.md §7): open the journal and rebuild the books from it, back
 * the pool with the reserve, take arena files back from the systemd fd store, check that the
 * journal's owners still run (or reap them), serve, then compact. While this runs, reads work and
 * mutations answer unavailable (access-checks.ts `requireServing`).
 */
import { GmempoolError } from "../pool/errors.ts";
import { UNIT_BYTES } from "../pool/index.ts";
import type { Fd } from "@gmempool/sys";
import { attachFiles, deleteArenaNow } from "./arena-lifecycle.ts";
import type { DaemonContext } from "./daemon-context.ts";
import { rebuild, type DurableState, type JournalRecord } from "./durable-state.ts";
import { toGmempoolError } from "./error-classification.ts";
import { Journal } from "./journal.ts";
import type { OwnerReaper } from "./owner-reaper.ts";
import { processUptimeMs } from "./process-uptime.ts";
import { arenaFdName } from "./pool-service.ts";
import { NO_IDEM } from "./transaction-runner.ts";

export async function startDaemon(ctx: DaemonContext, reaper: OwnerReaper): Promise<void> {
  const openedAt = performance.now();
  const { journal, recovered } = await Journal.open<DurableState, JournalRecord>({ dir: ctx.journalDir, fsync: ctx.config.journal.fsync, logger: ctx.logger });
  ctx.journal.attach(journal);
  try {
    const rebuilt = rebuild(recovered.snapshot, recovered.records, {
      capacityUnits: ctx.config.pool.capacityUnits,
      maxStepUnits: ctx.config.pool.maxStepUnits,
      initialPolicy: ctx.pool.policy,
    });
    ctx.pool = rebuilt.pool;
    for (const meta of rebuilt.arenas.values()) ctx.registry.add(meta, undefined);
    for (const meta of rebuilt.leases.values()) ctx.registry.setLeaseMeta(meta);
    ctx.idempotency.load(rebuilt.results);
    ctx.logger.info({ uptimeMs: processUptimeMs(), journalMs: Math.round(performance.now() - openedAt), arenas: ctx.registry.size, leases: rebuilt.leases.size, records: recovered.records.length, leasedUnits: ctx.pool.reserve.leasedUnits, capacityUnits: ctx.pool.capacityUnits }, "journal recovered");
    try {
      await ctx.reserve.start(ctx.pool.reserve.heldRuns());
    } catch (error) {
      const why = toGmempoolError(error, { what: `populate the ${ctx.reserve.mode} reserve`, offset: 0n, length: BigInt(ctx.pool.capacityUnits) * BigInt(UNIT_BYTES) });
      throw new GmempoolError("failed-precondition", `cannot back the pool of ${ctx.pool.capacityUnits} units with reserve "${ctx.reserve.mode}": ${why.message}`, { resource: "reserve", value: ctx.reserve.mode, cause: error });
    }
    await adoptInheritedFds(ctx);
    // Owners recorded in the journal: still the same process? Otherwise their arenas go.
    for (const { meta } of ctx.registry.records()) {
      if (ctx.peers.isTracked(meta.ownerKey) || ctx.registry.isGone(meta.ownerKey)) continue;
      const now = ctx.startTimeOf(meta.owner.pid);
      if (now === undefined || (meta.owner.startTimeTicks !== 0n && now !== meta.owner.startTimeTicks)) reaper.ownerExited(meta.ownerKey);
      else ctx.peers.track(meta.ownerKey, meta.owner.pid);
    }
  } catch (error) {
    await journal.close().catch(() => undefined);
    await ctx.reserve.close().catch(() => undefined);
    throw error;
  }
  ctx.servingState = "serving";
  scheduleStartupCompaction(ctx, journal);
  scheduleLostFileSweep(ctx);
  ctx.logger.info({ uptimeMs: processUptimeMs(), reserve: ctx.reserve.mode, capacityUnits: ctx.pool.capacityUnits }, "pool serving");
  ctx.events.publish({ kind: "pool-status", status: ctx.status() }, { owner: undefined, arenaId: undefined });
}

/**
 * How long after serving the start-up's housekeeping runs: the start-up snapshot here, and
 * reflection's index (GmempoolProcess). Neither is needed to serve, so neither is on the way
 * there: building the state for the snapshot is synchronous (60–80 ms with 10 k leases on this
 * 2-core machine, cold), and so is its encoding a tick later (~50 ms) — started at once, they
 * delayed SERVING and then the VMMs' first ReattachArena calls. A crash before the snapshot
 * replays the same log again, so it can wait until the restart's rush is over.
 */
export const STARTUP_HOUSEKEEPING_DELAY_MS = 2_000;

/** The start-up snapshot: the replayed log folded into one file (and expired request ids dropped). */
function scheduleStartupCompaction(ctx: DaemonContext, journal: Journal<DurableState, JournalRecord>): void {
  ctx.clock.setTimeout(() => {
    if (ctx.servingState !== "serving") return;
    journal.compact(() => ctx.journal.durableState()).catch((error: unknown) => ctx.logger.error({ err: error }, "start-up journal compaction failed"));
  }, STARTUP_HOUSEKEEPING_DELAY_MS);
}

/**
 * Arena files the systemd fd store gave back (the daemon owns them all): each arena's are
 * checked and reattached like a ReattachArena (type, size, memfd name, journaled identity;
 * contents reconciled with the books). An arena whose files do not all check out stays
 * DETACHED; leftovers are closed.
 */
async function adoptInheritedFds(ctx: DaemonContext): Promise<void> {
  const remaining = new Map(ctx.inheritedFds);
  for (const { meta } of [...ctx.registry.records()]) {
    const names = meta.files.map((_, side) => arenaFdName(meta.id, side));
    const fds = names.map((n) => remaining.get(n));
    for (const n of names) remaining.delete(n);
    if (fds.every((fd) => fd === undefined)) continue;
    try {
      if (fds.some((fd) => fd === undefined)) throw new GmempoolError("failed-precondition", `the fd store holds only some of arena "${meta.id}"'s files`, { resource: "arena", id: meta.id });
      await attachFiles(ctx, ctx.pool.arena(meta.id), fds as Fd[], NO_IDEM, "fd-store");
      ctx.logger.info({ arenaId: meta.id }, "arena reattached from the systemd fd store");
    } catch (error) {
      ctx.logger.warn({ err: error, arenaId: meta.id }, "fd store: arena files not usable; the arena stays DETACHED");
      ctx.files.unstore(meta.id, names.length);
    } finally {
      for (const fd of fds) if (fd !== undefined) ctx.files.closeQuietly(fd);
    }
  }
  for (const [name, fd] of remaining) {
    ctx.logger.warn({ name }, "fd store: an fd that is no arena's file; closed");
    ctx.files.closeQuietly(fd);
    ctx.fdStore?.remove(name);
  }
}

/**
 * A memfd (or pair) arena DETACHED by the restart has its memfd, if anywhere, with its VMM —
 * or nowhere: the daemon may have died after journaling the arena and before the VMM took the
 * fd (issue 12). Nothing tells the two apart but time: whatever is still DETACHED
 * `limits.detached_memfd_grace` after start-up (a VMM's reattach takes seconds) counts as lost,
 * and its arena is deleted with its units (reason file-lost). guest_memfd arenas are left alone:
 * their file is the VMM's own, which the daemon never held alone.
 */
function scheduleLostFileSweep(ctx: DaemonContext): void {
  const detached = [...ctx.registry.records()].filter((r) => r.fds === undefined && r.meta.files.some((f) => f.fdType !== "guest_memfd")).map((r) => r.meta.id);
  if (detached.length === 0) return;
  ctx.clock.setTimeout(() => {
    if (ctx.servingState !== "serving") return;
    for (const id of detached) {
      const record = ctx.registry.find(id);
      const arena = ctx.pool.findArena(id);
      if (record === undefined || arena === undefined || record.fds !== undefined || record.state === "deleting") continue;
      ctx.logger.warn({ arenaId: id, graceMs: ctx.config.limits.detachedMemfdGraceMs }, "memfd arena not reattached since the restart: its file is lost; deleting it");
      record.fileLost = true;
      deleteArenaNow(ctx, arena, "file-lost", NO_IDEM).catch((error: unknown) => ctx.logger.error({ err: error, arenaId: id }, "deleting an arena whose file is lost failed"));
    }
  }, ctx.config.limits.detachedMemfdGraceMs);
}
