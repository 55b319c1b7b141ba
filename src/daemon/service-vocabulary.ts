/**
 * The daemon service's vocabulary: who calls (identity) and the string unions its types use
 * (the server maps them to the proto enums). Conventions: pool-service.ts.
 */

// ================================================================================== identity

/** The process on the other end of a socket, as the kernel reports it (SO_PEERCRED). */
export interface PeerCredentials {
  readonly uid: number;
  readonly gid: number;
  readonly pid: number;
}

/** resources.proto `Identity`: a process, with its start time against pid reuse. */
export interface Identity extends PeerCredentials {
  /** Field 22 of /proc/PID/stat (clock ticks since boot); 0n when it could not be read. */
  readonly startTimeTicks: bigint;
}

/**
 * Who is calling. Made by `PoolService.identify(peer)` once per connection (or per call).
 * `identity` is the owner key arenas and leases are recorded under ("uid:pid:startTimeTicks");
 * it survives daemon restarts because it names the process, not the connection.
 */
export interface Caller extends Identity {
  readonly identity: string;
  /** The caller's uid or gid is in the configured admin list. */
  readonly isAdmin: boolean;
}

// ================================================================================== vocabulary

export type ReserveMode = "gmem" | "hugetlb" | "none";
export type ArenaKind = "guest_memfd" | "memfd" | "pair";
export type ArenaState = "active" | "detached" | "deleting";
export type MemfdBacking = "shmem" | "hugetlb";
export type FdType = "guest_memfd" | "memfd_shmem" | "memfd_hugetlb";
export type Visibility = "shared" | "private";
export type DiscardPolicyName = "reject" | "zero" | "defer";
export type DeferredOverflowPolicy = "reject" | "zero";
export type ConversionMode = "in-place" | "notify";
export type ContentIntent = "preserve" | "destroy";
export type ServingState = "starting" | "serving" | "draining";
export type ReleaseReason = "client" | "force-release" | "owner-exited";
export type PolicySource = "admin" | "config";
export type UnitState = "free" | "claimed" | "leased" | "split" | "deferred" | "discarded";
