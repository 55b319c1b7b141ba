/**
 * The API's enums as both ends spell them: short lower-case strings ("shared", "defer",
 * "in-place"), not the proto's prefixed names, which only the codec (codec/enum-tables.ts) knows.
 * Each union lists the proto enum's values without its UNSPECIFIED: where the proto allows "not
 * set", the resources say `| undefined`.
 */

export type ReserveMode = "gmem" | "hugetlb" | "none";
export type ArenaKind = "guest_memfd" | "memfd" | "pair";
export type ArenaState = "active" | "detached" | "deleting";
export type MemfdBacking = "shmem" | "hugetlb";
export type FdType = "guest_memfd" | "memfd_shmem" | "memfd_hugetlb" | "pidfd";
export type PageVisibility = "shared" | "private";
export type DiscardPolicy = "reject" | "zero" | "defer";
export type ConversionMode = "in-place" | "notify";
export type ContentIntent = "preserve" | "destroy";
export type ServingState = "starting" | "serving" | "draining";
/** Whom a per-tenant quota binds (config `[[quotas]]`). */
export type QuotaSubject = "uid" | "gid";
export type UnitState = "free" | "claimed" | "leased" | "split" | "deferred" | "discarded";
export type ReleaseReason = "client" | "force-release" | "owner-exited" | "file-lost";
export type PolicySource = "admin" | "config";

/** The kinds of Watch events (PoolEventKind), in the proto's order: what a Watch filters on. */
export const POOL_EVENT_KINDS = [
  "pool-status",
  "arena-created",
  "arena-state-changed",
  "arena-deleted",
  "lease-allocated",
  "lease-released",
  "range-discarded",
  "range-populated",
  "range-converted",
  "policy-changed",
  "owner-exited",
  "deferred-cap-reached",
] as const;

export type PoolEventKind = (typeof POOL_EVENT_KINDS)[number];
