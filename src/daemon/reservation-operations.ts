/**
 * The reservation RPCs (Admin.Reserve, Unreserve, ListReservations; issue 11) and the one place
 * a presented reservation token is matched.
 *
 * Tokens: 128 random bits (crypto.randomBytes), hex. The pool core holds them opaque (it has no
 * randomness); the journal keeps them (its directory is the daemon's alone, 0700), so that a
 * repeated Reserve of the same claim — kubelet retries, and a restarted DRA plugin — returns
 * the same token. A presented token is compared with every reservation's through SHA-256 and
 * `timingSafeEqual`, all of them every time: a wrong token answers the same way, in the same
 * time, whether or not any claim exists.
 *
 * Each change is one transaction of the runner (claim -> no kernel work -> commit + journal).
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import type { Reservation, ReserveResult, UnreserveResult } from "@gmempool/contract";
import { GmempoolError } from "../pool/errors.ts";
import type { Reservation as PoolReservation } from "../pool/index.ts";
import { arenaUnitsOf } from "../pool/units.ts";
import { requireAdmin, requireServing } from "./access-checks.ts";
import type { DaemonContext } from "./daemon-context.ts";
import { toGmempoolError } from "./error-classification.ts";
import type { Caller } from "./pool-service.ts";
import { NO_IDEM, type Committed } from "./transaction-runner.ts";

export const TOKEN_BYTES = 16;
export const MAX_CLAIM_UID_BYTES = 128;

export interface ReserveRequest {
  readonly claimUid: string;
  readonly sizeBytes: bigint;
}

export type { ReserveResult, UnreserveResult };

function checkClaimUid(claimUid: string): void {
  if (claimUid.length === 0) throw new GmempoolError("invalid-argument", "claim_uid must not be empty", { field: "claim_uid", value: "" });
  if (Buffer.byteLength(claimUid) > MAX_CLAIM_UID_BYTES) throw new GmempoolError("invalid-argument", `claim_uid is ${Buffer.byteLength(claimUid)} bytes, at most ${MAX_CLAIM_UID_BYTES}`, { field: "claim_uid", value: claimUid.slice(0, 32) });
}

export function reservationInfo(ctx: DaemonContext, r: PoolReservation): Reservation {
  return { claimUid: r.claimUid, sizeUnitCount: r.sizeUnits, reservedUnitCount: ctx.pool.reservedUnitsOf(r), arenaId: r.arenaId ?? "" };
}

/**
 * One admin change of the reservations: checked (admin, serving, claim UID), then one
 * transaction with no kernel work, its commit journaled like any other.
 */
async function reservationChange<R extends object>(ctx: DaemonContext, caller: Caller, claimUid: string, check: () => void, commit: () => Committed<R>): Promise<R> {
  try {
    requireAdmin(caller);
    requireServing(ctx);
    checkClaimUid(claimUid);
    check();
    return await ctx.transactions.run({ arenaId: "", scope: { owner: caller.identity, arenaId: "" }, claim: () => undefined, kernel: () => Promise.resolve(), commit }, NO_IDEM);
  } catch (error) {
    throw toGmempoolError(error);
  }
}

export function reserve(ctx: DaemonContext, caller: Caller, request: ReserveRequest): Promise<ReserveResult> {
  let sizeUnits = 0;
  return reservationChange(ctx, caller, request.claimUid, () => (sizeUnits = arenaUnitsOf(request.sizeBytes)), () => {
    const { reservation, created } = ctx.pool.reserveClaim(request.claimUid, sizeUnits, randomBytes(TOKEN_BYTES).toString("hex"));
    if (created) ctx.logger.info({ claimUid: reservation.claimUid, units: sizeUnits }, "reservation made");
    const result = { reservation: reservationInfo(ctx, reservation), token: reservation.token, created };
    return { changes: created ? { reservations: [reservation.claimUid] } : {}, result };
  });
}

export function unreserve(ctx: DaemonContext, caller: Caller, claimUid: string): Promise<UnreserveResult> {
  return reservationChange(ctx, caller, claimUid, () => undefined, () => {
    const arenaId = ctx.pool.findReservation(claimUid)?.arenaId;
    const gone = ctx.pool.unreserveClaim(claimUid);
    if (gone !== undefined) ctx.logger.info({ claimUid, releasedUnits: gone.releasedUnits, arenaId }, "reservation given back");
    // The arena (if any) is journaled again: it no longer names the claim.
    const changes = gone === undefined ? {} : { reservations: [claimUid], ...(arenaId === undefined ? {} : { arenas: [arenaId] }) };
    return { changes, result: { existed: gone !== undefined, releasedUnitCount: gone?.releasedUnits ?? 0 } };
  });
}

export function listReservations(ctx: DaemonContext, caller: Caller): Reservation[] {
  requireAdmin(caller);
  return [...ctx.pool.reservations()].map((r) => reservationInfo(ctx, r)).sort((a, b) => (a.claimUid < b.claimUid ? -1 : a.claimUid > b.claimUid ? 1 : 0));
}

/**
 * The claim whose reservation `token` is, for an arena creation; permission-denied otherwise,
 * with one message whatever the reason (no such token, no reservation at all).
 */
export function claimOfToken(ctx: DaemonContext, token: string): string {
  const presented = createHash("sha256").update(token).digest();
  let match: string | undefined;
  for (const r of ctx.pool.reservations()) {
    const candidate = createHash("sha256").update(r.token).digest();
    if (timingSafeEqual(presented, candidate) && match === undefined) match = r.claimUid;
  }
  if (match === undefined) throw new GmempoolError("permission-denied", "reservation_token matches no reservation", { field: "reservation_token" });
  return match;
}
