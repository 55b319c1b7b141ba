/**
 * What the journal holds (DESIGN.md §7) and how the state is rebuilt from it.
 *
 * A snapshot (`DurableState`) is the pool's own snapshot (src/pool/snapshot.ts) plus what only
 * the daemon knows: arena metadata (name, kind, owner identity, file types, creation time),
 * lease labels and creation times, and the idempotency records.
 *
 * A record (`JournalRecord`) is written after every settled plan and every other change, in the
 * same tick as the in-memory change: the full current state of every arena and lease the change
 * touched (or their deletion), the pool policy if it changed, the idempotency entry of the call
 * that finished, and `populatedUnits`, the number of side-units the leases hold populated at that
 * instant. Because every change to a lease's populated pages is followed at once by a record,
 * the leases of any prefix of the log add up to the `populatedUnits` of its last record — which
 * is all the reserve needs: after a restart the reserve is a fresh file (the daemon's own VM and
 * memfd died with it), so only the NUMBER of free units matters, not which slots held them.
 *
 * A plan in flight at a crash is simply absent: a lease being allocated was never recorded, a
 * lease being released is recorded whole. The kernel may have done part of such a plan; the
 * reattach flow makes each arena file match the record (pool-manager.ts, "reattach").
 */
import type { ArenaPolicy, FileKind, PoolPolicy } from "../pool/index.ts";
import { importSnapshot, SNAPSHOT_VERSION, type ArenaSnapshot, type LeaseSnapshot, type PoolSnapshot, type ReservationSnapshot } from "../pool/snapshot.ts";
import type { Pool } from "../pool/index.ts";
import type { IdempotencyEntry } from "./idempotency.ts";
import { type ArenaKind, type FdType, type Identity, type PageVisibility } from "./pool-service.ts";
import { GmempoolError } from "../pool/errors.ts";

export const DURABLE_STATE_VERSION = 1;

/**
 * st_dev and st_ino of a file: equal for every fd of it, in any process (a dup, a copy received
 * over SCM_RIGHTS), different for another file. Every guest_memfd has an inode of its own
 * (kvm_gmem_create -> anon_inode_create_getfile); a memfd is a shmem / hugetlbfs inode.
 */
export interface FileIdentity {
  readonly device: bigint;
  readonly inode: bigint;
}

/**
 * One side of an arena as journaled: what the file is, the memfd's name ("" for a guest_memfd),
 * and the file's identity when it was made the arena's. The identity is what lets a reattach
 * insist on the same file after a restart: the file outlives the daemon in its owner (or the
 * systemd fd store), so its inode number is still its own. Absent in journals written before
 * identities were recorded; the next reattach records it.
 */
export interface ArenaFileMeta extends Partial<FileIdentity> {
  readonly fdType: FdType;
  readonly memfdName: string;
}

/** The daemon's own facts about an arena (journaled). */
export interface ArenaMeta {
  readonly id: string;
  readonly name: string;
  readonly kind: ArenaKind;
  readonly owner: Identity;
  /** Caller.identity of the owner: the pool's owner key. */
  readonly ownerKey: string;
  readonly initialVisibility: PageVisibility;
  /** Per side: what the file is, the memfd's name, the file's identity. */
  readonly files: readonly ArenaFileMeta[];
  /** ms since the epoch. */
  readonly createTime: number;
}

export interface LeaseMeta {
  readonly id: string;
  readonly label: string;
  readonly createTime: number;
}

/** An arena as a record carries it: metadata and the pool's view, without leases. */
export interface ArenaEntry {
  readonly meta: ArenaMeta;
  readonly sizeUnits: number;
  readonly files: readonly FileKind[];
  readonly policy: ArenaPolicy;
  /** The claim UID of the reservation the arena draws on (absent: none). */
  readonly reservation?: string;
}

export interface LeaseEntry {
  readonly arenaId: string;
  readonly lease: LeaseSnapshot;
  readonly meta: LeaseMeta;
}

export interface JournalRecord {
  /** ms since the epoch. */
  readonly t: number;
  readonly populatedUnits: number;
  readonly policy?: PoolPolicy;
  readonly arenas?: readonly ArenaEntry[];
  readonly deletedArenas?: readonly string[];
  readonly leases?: readonly LeaseEntry[];
  readonly deletedLeases?: readonly string[];
  readonly results?: readonly IdempotencyEntry[];
  /** Reservations made (their whole state) and given back, by claim UID (issue 11). */
  readonly reservations?: readonly ReservationSnapshot[];
  readonly deletedReservations?: readonly string[];
}

export interface DurableState {
  readonly version: number;
  readonly pool: PoolSnapshot;
  readonly arenas: readonly ArenaMeta[];
  readonly leases: readonly LeaseMeta[];
  readonly results: readonly IdempotencyEntry[];
}

/**
 * Populated side-units of the pool as a snapshot would count them: leased units plus units
 * whose punch is in flight (their lease still records them populated).
 */
export function populatedUnitsOf(pool: Pool): number {
  let punching = 0;
  for (const plan of pool.pendingPlans()) for (const step of plan.steps) if (step.op === "punch") punching += step.unitsReturned;
  return pool.reserve.leasedUnits + punching;
}

export interface RebuildOptions {
  readonly capacityUnits: number;
  readonly maxStepUnits: number;
  /** The policy of a pool with no journal (the configuration's). */
  readonly initialPolicy: PoolPolicy;
}

export interface Rebuilt {
  readonly pool: Pool;
  readonly arenas: Map<string, ArenaMeta>;
  readonly leases: Map<string, LeaseMeta>;
  readonly results: IdempotencyEntry[];
}

/**
 * Journals written before the daemon took the proto's enum-derived spelling of FdType
 * (FD_TYPE_MEMFD_SHMEM -> "memfd_shmem", the client library's spelling too) hold "memfd-shmem"
 * and "memfd-hugetlb"; recovery reads them as the current names, so an upgraded daemon
 * reattaches the files an older one journaled. New records are written with the new names.
 */
const LEGACY_FD_TYPES: Readonly<Record<string, FdType>> = { "memfd-shmem": "memfd_shmem", "memfd-hugetlb": "memfd_hugetlb" };

function withCurrentFdTypes(meta: ArenaMeta): ArenaMeta {
  if (!meta.files.some((f) => Object.hasOwn(LEGACY_FD_TYPES, f.fdType))) return meta;
  return { ...meta, files: meta.files.map((f) => ({ ...f, fdType: LEGACY_FD_TYPES[f.fdType] ?? f.fdType })) };
}

/** Rebuilds the pool and the daemon's metadata from a snapshot and the records after it. */
export function rebuild(snapshot: DurableState | undefined, records: readonly JournalRecord[], options: RebuildOptions): Rebuilt {
  if (snapshot !== undefined && snapshot.version !== DURABLE_STATE_VERSION) {
    throw new GmempoolError("failed-precondition", `journal snapshot version ${snapshot.version} is not ${DURABLE_STATE_VERSION}`);
  }
  let policy = snapshot?.pool.policy ?? options.initialPolicy;
  const arenas = new Map<string, { entry: Omit<ArenaSnapshot, "leases">; leases: Map<string, LeaseSnapshot> }>();
  const arenaMetas = new Map<string, ArenaMeta>();
  const leaseMetas = new Map<string, LeaseMeta>();
  const results = new Map<string, IdempotencyEntry>();
  const reservations = new Map<string, ReservationSnapshot>();
  let populated = 0;
  if (snapshot !== undefined) {
    for (const a of snapshot.pool.arenas) arenas.set(a.id, { entry: { id: a.id, owner: a.owner, sizeUnits: a.sizeUnits, files: a.files, policy: a.policy, ...(a.reservation === undefined ? {} : { reservation: a.reservation }) }, leases: new Map(a.leases.map((l) => [l.id, l])) });
    for (const r of snapshot.pool.reservations ?? []) reservations.set(r.claimUid, r);
    for (const m of snapshot.arenas) arenaMetas.set(m.id, withCurrentFdTypes(m));
    for (const m of snapshot.leases) leaseMetas.set(m.id, m);
    for (const r of snapshot.results) results.set(r.key, r);
    const held = snapshot.pool.reserveHeldRuns.reduce((n, [s, e]) => n + e - s, 0);
    populated = snapshot.pool.capacityUnits - held;
  }
  const leaseArena = new Map<string, string>();
  for (const [id, a] of arenas) for (const l of a.leases.keys()) leaseArena.set(l, id);
  for (const record of records) {
    if (record.policy !== undefined) policy = record.policy;
    for (const a of record.arenas ?? []) {
      const existing = arenas.get(a.meta.id);
      arenas.set(a.meta.id, { entry: { id: a.meta.id, owner: a.meta.ownerKey, sizeUnits: a.sizeUnits, files: a.files, policy: a.policy, ...(a.reservation === undefined ? {} : { reservation: a.reservation }) }, leases: existing?.leases ?? new Map<string, LeaseSnapshot>() });
      arenaMetas.set(a.meta.id, withCurrentFdTypes(a.meta));
    }
    for (const l of record.leases ?? []) {
      const arena = arenas.get(l.arenaId);
      if (arena === undefined) throw new GmempoolError("failed-precondition", `journal: lease "${l.lease.id}" names arena "${l.arenaId}", which the journal does not hold`);
      arena.leases.set(l.lease.id, l.lease);
      leaseArena.set(l.lease.id, l.arenaId);
      leaseMetas.set(l.lease.id, l.meta);
    }
    for (const id of record.deletedLeases ?? []) {
      const arenaId = leaseArena.get(id);
      if (arenaId !== undefined) arenas.get(arenaId)?.leases.delete(id);
      leaseArena.delete(id);
      leaseMetas.delete(id);
    }
    for (const id of record.deletedArenas ?? []) {
      for (const l of arenas.get(id)?.leases.keys() ?? []) {
        leaseArena.delete(l);
        leaseMetas.delete(l);
      }
      arenas.delete(id);
      arenaMetas.delete(id);
    }
    for (const r of record.results ?? []) results.set(r.key, r);
    for (const r of record.reservations ?? []) reservations.set(r.claimUid, r);
    for (const uid of record.deletedReservations ?? []) reservations.delete(uid);
    populated = record.populatedUnits;
  }
  const capacity = options.capacityUnits;
  if (populated > capacity) {
    throw new GmempoolError("failed-precondition", `the journal holds ${populated} leased units but pool.capacity is ${capacity} units; raise the capacity (a pool cannot shrink below what is leased)`);
  }
  const poolSnapshot: PoolSnapshot = {
    version: SNAPSHOT_VERSION,
    capacityUnits: capacity,
    maxStepUnits: options.maxStepUnits,
    policy,
    reserveHeldRuns: populated < capacity ? [[0, capacity - populated]] : [],
    arenas: [...arenas.values()].map((a) => ({ ...a.entry, leases: [...a.leases.values()] })),
    reservations: [...reservations.values()],
  };
  const pool = importSnapshot(poolSnapshot);
  for (const id of arenaMetas.keys()) if (!arenas.has(id)) arenaMetas.delete(id);
  return { pool, arenas: arenaMetas, leases: leaseMetas, results: [...results.values()] };
}
