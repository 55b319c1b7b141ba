/**
 * Turns "what a change touched" into the journal record of their state NOW, and the whole
 * daemon state into a snapshot for compaction (durable-state.ts defines both formats).
 *
 * `persist` must be called in the same tick as the in-memory change it records: the record
 * is built from the current books, so a later change would leak into it (durable-state.ts
 * explains why). The transaction runner is its only caller on the mutation path.
 */
import type { Logger } from "pino";
import { GmempoolError } from "../pool/errors.ts";
import type { Pool } from "../pool/index.ts";
import { exportSnapshot, leaseSnapshot, reservationSnapshot, type ReservationSnapshot } from "../pool/snapshot.ts";
import type { ArenaRegistry } from "./arena-registry.ts";
import { DURABLE_STATE_VERSION, populatedUnitsOf, type ArenaEntry, type DurableState, type JournalRecord, type LeaseEntry } from "./durable-state.ts";
import type { IdempotencyEntry, IdempotencyStore } from "./idempotency.ts";
import type { Journal } from "./journal.ts";

/** Which arenas and leases a change touched: their current state goes into the record. */
export interface Changes {
  readonly arenas?: readonly string[];
  readonly leases?: readonly string[];
  readonly policy?: boolean;
  /** Claim UIDs whose reservation was made or given back. */
  readonly reservations?: readonly string[];
}

export interface JournalWriterParts {
  readonly pool: () => Pool;
  readonly registry: ArenaRegistry;
  readonly idempotency: IdempotencyStore;
  readonly logger: Logger;
  readonly compactAfterRecords: number;
}

export class JournalWriter {
  readonly #parts: JournalWriterParts;
  #journal: Journal<DurableState, JournalRecord> | undefined;
  #compacting = false;

  constructor(parts: JournalWriterParts) {
    this.#parts = parts;
  }

  /** The journal is open (after start-up recovery). */
  attach(journal: Journal<DurableState, JournalRecord>): void {
    this.#journal = journal;
  }

  get journal(): Journal<DurableState, JournalRecord> | undefined {
    return this.#journal;
  }

  /** Why the journal takes no more writes, if it does not. */
  get broken(): Error | undefined {
    return this.#journal?.broken;
  }

  /**
   * Appends the record of `changes` (their state now) with `result`'s idempotency entry, and
   * returns its durability (the group commit's fsync).
   */
  persist(changes: Changes, result?: IdempotencyEntry): Promise<void> {
    const journal = this.#journal;
    if (journal === undefined) return Promise.reject(new GmempoolError("unavailable", "the daemon is starting", { resource: "daemon" }));
    const pool = this.#parts.pool();
    const { registry } = this.#parts;
    const arenas: ArenaEntry[] = [];
    const deletedArenas: string[] = [];
    const leases: LeaseEntry[] = [];
    const deletedLeases: string[] = [];
    for (const id of changes.arenas ?? []) {
      const record = registry.find(id);
      const arena = record === undefined ? undefined : pool.findArena(id);
      if (record === undefined || arena === undefined) deletedArenas.push(id);
      else arenas.push({ meta: record.meta, sizeUnits: arena.sizeUnits, files: arena.files, policy: arena.policy, ...(arena.reservation === undefined ? {} : { reservation: arena.reservation }) });
    }
    const reservations: ReservationSnapshot[] = [];
    const deletedReservations: string[] = [];
    for (const uid of changes.reservations ?? []) {
      const reservation = pool.findReservation(uid);
      if (reservation === undefined) deletedReservations.push(uid);
      else reservations.push(reservationSnapshot(reservation));
    }
    for (const id of new Set(changes.leases ?? [])) {
      const lease = pool.findLease(id);
      if (lease === undefined) deletedLeases.push(id);
      else if (lease.state !== "allocating") leases.push({ arenaId: lease.arenaId, lease: leaseSnapshot(lease), meta: registry.leaseMeta(id) ?? { id, label: "", createTime: 0 } });
    }
    const record: JournalRecord = {
      t: Date.now(),
      populatedUnits: populatedUnitsOf(pool),
      ...(changes.policy === true ? { policy: pool.policy } : {}),
      ...(arenas.length > 0 ? { arenas } : {}),
      ...(deletedArenas.length > 0 ? { deletedArenas } : {}),
      ...(leases.length > 0 ? { leases } : {}),
      ...(deletedLeases.length > 0 ? { deletedLeases } : {}),
      ...(result === undefined ? {} : { results: [result] }),
      ...(reservations.length > 0 ? { reservations } : {}),
      ...(deletedReservations.length > 0 ? { deletedReservations } : {}),
    };
    const durable = journal.append(record).catch((error: unknown) => {
      throw new GmempoolError("internal", `the change was made but could not be journaled: ${error instanceof Error ? error.message : String(error)}`, { resource: "journal", cause: error });
    });
    if (!this.#compacting && journal.recordsSinceSnapshot >= this.#parts.compactAfterRecords) {
      this.#compacting = true;
      journal.compact(() => this.durableState())
        .catch((error: unknown) => this.#parts.logger.error({ err: error }, "journal compaction failed"))
        .finally(() => (this.#compacting = false));
    }
    return durable;
  }

  /** The whole state, as a snapshot. */
  durableState(): DurableState {
    const { registry, idempotency } = this.#parts;
    const pool = exportSnapshot(this.#parts.pool());
    const leaseIds = new Set(pool.arenas.flatMap((a) => a.leases.map((l) => l.id)));
    return {
      version: DURABLE_STATE_VERSION,
      pool,
      arenas: pool.arenas.flatMap((a) => {
        const record = registry.find(a.id);
        return record === undefined ? [] : [record.meta];
      }),
      leases: [...registry.leaseMetas()].filter((m) => leaseIds.has(m.id)),
      results: idempotency.entries(),
    };
  }
}
