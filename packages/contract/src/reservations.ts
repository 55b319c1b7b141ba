/**
 * Reservations (admin.proto, issue 11): units ear-marked for a claim before any VMM exists. The
 * API's view in TypeScript and its one codec (resource <-> proto message), used by the daemon's
 * server and the client library.
 */
import type { ListReservationsResponse__Output } from "./generated/gmempool/v1/ListReservationsResponse.ts";
import type { Reservation as ReservationMessage, Reservation__Output } from "./generated/gmempool/v1/Reservation.ts";
import type { ReserveResponse__Output } from "./generated/gmempool/v1/ReserveResponse.ts";
import type { UnreserveResponse__Output } from "./generated/gmempool/v1/UnreserveResponse.ts";
import { required } from "./codec/scalars.ts";

export interface Reservation {
  readonly claimUid: string;
  /** The units the claim holds: reserved + in its arena. */
  readonly sizeUnitCount: number;
  /** Units still ear-marked (not yet in the claim's arena). */
  readonly reservedUnitCount: number;
  /** The arena made with the token, "" when none. */
  readonly arenaId: string;
}

export interface ReserveResult {
  readonly reservation: Reservation;
  /** The secret a VMM presents as `reservation_token`. */
  readonly token: string;
  /** False when the claim was already reserved (a retry got the first reservation). */
  readonly created: boolean;
}

export interface UnreserveResult {
  /** False when no reservation of the claim existed (kubelet retries: that is OK). */
  readonly existed: boolean;
  readonly releasedUnitCount: number;
}

export function encodeReservation(r: Reservation): ReservationMessage {
  return { claimUid: r.claimUid, sizeUnitCount: r.sizeUnitCount, reservedUnitCount: r.reservedUnitCount, arenaId: r.arenaId };
}

export function decodeReservation(message: Reservation__Output | null): Reservation {
  const m = required(message, "reservation");
  return { claimUid: m.claimUid, sizeUnitCount: m.sizeUnitCount, reservedUnitCount: m.reservedUnitCount, arenaId: m.arenaId };
}

export function decodeReserveResult(r: ReserveResponse__Output): ReserveResult {
  return { reservation: decodeReservation(r.reservation), token: r.token, created: r.created };
}

export function decodeUnreserveResult(r: UnreserveResponse__Output): UnreserveResult {
  return { existed: r.existed, releasedUnitCount: r.releasedUnitCount };
}

export function decodeReservations(r: ListReservationsResponse__Output): Reservation[] {
  return r.reservations.map(decodeReservation);
}
