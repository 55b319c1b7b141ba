/**
 * Every enum of the API: its one table between vocabulary.ts's spelling and the proto's value
 * names, used by the daemon's server and the client library alike. ENUM_TABLES is what
 * enum-tables.test.ts holds to the loaded protos.
 */
import type { ArenaKind__Output as ProtoArenaKind } from "../generated/gmempool/v1/ArenaKind.ts";
import type { ArenaState__Output as ProtoArenaState } from "../generated/gmempool/v1/ArenaState.ts";
import type { ContentIntent__Output as ProtoContentIntent } from "../generated/gmempool/v1/ContentIntent.ts";
import type { ConversionMode__Output as ProtoConversionMode } from "../generated/gmempool/v1/ConversionMode.ts";
import type { DiscardPolicy__Output as ProtoDiscardPolicy } from "../generated/gmempool/v1/DiscardPolicy.ts";
import type { FdType__Output as ProtoFdType } from "../generated/gmempool/v1/FdType.ts";
import type { MemfdBacking__Output as ProtoMemfdBacking } from "../generated/gmempool/v1/MemfdBacking.ts";
import type { PageVisibility__Output as ProtoPageVisibility } from "../generated/gmempool/v1/PageVisibility.ts";
import type { PolicySource__Output as ProtoPolicySource } from "../generated/gmempool/v1/PolicySource.ts";
import type { PoolEventKind__Output as ProtoPoolEventKind } from "../generated/gmempool/v1/PoolEventKind.ts";
import type { QuotaSubject__Output as ProtoQuotaSubject } from "../generated/gmempool/v1/QuotaSubject.ts";
import type { ReleaseReason__Output as ProtoReleaseReason } from "../generated/gmempool/v1/ReleaseReason.ts";
import type { ReserveMode__Output as ProtoReserveMode } from "../generated/gmempool/v1/ReserveMode.ts";
import type { ServingState__Output as ProtoServingState } from "../generated/gmempool/v1/ServingState.ts";
import type { UnitState__Output as ProtoUnitState } from "../generated/gmempool/v1/UnitState.ts";
import type { ArenaKind, ArenaState, ContentIntent, ConversionMode, DiscardPolicy, FdType, MemfdBacking, PageVisibility, PolicySource, PoolEventKind, QuotaSubject, ReleaseReason, ReserveMode, ServingState, UnitState } from "../vocabulary.ts";
import { EnumTable } from "./enum-table.ts";

export const RESERVE_MODE = new EnumTable<ReserveMode, ProtoReserveMode>("ReserveMode", "RESERVE_MODE_UNSPECIFIED", { gmem: "RESERVE_MODE_GMEM", hugetlb: "RESERVE_MODE_HUGETLB", none: "RESERVE_MODE_NONE" });
export const ARENA_KIND = new EnumTable<ArenaKind, ProtoArenaKind>("ArenaKind", "ARENA_KIND_UNSPECIFIED", { guest_memfd: "ARENA_KIND_GUEST_MEMFD", memfd: "ARENA_KIND_MEMFD", pair: "ARENA_KIND_PAIR" });
export const ARENA_STATE = new EnumTable<ArenaState, ProtoArenaState>("ArenaState", "ARENA_STATE_UNSPECIFIED", { active: "ARENA_STATE_ACTIVE", detached: "ARENA_STATE_DETACHED", deleting: "ARENA_STATE_DELETING" });
export const MEMFD_BACKING = new EnumTable<MemfdBacking, ProtoMemfdBacking>("MemfdBacking", "MEMFD_BACKING_UNSPECIFIED", { shmem: "MEMFD_BACKING_SHMEM", hugetlb: "MEMFD_BACKING_HUGETLB" });
export const FD_TYPE = new EnumTable<FdType, ProtoFdType>("FdType", "FD_TYPE_UNSPECIFIED", { guest_memfd: "FD_TYPE_GUEST_MEMFD", memfd_shmem: "FD_TYPE_MEMFD_SHMEM", memfd_hugetlb: "FD_TYPE_MEMFD_HUGETLB", pidfd: "FD_TYPE_PIDFD" });
export const PAGE_VISIBILITY = new EnumTable<PageVisibility, ProtoPageVisibility>("PageVisibility", "PAGE_VISIBILITY_UNSPECIFIED", { shared: "PAGE_VISIBILITY_SHARED", private: "PAGE_VISIBILITY_PRIVATE" });
export const DISCARD_POLICY = new EnumTable<DiscardPolicy, ProtoDiscardPolicy>("DiscardPolicy", "DISCARD_POLICY_UNSPECIFIED", { reject: "DISCARD_POLICY_REJECT", zero: "DISCARD_POLICY_ZERO", defer: "DISCARD_POLICY_DEFER" });
export const QUOTA_SUBJECT = new EnumTable<QuotaSubject, ProtoQuotaSubject>("QuotaSubject", "QUOTA_SUBJECT_UNSPECIFIED", { uid: "QUOTA_SUBJECT_UID", gid: "QUOTA_SUBJECT_GID" });
export const SERVING_STATE = new EnumTable<ServingState, ProtoServingState>("ServingState", "SERVING_STATE_UNSPECIFIED", { starting: "SERVING_STATE_STARTING", serving: "SERVING_STATE_SERVING", draining: "SERVING_STATE_DRAINING" });
export const UNIT_STATE = new EnumTable<UnitState, ProtoUnitState>("UnitState", "UNIT_STATE_UNSPECIFIED", {
  free: "UNIT_STATE_FREE",
  claimed: "UNIT_STATE_CLAIMED",
  leased: "UNIT_STATE_LEASED",
  split: "UNIT_STATE_SPLIT",
  deferred: "UNIT_STATE_DEFERRED",
  discarded: "UNIT_STATE_DISCARDED",
});
export const CONVERSION_MODE = new EnumTable<ConversionMode, ProtoConversionMode>("ConversionMode", "CONVERSION_MODE_UNSPECIFIED", { "in-place": "CONVERSION_MODE_IN_PLACE", notify: "CONVERSION_MODE_NOTIFY" });
export const CONTENT_INTENT = new EnumTable<ContentIntent, ProtoContentIntent>("ContentIntent", "CONTENT_INTENT_UNSPECIFIED", { preserve: "CONTENT_INTENT_PRESERVE", destroy: "CONTENT_INTENT_DESTROY" });
export const RELEASE_REASON = new EnumTable<ReleaseReason, ProtoReleaseReason>("ReleaseReason", "RELEASE_REASON_UNSPECIFIED", { client: "RELEASE_REASON_CLIENT", "force-release": "RELEASE_REASON_FORCE_RELEASE", "owner-exited": "RELEASE_REASON_OWNER_EXITED", "file-lost": "RELEASE_REASON_FILE_LOST" });
export const POLICY_SOURCE = new EnumTable<PolicySource, ProtoPolicySource>("PolicySource", "POLICY_SOURCE_UNSPECIFIED", { admin: "POLICY_SOURCE_ADMIN", config: "POLICY_SOURCE_CONFIG" });
export const POOL_EVENT_KIND = new EnumTable<PoolEventKind, ProtoPoolEventKind>("PoolEventKind", "POOL_EVENT_KIND_UNSPECIFIED", {
  "pool-status": "POOL_EVENT_KIND_POOL_STATUS",
  "arena-created": "POOL_EVENT_KIND_ARENA_CREATED",
  "arena-state-changed": "POOL_EVENT_KIND_ARENA_STATE_CHANGED",
  "arena-deleted": "POOL_EVENT_KIND_ARENA_DELETED",
  "lease-allocated": "POOL_EVENT_KIND_LEASE_ALLOCATED",
  "lease-released": "POOL_EVENT_KIND_LEASE_RELEASED",
  "range-discarded": "POOL_EVENT_KIND_RANGE_DISCARDED",
  "range-populated": "POOL_EVENT_KIND_RANGE_POPULATED",
  "range-converted": "POOL_EVENT_KIND_RANGE_CONVERTED",
  "policy-changed": "POOL_EVENT_KIND_POLICY_CHANGED",
  "owner-exited": "POOL_EVENT_KIND_OWNER_EXITED",
  "deferred-cap-reached": "POOL_EVENT_KIND_DEFERRED_CAP_REACHED",
});

/** Every table, for the test against the loaded protos. */
export const ENUM_TABLES = [RESERVE_MODE, ARENA_KIND, ARENA_STATE, MEMFD_BACKING, FD_TYPE, PAGE_VISIBILITY, DISCARD_POLICY, SERVING_STATE, UNIT_STATE, CONVERSION_MODE, CONTENT_INTENT, RELEASE_REASON, POLICY_SOURCE, POOL_EVENT_KIND, QUOTA_SUBJECT] as const;
