/**
 * The pool's durable state as plain JSON, for the daemon's journal (DESIGN.md §7).
 *
 * A snapshot describes the pool as if every plan in flight were aborted: the kernel work of a
 * plan that had not been committed when the daemon died is undone or redone on recovery (the
 * daemon re-applies what the snapshot says is populated and punches the rest), so no unit is lost
 * or counted twice. Page state is stored as the leases hold it: one byte per unit, plus the
 * 512-bit bitmaps of split units, base64-encoded.
 */
import { Arena, type FileKind } from "./arena.ts";
import { InvalidArgumentError } from "./errors.ts";
import { Lease, type LeaseState } from "./lease.ts";
import { LeasePages } from "./lease-pages.ts";
import type { ArenaPolicy, PoolPolicy } from "./policy.ts";
import { Pool } from "./pool.ts";
import { Reservation } from "./reservation.ts";
import { Reserve } from "./reserve.ts";
import { units } from "./units.ts";

export const SNAPSHOT_VERSION = 1;

export interface LeaseSnapshot {
  readonly id: string;
  readonly owner: string;
  readonly startUnit: number;
  readonly unitCount: number;
  readonly state: "active" | "failed";
  /** base64 of one byte per unit. */
  readonly unitBytes: string;
  /** unit -> base64 of its 256-byte split record. */
  readonly splitRecords: Readonly<Record<string, string>>;
}

export interface ArenaSnapshot {
  readonly id: string;
  readonly owner: string;
  readonly sizeUnits: number;
  readonly files: readonly FileKind[];
  readonly policy: ArenaPolicy;
  readonly leases: readonly LeaseSnapshot[];
  /** The claim UID of the reservation the arena is bound to (absent: none). */
  readonly reservation?: string;
}

/**
 * A reservation as journaled: what is ear-marked is derived (its size less what its arena
 * holds), so only the claim, the size and the token are stored. The token is the secret a pod
 * presents; the journal directory is the daemon's alone (0700).
 */
export interface ReservationSnapshot {
  readonly claimUid: string;
  readonly sizeUnits: number;
  readonly token: string;
}

export interface PoolSnapshot {
  readonly version: number;
  readonly capacityUnits: number;
  readonly maxStepUnits: number;
  readonly policy: PoolPolicy;
  readonly reserveHeldRuns: readonly (readonly [number, number])[];
  readonly arenas: readonly ArenaSnapshot[];
  /** Absent in snapshots written before reservations existed. */
  readonly reservations?: readonly ReservationSnapshot[];
}

export function exportSnapshot(pool: Pool): PoolSnapshot {
  // Slots claimed by a populate in flight are still populated in the reserve: held.
  const held = pool.reserve.heldRuns();
  for (const plan of pool.pendingPlans()) {
    for (const step of plan.steps) if (step.op === "populate") for (const r of step.reserveSlots) held.push([r.start, r.end]);
  }
  const arenas: ArenaSnapshot[] = [...pool.arenas()].map((arena) => ({
    id: arena.id,
    owner: arena.owner,
    sizeUnits: arena.sizeUnits,
    files: arena.files,
    policy: arena.policy,
    leases: [...arena.leases.values()].filter((l) => l.state !== "allocating").map(leaseSnapshot),
    ...(arena.reservation === undefined ? {} : { reservation: arena.reservation }),
  }));
  const reservations = [...pool.reservations()].map(reservationSnapshot);
  return { version: SNAPSHOT_VERSION, capacityUnits: pool.capacityUnits, maxStepUnits: pool.maxStepUnits, policy: pool.policy, reserveHeldRuns: mergeRuns(held), arenas, reservations };
}

/** One reservation in the snapshot format (also the daemon's journal records' encoding). */
export function reservationSnapshot(reservation: Reservation): ReservationSnapshot {
  return { claimUid: reservation.claimUid, sizeUnits: reservation.sizeUnits, token: reservation.token };
}

/**
 * One lease in the snapshot format: the one encoding of a lease, used by the snapshot and by the
 * daemon's journal records (src/daemon/durable-state.ts).
 */
export function leaseSnapshot(lease: Lease): LeaseSnapshot {
  const bytes = new Uint8Array(lease.unitCount);
  for (let u = 0; u < lease.unitCount; u++) bytes[u] = lease.pages.unitByte(u);
  const splitRecords: Record<string, string> = {};
  // The record's own bytes only: it may be a view into a larger buffer.
  for (const [unit, record] of lease.pages.splitRecords()) splitRecords[String(unit)] = toBase64(new Uint8Array(record.buffer, record.byteOffset, record.byteLength));
  return {
    id: lease.id,
    owner: lease.owner,
    startUnit: lease.start,
    unitCount: lease.unitCount,
    // A release in flight did not happen yet: the lease is still whole.
    state: lease.state === "failed" ? "failed" : "active",
    unitBytes: toBase64(bytes),
    splitRecords,
  };
}

/** Rebuilds a pool from a snapshot and checks every invariant before handing it out. */
export function importSnapshot(snapshot: PoolSnapshot): Pool {
  if (snapshot.version !== SNAPSHOT_VERSION) throw new InvalidArgumentError(`snapshot version ${snapshot.version} is not ${SNAPSHOT_VERSION}`);
  const pool = new Pool({ capacityUnits: snapshot.capacityUnits, policy: snapshot.policy, maxStepUnits: snapshot.maxStepUnits });
  const internals = pool as unknown as PoolInternals;
  internals.reserveState = Reserve.fromHeldRuns(units(snapshot.capacityUnits), snapshot.reserveHeldRuns);
  for (const r of snapshot.reservations ?? []) {
    if (internals.reservationMap.has(r.claimUid)) throw new InvalidArgumentError(`claim "${r.claimUid}" is reserved twice`);
    internals.reservationMap.set(r.claimUid, new Reservation(r.claimUid, units(r.sizeUnits), r.token));
  }
  for (const a of snapshot.arenas) {
    const arena = new Arena(a.id, a.owner, units(a.sizeUnits), a.files, a.policy);
    internals.arenaMap.set(a.id, arena);
    if (a.reservation !== undefined) {
      const reservation = internals.reservationMap.get(a.reservation);
      if (reservation === undefined) throw new InvalidArgumentError(`arena "${a.id}" names claim "${a.reservation}", which is not reserved`);
      if (reservation.arenaId !== undefined) throw new InvalidArgumentError(`claim "${a.reservation}" backs arenas "${reservation.arenaId}" and "${a.id}"`);
      reservation.arenaId = a.id;
      arena.reservation = a.reservation;
    }
    for (const l of a.leases) {
      const pages = new LeasePages(l.unitCount, arena.sides, false);
      const bytes = fromBase64(l.unitBytes);
      if (bytes.length !== l.unitCount) throw new InvalidArgumentError(`lease "${l.id}": ${bytes.length} unit bytes for ${l.unitCount} units`);
      for (let u = 0; u < l.unitCount; u++) {
        const encoded = l.splitRecords[String(u)];
        const record = encoded === undefined ? undefined : new Uint32Array(fromBase64(encoded).buffer);
        pages.load(u, bytes[u]!, record);
      }
      const lease = new Lease(l.id, a.id, l.owner, units(l.startUnit), units(l.unitCount), pages, l.state satisfies LeaseState);
      arena.free.remove(l.startUnit, l.startUnit + l.unitCount);
      arena.leases.set(l.id, lease);
      internals.leaseMap.set(l.id, lease);
    }
  }
  internals.recountTotals();
  internals.recountArenaUnits();
  pool.assertInvariants();
  return pool;
}

/** What a snapshot import needs to reach inside the pool; kept to this file. */
interface PoolInternals {
  reserveState: Reserve;
  arenaMap: Map<string, Arena>;
  leaseMap: Map<string, Lease>;
  reservationMap: Map<string, Reservation>;
  recountTotals(): void;
  recountArenaUnits(): void;
}

function mergeRuns(runs: [number, number][]): [number, number][] {
  runs.sort((a, b) => a[0] - b[0]);
  const merged: [number, number][] = [];
  for (const [s, e] of runs) {
    const last = merged[merged.length - 1];
    if (last !== undefined && last[1] === s) last[1] = e;
    else merged.push([s, e]);
  }
  return merged;
}

// btoa/atob are web-platform globals (no Node import in the pure core); they work on binary strings.
function toBase64(bytes: Uint8Array): string {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary);
}

function fromBase64(text: string): Uint8Array {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}
