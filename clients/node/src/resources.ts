/**
 * The API's resources as a VMM sees them: the wire contract's (@gmempool/contract's
 * vocabulary.ts, resources.ts, results.ts and pool-event.ts: proto/gmempool/v1/resources.proto
 * in TypeScript spelling), the very types the daemon reports, re-exported as part of this
 * library's API. Conventions, as in the proto:
 *
 * - byte quantities and offsets are `bigint` and end in `Bytes`; unit counts (a unit is 2 MiB)
 *   are `number` and end in `UnitCount` (or `firstUnit` for an index). They never share a type.
 * - offsets are byte offsets in an arena's file, never guest physical addresses.
 * - enums are short lower-case strings (`"shared"`, `"defer"`), not the proto's prefixed names.
 * - ids are opaque strings chosen by the daemon; they survive daemon restarts.
 */
export {
  POOL_EVENT_KINDS,
  type Arena,
  type ArenaFile,
  type ArenaKind,
  type ArenaPolicyOverride,
  type ArenaState,
  type ArenaUnitMap,
  type BuddyZone,
  type Capabilities,
  type ContentIntent,
  type ConversionMode,
  type ConvertResult,
  type DeleteArenaResult,
  type DiscardPolicy,
  type DiscardResult,
  type EffectiveArenaPolicy,
  type FdType,
  type ForceReleaseResult,
  type Reservation,
  type ReserveResult,
  type UnreserveResult,
  type FragmentationMap,
  type Identity,
  type KernelFeature,
  type Lease,
  type MemfdBacking,
  type PageVisibility,
  type Policy,
  type PolicySource,
  type PolicyView,
  type PoolEvent,
  type PoolEventKind,
  type PoolStatus,
  type PopulateResult,
  type QuotaSubject,
  type QuotaUsage,
  type ReleaseReason,
  type ReleaseResult,
  type ReserveMap,
  type ReserveMode,
  type ServingState,
  type SetPolicyResult,
  type UnitRun,
  type UnitSpan,
  type UnitState,
} from "@gmempool/contract";
