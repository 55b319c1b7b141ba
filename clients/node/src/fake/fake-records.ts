/**
 * What the fake remembers of each arena and lease: the daemon's records (its pool core's Arena
 * and Lease plus its journaled metadata), reduced to what a VMM can observe through the API.
 *
 * File ownership (as pool.ts states for the client side, and as the daemon keeps its copies):
 * - a memfd the fake creates is handed to the caller, who owns that fd; the fake keeps its own
 *   close-on-exec dup in `keptFds` (the daemon's copy: it keeps the file alive while the arena
 *   exists and is what an idempotent retry of the create gets again), closed when the arena is
 *   deleted, when a simulated restart drops it, or when the root FakePoolClient closes;
 * - a guest_memfd (or its stand-in) passed in is borrowed for the call only: the fake keeps no
 *   dup of it, just the identity of its file (device, inode) to recognise it again.
 */
import type { ArenaKind, ArenaState, DiscardPolicy, FdType, Identity, PageVisibility } from "../resources.ts";
import type { Layout } from "./backing.ts";
import { closeQuietly } from "./memfd.ts";
import type { PageMap } from "./page-map.ts";

export interface FakeArenaFile {
  readonly fdType: FdType;
  /** "gmempool:ARENA_ID" for a memfd, "" for a guest_memfd. */
  readonly memfdName: string;
  /** fstat st_dev / st_ino of the file, to check a reattached fd is the same file. */
  readonly device: bigint;
  readonly inode: bigint;
}

export interface FakeArenaPolicy {
  discardPolicy?: DiscardPolicy;
  punchGranularityBytes?: bigint;
}

export interface FakeArena {
  readonly id: string;
  readonly name: string;
  readonly kind: ArenaKind;
  readonly layout: Layout;
  readonly owner: Identity;
  /** `${uid}:${pid}:${startTimeTicks}`, the daemon's owner key. */
  readonly ownerKey: string;
  readonly unitCount: number;
  readonly initialVisibility: PageVisibility;
  /** files[0] is side 0; files[1] exists for a pair (its memfd, serving shared pages). */
  readonly files: readonly FakeArenaFile[];
  state: ArenaState;
  policy: FakeArenaPolicy;
  /** Per side: the fake's own dup of a memfd it created (see the header); undefined otherwise. */
  keptFds: (number | undefined)[];
  /** By lease id, in allocation order (the order DeleteArena releases them in). */
  readonly leases: Map<string, FakeLease>;
  readonly createTime: Date;
}

export interface FakeLease {
  readonly id: string;
  readonly arenaId: string;
  readonly ownerKey: string;
  readonly firstUnit: number;
  readonly unitCount: number;
  readonly label: string;
  /** Replaced (not mutated) when a call that failed part-way is rolled back. */
  pages: PageMap;
  readonly createTime: Date;
}

export function leaseEnd(lease: FakeLease): number {
  return lease.firstUnit + lease.unitCount;
}

export function byId(a: { readonly id: string }, b: { readonly id: string }): number {
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/** The arena's leases by offset. */
export function sortedLeases(arena: FakeArena): FakeLease[] {
  return [...arena.leases.values()].sort((a, b) => a.firstUnit - b.firstUnit);
}

export function hasOverride(arena: FakeArena): boolean {
  return arena.policy.discardPolicy !== undefined || arena.policy.punchGranularityBytes !== undefined;
}

/** Closes the fake's kept copies of an arena's memfds. */
export function closeKeptFds(arena: FakeArena): void {
  for (const fd of arena.keptFds) if (fd !== undefined) closeQuietly(fd);
  arena.keptFds = [];
}
