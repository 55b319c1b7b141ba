/**
 * The resources (resources.ts) <-> their proto messages: `encodeX` (resource -> message, the
 * daemon's server replying) and `decodeX` (message as proto-loader decodes it -> resource, the
 * client library reading a reply). Only translation: bytes as bigint, unit counts as number,
 * enums through enum-tables.ts, Timestamps as Date; what cannot be translated is a
 * WireValueError naming the field (its proto spelling, "Arena.size_bytes").
 */
import type { Arena as ArenaMessage, Arena__Output } from "../generated/gmempool/v1/Arena.ts";
import type { ArenaPolicyOverride as ArenaPolicyOverrideMessage, ArenaPolicyOverride__Output } from "../generated/gmempool/v1/ArenaPolicyOverride.ts";
import type { GetCapabilitiesResponse__Output } from "../generated/gmempool/v1/GetCapabilitiesResponse.ts";
import type { GetFragmentationMapResponse__Output } from "../generated/gmempool/v1/GetFragmentationMapResponse.ts";
import type { GetPolicyResponse__Output } from "../generated/gmempool/v1/GetPolicyResponse.ts";
import type { Identity as IdentityMessage, Identity__Output } from "../generated/gmempool/v1/Identity.ts";
import type { Lease as LeaseMessage, Lease__Output } from "../generated/gmempool/v1/Lease.ts";
import type { Policy as PolicyMessage, Policy__Output } from "../generated/gmempool/v1/Policy.ts";
import type { PoolStatus as PoolStatusMessage, PoolStatus__Output } from "../generated/gmempool/v1/PoolStatus.ts";
import type { QuotaUsage as QuotaUsageMessage, QuotaUsage__Output } from "../generated/gmempool/v1/QuotaUsage.ts";
import type { Arena, ArenaPolicyOverride, Capabilities, FragmentationMap, Identity, Lease, Policy, PolicyView, PoolStatus, QuotaUsage } from "../resources.ts";
import { ARENA_KIND, ARENA_STATE, CONVERSION_MODE, DISCARD_POLICY, FD_TYPE, MEMFD_BACKING, PAGE_VISIBILITY, QUOTA_SUBJECT, RESERVE_MODE, SERVING_STATE, UNIT_STATE } from "./enum-tables.ts";
import { decodeDurationMs, decodeTimestamp, decodeUint64, encodeTimestamp, encodeUint64, required } from "./scalars.ts";

export function encodeIdentity(identity: Identity): IdentityMessage {
  return { uid: identity.uid, gid: identity.gid, pid: identity.pid, startTimeTicks: encodeUint64(identity.startTimeTicks, "start_time_ticks") };
}

export function decodeIdentity(message: Identity__Output | null | undefined, field = "owner"): Identity {
  const v = required(message, field);
  return { uid: v.uid, gid: v.gid, pid: v.pid, startTimeTicks: decodeUint64(v.startTimeTicks, `${field}.start_time_ticks`) };
}

export function encodeArena(arena: Arena): ArenaMessage {
  return {
    arenaId: arena.arenaId,
    name: arena.name,
    kind: ARENA_KIND.encode(arena.kind),
    state: ARENA_STATE.encode(arena.state),
    owner: encodeIdentity(arena.owner),
    sizeBytes: encodeUint64(arena.sizeBytes, "size_bytes"),
    unitCount: arena.unitCount,
    leasedUnitCount: arena.leasedUnitCount,
    discardedUnitCount: arena.discardedUnitCount,
    splitUnitCount: arena.splitUnitCount,
    deferredBytes: encodeUint64(arena.deferredBytes, "deferred_bytes"),
    leaseCount: arena.leaseCount,
    initialVisibility: PAGE_VISIBILITY.encode(arena.initialVisibility),
    files: arena.files.map((f) => ({
      fdType: FD_TYPE.encode(f.fdType),
      serves: PAGE_VISIBILITY.encodeOptional(f.serves),
      sizeBytes: encodeUint64(f.sizeBytes, "files.size_bytes"),
      populatedUnitCount: f.populatedUnitCount,
      memfdName: f.memfdName,
    })),
    policy: {
      discardPolicy: DISCARD_POLICY.encode(arena.policy.discardPolicy),
      discardPolicyOverridden: arena.policy.discardPolicyOverridden,
      punchGranularityBytes: encodeUint64(arena.policy.punchGranularityBytes, "policy.punch_granularity_bytes"),
      punchGranularityOverridden: arena.policy.punchGranularityOverridden,
    },
    createTime: encodeTimestamp(arena.createTime),
  };
}

export function decodeArena(message: Arena__Output | null | undefined): Arena {
  const v = required(message, "arena");
  const policy = required(v.policy, "Arena.policy");
  return {
    arenaId: v.arenaId,
    name: v.name,
    kind: ARENA_KIND.decodeRequired(v.kind, "Arena.kind"),
    state: ARENA_STATE.decodeRequired(v.state, "Arena.state"),
    owner: decodeIdentity(v.owner, "Arena.owner"),
    sizeBytes: decodeUint64(v.sizeBytes, "Arena.size_bytes"),
    unitCount: v.unitCount,
    leasedUnitCount: v.leasedUnitCount,
    discardedUnitCount: v.discardedUnitCount,
    splitUnitCount: v.splitUnitCount,
    deferredBytes: decodeUint64(v.deferredBytes, "Arena.deferred_bytes"),
    leaseCount: v.leaseCount,
    initialVisibility: PAGE_VISIBILITY.decodeRequired(v.initialVisibility, "Arena.initial_visibility"),
    files: v.files.map((f) => ({
      fdType: FD_TYPE.decodeRequired(f.fdType, "ArenaFile.fd_type"),
      serves: PAGE_VISIBILITY.decode(f.serves, "ArenaFile.serves"),
      sizeBytes: decodeUint64(f.sizeBytes, "ArenaFile.size_bytes"),
      populatedUnitCount: f.populatedUnitCount,
      memfdName: f.memfdName,
    })),
    policy: {
      discardPolicy: DISCARD_POLICY.decodeRequired(policy.discardPolicy, "EffectiveArenaPolicy.discard_policy"),
      discardPolicyOverridden: policy.discardPolicyOverridden,
      punchGranularityBytes: decodeUint64(policy.punchGranularityBytes, "EffectiveArenaPolicy.punch_granularity_bytes"),
      punchGranularityOverridden: policy.punchGranularityOverridden,
    },
    createTime: decodeTimestamp(v.createTime),
  };
}

export function encodeLease(lease: Lease): LeaseMessage {
  return {
    leaseId: lease.leaseId,
    arenaId: lease.arenaId,
    owner: encodeIdentity(lease.owner),
    offsetBytes: encodeUint64(lease.offsetBytes, "offset_bytes"),
    lengthBytes: encodeUint64(lease.lengthBytes, "length_bytes"),
    unitCount: lease.unitCount,
    label: lease.label,
    sharedBytes: encodeUint64(lease.sharedBytes, "shared_bytes"),
    privateBytes: encodeUint64(lease.privateBytes, "private_bytes"),
    discardedBytes: encodeUint64(lease.discardedBytes, "discarded_bytes"),
    discardedUnitCount: lease.discardedUnitCount,
    splitUnitCount: lease.splitUnitCount,
    createTime: encodeTimestamp(lease.createTime),
  };
}

export function decodeLease(message: Lease__Output | null | undefined): Lease {
  const v = required(message, "lease");
  return {
    leaseId: v.leaseId,
    arenaId: v.arenaId,
    owner: decodeIdentity(v.owner, "Lease.owner"),
    offsetBytes: decodeUint64(v.offsetBytes, "Lease.offset_bytes"),
    lengthBytes: decodeUint64(v.lengthBytes, "Lease.length_bytes"),
    unitCount: v.unitCount,
    label: v.label,
    sharedBytes: decodeUint64(v.sharedBytes, "Lease.shared_bytes"),
    privateBytes: decodeUint64(v.privateBytes, "Lease.private_bytes"),
    discardedBytes: decodeUint64(v.discardedBytes, "Lease.discarded_bytes"),
    discardedUnitCount: v.discardedUnitCount,
    splitUnitCount: v.splitUnitCount,
    createTime: decodeTimestamp(v.createTime),
  };
}

export function encodePolicy(policy: Policy): PolicyMessage {
  return {
    discardPolicy: DISCARD_POLICY.encode(policy.discardPolicy),
    punchGranularityBytes: encodeUint64(policy.punchGranularityBytes, "punch_granularity_bytes"),
    deferredCapBytes: encodeUint64(policy.deferredCapBytes, "deferred_cap_bytes"),
    deferredOverflowPolicy: DISCARD_POLICY.encode(policy.deferredOverflowPolicy),
  };
}

export function decodePolicy(message: Policy__Output | null | undefined): Policy {
  const v = required(message, "pool_policy");
  return {
    discardPolicy: DISCARD_POLICY.decodeRequired(v.discardPolicy, "Policy.discard_policy"),
    punchGranularityBytes: decodeUint64(v.punchGranularityBytes, "Policy.punch_granularity_bytes"),
    deferredCapBytes: decodeUint64(v.deferredCapBytes, "Policy.deferred_cap_bytes"),
    deferredOverflowPolicy: DISCARD_POLICY.decodeRequired(v.deferredOverflowPolicy, "Policy.deferred_overflow_policy"),
  };
}

/** proto3 `optional` fields keep presence: an absent one follows the pool, and stays absent here. */
export function encodeArenaPolicyOverride(override: ArenaPolicyOverride): ArenaPolicyOverrideMessage {
  return {
    arenaId: override.arenaId,
    ...(override.discardPolicy === undefined ? {} : { discardPolicy: DISCARD_POLICY.encode(override.discardPolicy) }),
    ...(override.punchGranularityBytes === undefined ? {} : { punchGranularityBytes: encodeUint64(override.punchGranularityBytes, "punch_granularity_bytes") }),
  };
}

/** An absent message (no override) is undefined. */
export function decodeArenaPolicyOverride(message: ArenaPolicyOverride__Output | null | undefined): ArenaPolicyOverride | undefined {
  if (message === null || message === undefined) return undefined;
  return {
    arenaId: message.arenaId,
    ...(message.discardPolicy === undefined ? {} : { discardPolicy: DISCARD_POLICY.decodeRequired(message.discardPolicy, "ArenaPolicyOverride.discard_policy") }),
    ...(message.punchGranularityBytes === undefined ? {} : { punchGranularityBytes: decodeUint64(message.punchGranularityBytes, "ArenaPolicyOverride.punch_granularity_bytes") }),
  };
}

export function encodePoolStatus(s: PoolStatus): PoolStatusMessage {
  return {
    servingState: SERVING_STATE.encode(s.servingState),
    reserveMode: RESERVE_MODE.encode(s.reserveMode),
    capacityUnitCount: s.capacityUnitCount,
    freeUnitCount: s.freeUnitCount,
    claimedUnitCount: s.claimedUnitCount,
    leasedUnitCount: s.leasedUnitCount,
    reservePopulatedUnitCount: s.reservePopulatedUnitCount,
    splitUnitCount: s.splitUnitCount,
    deferredBytes: encodeUint64(s.deferredBytes, "deferred_bytes"),
    deferredCapBytes: encodeUint64(s.deferredCapBytes, "deferred_cap_bytes"),
    arenaCount: s.arenaCount,
    leaseCount: s.leaseCount,
    largestFreeRunUnitCount: s.largestFreeRunUnitCount,
    startTime: encodeTimestamp(s.startTime),
    lastEventSequence: encodeUint64(s.lastEventSequence, "last_event_sequence"),
    reservedUnitCount: s.reservedUnitCount,
    reservationCount: s.reservationCount,
  };
}

export function decodePoolStatus(message: PoolStatus__Output | null | undefined): PoolStatus {
  const v = required(message, "status");
  return {
    servingState: SERVING_STATE.decodeRequired(v.servingState, "PoolStatus.serving_state"),
    reserveMode: RESERVE_MODE.decodeRequired(v.reserveMode, "PoolStatus.reserve_mode"),
    capacityUnitCount: v.capacityUnitCount,
    freeUnitCount: v.freeUnitCount,
    claimedUnitCount: v.claimedUnitCount,
    leasedUnitCount: v.leasedUnitCount,
    reservePopulatedUnitCount: v.reservePopulatedUnitCount,
    splitUnitCount: v.splitUnitCount,
    deferredBytes: decodeUint64(v.deferredBytes, "PoolStatus.deferred_bytes"),
    deferredCapBytes: decodeUint64(v.deferredCapBytes, "PoolStatus.deferred_cap_bytes"),
    arenaCount: v.arenaCount,
    leaseCount: v.leaseCount,
    largestFreeRunUnitCount: v.largestFreeRunUnitCount,
    startTime: decodeTimestamp(v.startTime),
    lastEventSequence: decodeUint64(v.lastEventSequence, "PoolStatus.last_event_sequence"),
    reservedUnitCount: v.reservedUnitCount,
    reservationCount: v.reservationCount,
  };
}

export function decodeCapabilities(c: GetCapabilitiesResponse__Output): Capabilities {
  return {
    daemonVersion: c.daemonVersion,
    unitBytes: decodeUint64(c.unitBytes, "unit_bytes"),
    pageBytes: decodeUint64(c.pageBytes, "page_bytes"),
    reserveMode: RESERVE_MODE.decodeRequired(c.reserveMode, "reserve_mode"),
    arenaKinds: c.arenaKinds.map((k, i) => ARENA_KIND.decodeRequired(k, `arena_kinds[${i}]`)),
    memfdBackings: c.memfdBackings.map((b, i) => MEMFD_BACKING.decodeRequired(b, `memfd_backings[${i}]`)),
    conversionModes: c.conversionModes.map((m, i) => CONVERSION_MODE.decodeRequired(m, `conversion_modes[${i}]`)),
    kernelFeatures: c.kernelFeatures.map((f) => ({ name: f.name, available: f.available, detail: f.detail })),
    fdSocketPath: c.fdSocketPath,
    fdChannelVersion: c.fdChannelVersion,
    fdTokenTtlMs: decodeDurationMs(c.fdTokenTtl),
    maxPendingFdTokens: c.maxPendingFdTokens,
    requestIdRetentionMs: decodeDurationMs(c.requestIdRetention),
    caller: decodeIdentity(c.caller, "caller"),
    callerIsAdmin: c.callerIsAdmin,
    maxRequestMessageBytes: c.maxRequestMessageBytes,
  };
}

export function decodeFragmentationMap(m: GetFragmentationMapResponse__Output): FragmentationMap {
  const reserve = required(m.reserve, "reserve");
  return {
    arenas: m.arenas.map((a) => ({
      arenaId: a.arenaId,
      unitCount: a.unitCount,
      runs: a.runs.map((r) => ({ firstUnit: r.firstUnit, unitCount: r.unitCount, state: UNIT_STATE.decodeRequired(r.state, "UnitRun.state"), leaseId: r.leaseId })),
      largestFreeRunUnitCount: a.largestFreeRunUnitCount,
    })),
    reserve: { mode: RESERVE_MODE.decodeRequired(reserve.mode, "ReserveMap.mode"), freeUnitCount: reserve.freeUnitCount, largestFreeRunUnitCount: reserve.largestFreeRunUnitCount, freeRunCountsByOrder: [...reserve.freeRunCountsByOrder] },
    kernelBuddyZones: m.kernelBuddyZones.map((z) => ({ node: z.node, zone: z.zone, firstOrder: z.firstOrder, freeBlockCounts: z.freeBlockCounts.map((n) => decodeUint64(n, "BuddyZone.free_block_counts")), freeBytes: decodeUint64(z.freeBytes, "BuddyZone.free_bytes") })),
    time: decodeTimestamp(m.time),
  };
}

export function decodePolicyView(r: GetPolicyResponse__Output): PolicyView {
  return {
    poolPolicy: decodePolicy(r.poolPolicy),
    arenaOverrides: r.arenaOverrides.map((o) => decodeArenaPolicyOverride(o)).filter((o): o is ArenaPolicyOverride => o !== undefined),
  };
}

export function encodeQuotaUsage(q: QuotaUsage): QuotaUsageMessage {
  return {
    subject: QUOTA_SUBJECT.encode(q.subject),
    id: q.id,
    ...(q.unitLimit === undefined ? {} : { unitLimit: q.unitLimit }),
    leasedUnitCount: q.leasedUnitCount,
    ...(q.arenaLimit === undefined ? {} : { arenaLimit: q.arenaLimit }),
    arenaCount: q.arenaCount,
  };
}

export function decodeQuotaUsage(message: QuotaUsage__Output): QuotaUsage {
  return {
    subject: QUOTA_SUBJECT.decodeRequired(message.subject, "QuotaUsage.subject"),
    id: message.id,
    unitLimit: message.unitLimit,
    leasedUnitCount: message.leasedUnitCount,
    arenaLimit: message.arenaLimit,
    arenaCount: message.arenaCount,
  };
}
