/**
 * The daemon's record of every arena beside the pool core's books: one `ArenaRecord` per arena
 * (its journaled metadata, the daemon's fds of its files, its lifecycle state and the deletion
 * in flight), the lease labels, the owners known to be gone, and the files a registration in
 * flight is making an arena's.
 *
 * Ownership (STYLE.md rule 7): `ArenaRecord.fds` are the daemon's own dups (F_DUPFD_CLOEXEC),
 * one per side, closed by whoever moves the record out of "active"/"deleting" with fds (the
 * arena's deletion, or `closeAll` at shutdown). Fds passed in by the server are never kept here.
 *
 * Invariants (checked by `assertInvariants`):
 * - state "active" has fds; state "detached" has none ("deleting" may have either: a DETACHED
 *   arena of an exited owner is deleted without its files);
 * - no two arenas record the same file identity (pool.proto: a file is at most one arena's).
 */
import type { Fd } from "@gmempool/sys";
import type { ArenaMeta, FileIdentity, LeaseMeta } from "./durable-state.ts";
import type { Identity } from "./pool-service.ts";
import type { ArenaState } from "./pool-service.ts";

export interface ArenaRecord {
  /** What the journal holds of the arena (replaced, never mutated, when it changes). */
  meta: ArenaMeta;
  /** The daemon's fds of the arena's files, by side; undefined while DETACHED. */
  fds: Fd[] | undefined;
  state: ArenaState;
  /** The deletion in flight: a second request to delete the arena joins it. */
  deletion: Promise<DeletionResult> | undefined;
  /** Its files are taken to be lost (DETACHED past the grace): releases skip the kernel. */
  fileLost?: boolean;
}

export interface DeletionResult {
  readonly leases: number;
  readonly units: number;
}

export function fileKey(file: FileIdentity): string {
  return `${file.device}:${file.inode}`;
}

export class ArenaRegistry {
  readonly #arenas = new Map<string, ArenaRecord>();
  readonly #leases = new Map<string, LeaseMeta>();
  /** Owners whose process is gone: their arenas are being (or will be) deleted. */
  readonly #goneOwners = new Set<string>();
  /** `fileKey(identity)` -> the arena a call in flight is making that file's. */
  readonly #fileClaims = new Map<string, string>();

  // ---- arenas

  get size(): number {
    return this.#arenas.size;
  }

  find(id: string): ArenaRecord | undefined {
    return this.#arenas.get(id);
  }

  /** The record of an arena the pool knows (every pool arena has one: invariant). */
  get(id: string): ArenaRecord {
    const record = this.#arenas.get(id);
    if (record === undefined) throw new Error(`internal: arena "${id}" has no record`);
    return record;
  }

  records(): IterableIterator<ArenaRecord> {
    return this.#arenas.values();
  }

  /** A new arena: ACTIVE with `fds`, or DETACHED (restored from the journal) without. */
  add(meta: ArenaMeta, fds: Fd[] | undefined): ArenaRecord {
    const record: ArenaRecord = { meta, fds, state: fds === undefined ? "detached" : "active", deletion: undefined };
    this.#arenas.set(meta.id, record);
    return record;
  }

  /** A DETACHED arena gets its files back (and their identities, journaled with them). */
  attach(id: string, meta: ArenaMeta, fds: Fd[]): void {
    const record = this.get(id);
    record.meta = meta;
    record.fds = fds;
    record.state = "active";
  }

  /** The arena has a new owner (HandOverArena). */
  setOwner(id: string, owner: Identity, ownerKey: string): void {
    const record = this.get(id);
    record.meta = { ...record.meta, owner, ownerKey };
  }

  /** Takes the arena out; returns its fds for the caller to close. */
  remove(id: string): Fd[] {
    const record = this.get(id);
    this.#arenas.delete(id);
    return record.fds ?? [];
  }

  stateOf(id: string): ArenaState {
    return this.get(id).state;
  }

  countOwnedBy(owner: string): number {
    let n = 0;
    for (const r of this.#arenas.values()) if (r.meta.ownerKey === owner) n++;
    return n;
  }

  /** Fds of every arena, for shutdown; the records become DETACHED. */
  takeAllFds(): Fd[] {
    const fds: Fd[] = [];
    for (const r of this.#arenas.values()) {
      fds.push(...(r.fds ?? []));
      r.fds = undefined;
      if (r.state === "active") r.state = "detached";
    }
    return fds;
  }

  // ---- leases (labels and creation times; the pool holds the rest)

  leaseMeta(id: string): LeaseMeta | undefined {
    return this.#leases.get(id);
  }

  leaseMetas(): IterableIterator<LeaseMeta> {
    return this.#leases.values();
  }

  setLeaseMeta(meta: LeaseMeta): void {
    this.#leases.set(meta.id, meta);
  }

  deleteLeaseMeta(id: string): void {
    this.#leases.delete(id);
  }

  // ---- owners

  isGone(owner: string): boolean {
    return this.#goneOwners.has(owner);
  }

  markGone(owner: string): void {
    this.#goneOwners.add(owner);
  }

  forgetOwner(owner: string): void {
    this.#goneOwners.delete(owner);
  }

  // ---- file claims (see arena-files.ts)

  fileClaimant(key: string): string | undefined {
    return this.#fileClaims.get(key);
  }

  isClaimedFor(arenaId: string): boolean {
    for (const id of this.#fileClaims.values()) if (id === arenaId) return true;
    return false;
  }

  claimFile(key: string, arenaId: string): void {
    this.#fileClaims.set(key, arenaId);
  }

  releaseFile(key: string): void {
    this.#fileClaims.delete(key);
  }

  /** The registry's invariants (header comment). */
  assertInvariants(): void {
    const files = new Map<string, string>();
    for (const r of this.#arenas.values()) {
      if (r.state === "active" && r.fds === undefined) throw new Error(`arena "${r.meta.id}" is ACTIVE without fds`);
      if (r.state === "detached" && r.fds !== undefined) throw new Error(`arena "${r.meta.id}" is DETACHED but holds fds`);
      for (const f of r.meta.files) {
        if (f.device === undefined || f.inode === undefined) continue;
        const key = fileKey({ device: f.device, inode: f.inode });
        const other = files.get(key);
        if (other !== undefined) throw new Error(`arenas "${other}" and "${r.meta.id}" record the same file (device ${f.device}, inode ${f.inode})`);
        files.set(key, r.meta.id);
      }
    }
  }
}
