/**
 * Arenas come and go: RegisterGuestMemfdArena, CreateMemfdArena, CreateArenaPair,
 * ReattachArena, DeleteArena (and the deletions of ForceRelease and owner exit). Each is one
 * transaction (transaction-runner.ts): the claim checks the request and claims the files, the
 * kernel phase makes the files match the books (a new file is punched whole; a reattached one
 * reconciled) and delivers a memfd, the commit records the arena.
 */
import type { Fd } from "@gmempool/sys";
import { GmempoolError } from "../pool/errors.ts";
import { arenaUnitsOf, UNIT_BYTES, type Arena, type FileKind } from "../pool/index.ts";
import { ownedArena } from "./access-checks.ts";
import type { DeletionResult } from "./arena-registry.ts";
import type { DaemonContext } from "./daemon-context.ts";
import type { ArenaFileMeta, ArenaMeta } from "./durable-state.ts";
import { toGmempoolError } from "./error-classification.ts";
import { freshId } from "./fresh-id.ts";
import { releaseLease } from "./lease-operations.ts";
import { mutatingCall } from "./mutating-call.ts";
import { arenaInfoOf } from "./pool-queries.ts";
import type {
  ArenaKind,
  ArenaResult,
  Caller,
  CreateArenaPairRequest,
  CreateMemfdArenaRequest,
  DeleteArenaRequest,
  DeleteArenaResult,
  FdDelivery,
  FdType,
  RegisterGuestMemfdArenaRequest,
  ReattachArenaRequest,
  ReleaseReason,
  PageVisibility,
} from "./pool-service.ts";
import { checkArenaLimit, checkName, memfdTypeOf, required } from "./request-rules.ts";
import { claimOfToken } from "./reservation-operations.ts";
import { NO_IDEM, type IdemSlot } from "./transaction-runner.ts";

const UNIT = BigInt(UNIT_BYTES);

function fileKindOf(fdType: FdType): FileKind {
  return fdType === "guest_memfd" ? "guest_memfd" : fdType === "memfd_hugetlb" ? "memfd-hugetlb" : "memfd";
}

function deliveryFailed(error: unknown): GmempoolError {
  return new GmempoolError("failed-precondition", `the memfd could not be delivered on the fd channel: ${error instanceof Error ? error.message : String(error)}`, { resource: "file", cause: error });
}

/** What a new arena is made of. */
interface NewArena {
  readonly id: string;
  readonly name: string;
  readonly kind: ArenaKind;
  readonly sizeUnits: number;
  readonly initialVisibility: PageVisibility;
  /** By side; the guest_memfd's identity already read, the memfd's to be made. */
  readonly files: readonly ArenaFileMeta[];
  /** The received guest_memfd (borrowed), if any. */
  readonly received: readonly Fd[];
  readonly deliver: FdDelivery | undefined;
  /** The claim UID of the reservation the arena draws on. */
  readonly reservation?: string | undefined;
}

/** The claim of a presented reservation token, checked before any work (issue 11). */
function reservationOf(ctx: DaemonContext, token: string | undefined): { reservation?: string } {
  return token === undefined || token === "" ? {} : { reservation: claimOfToken(ctx, token) };
}

export function registerGuestMemfdArena(ctx: DaemonContext, caller: Caller, request: RegisterGuestMemfdArenaRequest): Promise<ArenaResult> {
  const { gmemFd, ...fields } = request;
  return mutatingCall(ctx, caller, "RegisterGuestMemfdArena", request, fields, (idem) => {
    const sizeUnits = arenaUnitsOf(request.sizeBytes);
    const initialVisibility = required(request.initialVisibility, "initial_visibility");
    checkName(request.name, "name");
    checkArenaLimit(ctx, caller);
    const gmem: ArenaFileMeta = { fdType: "guest_memfd", memfdName: "", ...ctx.files.checkReceived(gmemFd, "guest_memfd", request.sizeBytes) };
    return createArena(ctx, caller, idem, { id: freshId("arena"), name: request.name, kind: "guest_memfd", sizeUnits, initialVisibility, files: [gmem], received: [gmemFd], deliver: undefined, ...reservationOf(ctx, request.reservationToken) });
  });
}

export function createMemfdArena(ctx: DaemonContext, caller: Caller, request: CreateMemfdArenaRequest): Promise<ArenaResult> {
  const { deliver, ...fields } = request;
  return mutatingCall(ctx, caller, "CreateMemfdArena", request, fields, (idem) => {
    const sizeUnits = arenaUnitsOf(request.sizeBytes);
    const fdType = memfdTypeOf(ctx, request.backing, "backing");
    checkName(request.name, "name");
    checkArenaLimit(ctx, caller);
    const id = freshId("arena");
    return createArena(ctx, caller, idem, { id, name: request.name, kind: "memfd", sizeUnits, initialVisibility: "shared", files: [{ fdType, memfdName: `gmempool:${id}` }], received: [], deliver, ...reservationOf(ctx, request.reservationToken) });
  }, (result) => redeliver(ctx, result.arena.arenaId, deliver));
}

export function createArenaPair(ctx: DaemonContext, caller: Caller, request: CreateArenaPairRequest): Promise<ArenaResult> {
  const { gmemFd, deliver, ...fields } = request;
  return mutatingCall(ctx, caller, "CreateArenaPair", request, fields, (idem) => {
    const sizeUnits = arenaUnitsOf(request.sizeBytes);
    const fdType = memfdTypeOf(ctx, request.sharedBacking, "shared_backing");
    const initialVisibility = required(request.initialVisibility, "initial_visibility");
    checkName(request.name, "name");
    checkArenaLimit(ctx, caller);
    const gmem: ArenaFileMeta = { fdType: "guest_memfd", memfdName: "", ...ctx.files.checkReceived(gmemFd, "guest_memfd", request.sizeBytes) };
    const id = freshId("arena");
    return createArena(ctx, caller, idem, { id, name: request.name, kind: "pair", sizeUnits, initialVisibility, files: [gmem, { fdType, memfdName: `gmempool:${id}` }], received: [gmemFd], deliver });
  }, (result) => redeliver(ctx, result.arena.arenaId, deliver));
}

/**
 * Makes an arena: claims the received files, dups them, creates the daemon's memfd (if any),
 * punches every file whole (a received file holds nothing the pool accounts for), delivers the
 * memfd, then records the arena in the pool and the registry and journals it. A failure before
 * the commit undoes all of it (the fds are closed, the claims dropped).
 */
function createArena(ctx: DaemonContext, caller: Caller, idem: IdemSlot, spec: NewArena): Promise<Omit<ArenaResult, "replayed">> {
  const sizeBytes = BigInt(spec.sizeUnits) * UNIT;
  const poolSpec = { id: spec.id, sizeBytes: Number(sizeBytes), files: spec.files.map((f) => fileKindOf(f.fdType)), ...(spec.reservation === undefined ? {} : { reservation: spec.reservation }) };
  const binding = spec.reservation;
  return ctx.transactions.run({
    arenaId: spec.id,
    scope: { owner: caller.identity, arenaId: spec.id },
    claim: () => {
      // The pool's rules first (e.g. a size the pool's punch granularity does not divide):
      // once the memfd is delivered, the registration must not fail.
      ctx.pool.checkArena(poolSpec);
      if (binding !== undefined && ctx.reservationsBinding.has(binding)) throw new GmempoolError("conflict", "the reservation is being bound to an arena by a call in flight", { resource: "reservation" });
      const releaseQuota = ctx.quotas.claimArena(caller, spec.id);
      let releaseFiles: () => void;
      try {
        releaseFiles = ctx.files.claim(spec.id, spec.files, undefined);
      } catch (error) {
        releaseQuota();
        throw error;
      }
      if (binding !== undefined) ctx.reservationsBinding.add(binding);
      return () => {
        releaseFiles();
        releaseQuota();
        if (binding !== undefined) ctx.reservationsBinding.delete(binding);
      };
    },
    kernel: async () => {
      const owned = ctx.files.dupAll(spec.received);
      let files = spec.files;
      try {
        const memfdSide = spec.files.findIndex((f) => f.fdType !== "guest_memfd");
        if (memfdSide >= 0) {
          const { fd, file } = ctx.files.createMemfd(spec.files[memfdSide]!, sizeBytes);
          owned.push(fd);
          files = spec.files.map((f, side) => (side === memfdSide ? { ...f, ...file } : f));
        }
        for (const fd of owned) await ctx.files.punchAll(fd, sizeBytes);
        if (memfdSide >= 0 && spec.deliver !== undefined) {
          await spec.deliver(owned[memfdSide]!, { fdType: spec.files[memfdSide]!.fdType, sizeBytes }).catch((error: unknown) => {
            throw deliveryFailed(error);
          });
        }
      } catch (error) {
        ctx.files.closeAll(owned);
        throw toGmempoolError(error, { what: `prepare arena file for "${spec.id}"`, offset: 0n, length: sizeBytes });
      }
      return { owned, files };
    },
    commit: (_claim, { owned, files }) => {
      ctx.pool.registerArena(caller.identity, poolSpec);
      const meta: ArenaMeta = {
        id: spec.id, name: spec.name, kind: spec.kind,
        owner: { uid: caller.uid, gid: caller.gid, pid: caller.pid, startTimeTicks: caller.startTimeTicks },
        ownerKey: caller.identity, initialVisibility: spec.initialVisibility, files, createTime: Date.now(),
      };
      ctx.registry.add(meta, owned);
      ctx.files.store(spec.id, owned);
      ctx.peers.track(caller.identity, caller.pid);
      ctx.logger.info({ arenaId: spec.id, kind: spec.kind, units: spec.sizeUnits, owner: caller.identity, ...(binding === undefined ? {} : { claimUid: binding }) }, "arena created");
      const arena = arenaInfoOf(ctx, ctx.pool.arena(spec.id));
      return { changes: { arenas: [spec.id] }, result: { arena }, event: { kind: "arena-created", arena } };
    },
    finish: (releaseClaims) => releaseClaims(),
  }, idem);
}

/** Idempotent replay of a create: the retrying client gets the memfd again on its new token. */
async function redeliver(ctx: DaemonContext, arenaId: string, deliver: FdDelivery): Promise<void> {
  const record = ctx.registry.find(arenaId);
  if (record === undefined) return;
  const side = record.meta.files.findIndex((f) => f.fdType !== "guest_memfd");
  if (side < 0) return;
  const fds = record.fds;
  if (fds === undefined) {
    // The daemon restarted since and holds no copy of the memfd: the retry cannot get it, and
    // must not get a second arena either (issue 12).
    throw new GmempoolError("failed-precondition", `this request id created arena "${arenaId}", left DETACHED by a daemon restart: the daemon holds no copy of its memfd to deliver again. If you hold the memfd, ReattachArena; if not, DeleteArena and create a new one`, { resource: "arena", id: arenaId });
  }
  await deliver(fds[side]!, { fdType: record.meta.files[side]!.fdType, sizeBytes: BigInt(ctx.pool.arena(arenaId).sizeUnits) * UNIT }).catch((error: unknown) => {
    throw deliveryFailed(error);
  });
}

export function reattachArena(ctx: DaemonContext, caller: Caller, request: ReattachArenaRequest): Promise<ArenaResult> {
  const { gmemFd, memfdFd, ...fields } = request;
  return mutatingCall(ctx, caller, "ReattachArena", request, fields, (idem) => {
    const arena = ownedArena(ctx, caller, request.arenaId);
    const record = ctx.registry.get(arena.id);
    const meta = record.meta;
    if (record.state !== "detached") throw new GmempoolError("failed-precondition", `arena "${arena.id}" is ${record.state.toUpperCase()}, not DETACHED`, { resource: "arena", id: arena.id, value: record.state });
    const needsGmem = meta.files.some((f) => f.fdType === "guest_memfd");
    const needsMemfd = meta.files.some((f) => f.fdType !== "guest_memfd");
    if (needsGmem !== (gmemFd !== undefined)) throw new GmempoolError("invalid-argument", needsGmem ? `arena "${arena.id}" (${meta.kind}) needs gmem_fd_token` : `arena "${arena.id}" (${meta.kind}) has no guest_memfd: gmem_fd_token must be empty`, { field: "gmem_fd_token" });
    if (needsMemfd !== (memfdFd !== undefined)) throw new GmempoolError("invalid-argument", needsMemfd ? `arena "${arena.id}" (${meta.kind}) needs memfd_fd_token` : `arena "${arena.id}" (${meta.kind}) has no memfd: memfd_fd_token must be empty`, { field: "memfd_fd_token" });
    const received = meta.files.map((f) => (f.fdType === "guest_memfd" ? gmemFd! : memfdFd!));
    return attachFiles(ctx, arena, received, idem);
  });
}

/**
 * Gives a DETACHED arena its files back (ReattachArena; the systemd fd store at start-up):
 * checks them against the journal, claims them, dups them, makes their contents match the
 * books, records them (their identities journaled with them: an arena from an older journal
 * learns them). `received` is borrowed.
 */
export function attachFiles(ctx: DaemonContext, arena: Arena, received: readonly Fd[], idem: IdemSlot, source: "client" | "fd-store" = "client") {
  const sizeBytes = BigInt(arena.sizeUnits) * UNIT;
  return ctx.transactions.run({
    arenaId: arena.id,
    scope: { owner: arena.owner, arenaId: arena.id },
    claim: () => {
      const meta = ctx.registry.get(arena.id).meta;
      const checked = ctx.files.checkReattached(meta, received, sizeBytes);
      if (ctx.registry.isClaimedFor(arena.id)) throw new GmempoolError("conflict", `arena "${arena.id}" is being reattached by a call in flight`, { resource: "arena", id: arena.id });
      return { meta, checked, releaseClaims: ctx.files.claim(arena.id, checked, arena.id) };
    },
    kernel: async () => {
      const owned = ctx.files.dupAll(received);
      try {
        await ctx.files.reconcile(arena, owned);
      } catch (error) {
        ctx.files.closeAll(owned);
        throw toGmempoolError(error, { what: `reattach arena "${arena.id}"`, offset: 0n, length: sizeBytes });
      }
      return owned;
    },
    commit: ({ meta, checked }, owned) => {
      ctx.registry.attach(arena.id, { ...meta, files: checked }, owned);
      // Files that came from the systemd fd store are in it already.
      if (source === "client") ctx.files.store(arena.id, owned);
      ctx.logger.info({ arenaId: arena.id }, "arena reattached");
      const info = arenaInfoOf(ctx, arena);
      return { changes: { arenas: [arena.id] }, result: { arena: info }, event: { kind: "arena-state-changed", arena: info } };
    },
    finish: ({ releaseClaims }) => releaseClaims(),
  }, idem);
}

export function deleteArena(ctx: DaemonContext, caller: Caller, request: DeleteArenaRequest): Promise<DeleteArenaResult> {
  return mutatingCall(ctx, caller, "DeleteArena", request, request, async (idem) => {
    const arena = ownedArena(ctx, caller, request.arenaId);
    if (arena.leases.size > 0 && !request.releaseLeases) {
      throw new GmempoolError("failed-precondition", `arena "${arena.id}" still has ${arena.leases.size} lease(s); set release_leases to release them`, { resource: "arena", id: arena.id, field: "release_leases", value: "false" });
    }
    if (ctx.registry.stateOf(arena.id) === "detached" && arena.leases.size > 0) {
      throw new GmempoolError("failed-precondition", `arena "${arena.id}" is DETACHED: its leases cannot be punched without its file (ReattachArena first)`, { resource: "arena", id: arena.id, value: "detached" });
    }
    const r = await deleteArenaNow(ctx, arena, "client", idem);
    return { releasedLeaseCount: r.leases, releasedUnitCount: r.units };
  });
}

/**
 * Deletes an arena (DeleteArena, ForceRelease, owner exit): DELETING at once (no new
 * transactions start on it), then waits for the transactions in flight on it to finish WHOLE
 * (an Allocate that fails gives its units back before the deletion looks), releases its
 * leases one transaction each, and in a last transaction closes its fds and drops it. A
 * second deletion of the same arena joins the one in flight. A failed release leaves the arena
 * DELETING and rejects; deleting it again continues.
 */
export function deleteArenaNow(ctx: DaemonContext, arena: Arena, reason: ReleaseReason, idem: IdemSlot): Promise<DeletionResult> {
  const record = ctx.registry.get(arena.id);
  if (record.deletion !== undefined) return record.deletion;
  markDeleting(ctx, arena);
  const deletion = ctx.transactions.track(`deletion:${arena.id}`, () => runDeletion(ctx, arena, reason, idem));
  record.deletion = deletion;
  deletion.catch(() => (record.deletion = undefined));
  return deletion;
}

/** No new transaction starts on the arena from now on (access-checks.ts `requireActive`). */
export function markDeleting(ctx: DaemonContext, arena: Arena): void {
  const record = ctx.registry.get(arena.id);
  if (record.state === "deleting") return;
  record.state = "deleting";
  ctx.events.publish({ kind: "arena-state-changed", arena: arenaInfoOf(ctx, arena) }, { owner: arena.owner, arenaId: arena.id });
}

async function runDeletion(ctx: DaemonContext, arena: Arena, reason: ReleaseReason, idem: IdemSlot): Promise<DeletionResult> {
  const id = arena.id;
  await ctx.transactions.settled(id);
  let leases = 0;
  let units = 0;
  for (const lease of [...arena.leases.values()]) {
    try {
      units += await releaseLease(ctx, lease, reason, NO_IDEM);
    } catch (error) {
      const e = toGmempoolError(error);
      throw e.rephrase(`deleting arena "${id}": ${e.message}; ${leases} lease(s) released before; retry to continue`, { resource: "arena", id });
    }
    leases++;
  }
  const result: DeletionResult = { leases, units };
  return ctx.transactions.run({
    arenaId: id,
    scope: { owner: arena.owner, arenaId: id },
    claim: () => undefined,
    kernel: () => Promise.resolve(),
    commit: () => {
      const meta = ctx.registry.get(id).meta;
      ctx.files.closeAll(ctx.registry.remove(id));
      ctx.files.unstore(id, meta.files.length);
      ctx.pool.unregisterArena(arena.owner, id);
      if (ctx.registry.countOwnedBy(meta.ownerKey) === 0) {
        ctx.peers.untrack(meta.ownerKey);
        ctx.registry.forgetOwner(meta.ownerKey);
      }
      ctx.logger.info({ arenaId: id, leases, units, reason }, "arena deleted");
      return {
        changes: { arenas: [id] },
        result,
        event: { kind: "arena-deleted", arenaId: id, owner: meta.owner, releasedLeaseCount: leases, releasedUnitCount: units, reason },
      };
    },
  }, { entry: (r) => idem.entry({ releasedLeaseCount: (r as DeletionResult).leases, releasedUnitCount: (r as DeletionResult).units }) });
}
