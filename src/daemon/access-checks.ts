/**
 * Who may see and change what (DESIGN.md invariant 5), and whether the daemon takes changes.
 * Another owner's id answers exactly like an unknown one (not-found, same message); only
 * admin-only requests by a non-admin are permission-denied.
 */
import type { Arena, Lease } from "../pool/index.ts";
import { GmempoolError } from "../pool/errors.ts";
import type { DaemonContext } from "./daemon-context.ts";
import type { Caller } from "./pool-service.ts";

function arenaNotFound(id: string): GmempoolError {
  return new GmempoolError("not-found", `arena "${id}" does not exist`, { resource: "arena", id });
}

function leaseNotFound(id: string): GmempoolError {
  return new GmempoolError("not-found", `lease "${id}" does not exist`, { resource: "lease", id });
}

export function requireId(id: string, field: "arena_id" | "lease_id"): void {
  if (id === "") throw new GmempoolError("invalid-argument", `${field} is empty`, { field, value: "" });
}

/** An arena the caller may read: its own, or any for the admin. */
export function visibleArena(ctx: DaemonContext, caller: Caller, id: string): Arena {
  const arena = ctx.pool.findArena(id);
  if (arena === undefined || (!caller.isAdmin && arena.owner !== caller.identity)) throw arenaNotFound(id);
  return arena;
}

/** An arena the caller may change: its own only (the admin uses the Admin service). */
export function ownedArena(ctx: DaemonContext, caller: Caller, id: string): Arena {
  requireId(id, "arena_id");
  const arena = ctx.pool.findArena(id);
  if (arena === undefined || arena.owner !== caller.identity) throw arenaNotFound(id);
  return arena;
}

/** A lease the caller may read; a lease still being allocated is nobody's yet. */
export function visibleLease(ctx: DaemonContext, caller: Caller, id: string): Lease {
  const lease = ctx.pool.findLease(id);
  if (lease === undefined || lease.state === "allocating" || (!caller.isAdmin && lease.owner !== caller.identity)) throw leaseNotFound(id);
  return lease;
}

export function ownedLease(ctx: DaemonContext, caller: Caller, id: string): Lease {
  requireId(id, "lease_id");
  const lease = ctx.pool.findLease(id);
  if (lease === undefined || lease.state === "allocating" || lease.owner !== caller.identity) throw leaseNotFound(id);
  return lease;
}

/** Mutations of an arena's leases need it ACTIVE. */
export function requireActive(ctx: DaemonContext, arena: Arena): void {
  const state = ctx.registry.stateOf(arena.id);
  const fields = { resource: "arena", id: arena.id, value: state };
  if (state === "deleting") throw new GmempoolError("failed-precondition", `arena "${arena.id}" is DELETING`, fields);
  if (state === "detached") throw new GmempoolError("failed-precondition", `arena "${arena.id}" is DETACHED since the daemon restarted: send its file(s) again with ReattachArena`, fields);
}

/** Mutations need a serving daemon whose journal can be written. */
export function requireServing(ctx: DaemonContext): void {
  const fields = { resource: "daemon", value: ctx.servingState };
  if (ctx.servingState === "starting") throw new GmempoolError("unavailable", `the daemon is starting (reserve ${ctx.reserve.populatedUnits} of ${ctx.pool.capacityUnits} units populated); retry with backoff`, fields);
  if (ctx.servingState === "draining") throw new GmempoolError("unavailable", "the daemon is draining (shutting down); retry with backoff", fields);
  const broken = ctx.journal.broken;
  if (broken !== undefined) throw new GmempoolError("unavailable", `the journal cannot be written (${broken.message}); the daemon accepts no changes`, { resource: "journal" });
}

export function requireAdmin(caller: Caller): void {
  if (!caller.isAdmin) throw new GmempoolError("permission-denied", `uid ${caller.uid} gid ${caller.gid} is not the configured admin identity`, { value: `${caller.uid}:${caller.gid}` });
}

export function requireAdminFor(caller: Caller, allOwners: boolean): void {
  if (allOwners && !caller.isAdmin) throw new GmempoolError("permission-denied", `all_owners needs the admin identity; uid ${caller.uid} gid ${caller.gid} is not`, { field: "all_owners", value: "true" });
}
