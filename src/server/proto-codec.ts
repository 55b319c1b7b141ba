/**
 * Translation between the proto's objects (as @grpc/proto-loader decodes them with
 * @gmempool/contract's loader options: lowerCamelCase, 64-bit values as decimal strings, enums as names) and the
 * daemon's types (pool-service.ts: bytes as bigint, enums as the daemon's string unions).
 * Nothing here decides anything: the daemon validates values; the codec only refuses what it
 * cannot represent (a 64-bit field that is not a decimal integer, an enum number the proto does
 * not define) with invalid-argument naming the field.
 *
 * Every table is a `Record` over the daemon's union, so a value added on either side without
 * its counterpart fails to compile.
 */
import { type ArenaInfo, type ArenaKind, type ArenaPolicyOverride, type ArenaState, type ContentIntent, type ConversionMode, type DeferredOverflowPolicy, type DiscardPolicyName, type FdType, type Identity, type LeaseInfo, type MemfdBacking, type PolicyInfo, type PolicySource, type PoolEvent, type PoolEventKind, type PoolStatus, type ReleaseReason, type ReserveMode, type ServingState, type UnitState, type Visibility } from "../daemon/pool-service.ts";
import { GmempoolError } from "../pool/errors.ts";
import type { ReserveMode__Output as ProtoReserveMode } from "@gmempool/contract/generated/gmempool/v1/ReserveMode";
import type { ArenaKind__Output as ProtoArenaKind } from "@gmempool/contract/generated/gmempool/v1/ArenaKind";
import type { MemfdBacking__Output as ProtoMemfdBacking } from "@gmempool/contract/generated/gmempool/v1/MemfdBacking";
import type { FdType__Output as ProtoFdType } from "@gmempool/contract/generated/gmempool/v1/FdType";
import type { PageVisibility__Output as ProtoPageVisibility } from "@gmempool/contract/generated/gmempool/v1/PageVisibility";
import type { DiscardPolicy__Output as ProtoDiscardPolicy } from "@gmempool/contract/generated/gmempool/v1/DiscardPolicy";
import type { ArenaState__Output as ProtoArenaState } from "@gmempool/contract/generated/gmempool/v1/ArenaState";
import type { ServingState__Output as ProtoServingState } from "@gmempool/contract/generated/gmempool/v1/ServingState";
import type { UnitState__Output as ProtoUnitState } from "@gmempool/contract/generated/gmempool/v1/UnitState";
import type { ConversionMode__Output as ProtoConversionMode } from "@gmempool/contract/generated/gmempool/v1/ConversionMode";
import type { ContentIntent__Output as ProtoContentIntent } from "@gmempool/contract/generated/gmempool/v1/ContentIntent";
import type { ReleaseReason__Output as ProtoReleaseReason } from "@gmempool/contract/generated/gmempool/v1/ReleaseReason";
import type { PolicySource__Output as ProtoPolicySource } from "@gmempool/contract/generated/gmempool/v1/PolicySource";
import type { PoolEventKind__Output as ProtoPoolEventKind } from "@gmempool/contract/generated/gmempool/v1/PoolEventKind";
import type { Arena } from "@gmempool/contract/generated/gmempool/v1/Arena";
import type { ArenaPolicyOverride as ProtoArenaPolicyOverride } from "@gmempool/contract/generated/gmempool/v1/ArenaPolicyOverride";
import type { Identity as ProtoIdentity } from "@gmempool/contract/generated/gmempool/v1/Identity";
import type { Lease } from "@gmempool/contract/generated/gmempool/v1/Lease";
import type { Policy } from "@gmempool/contract/generated/gmempool/v1/Policy";
import type { PoolStatus as ProtoPoolStatus } from "@gmempool/contract/generated/gmempool/v1/PoolStatus";
import type { WatchResponse } from "@gmempool/contract/generated/gmempool/v1/WatchResponse";
import type { Duration } from "@gmempool/contract/generated/google/protobuf/Duration";
import type { Timestamp } from "@gmempool/contract/generated/google/protobuf/Timestamp";

// ---- scalars -----------------------------------------------------------------------------

const UINT64_MAX = (1n << 64n) - 1n;

/** A uint64 field (decoded as a decimal string) as bigint. */
export function bytesFromProto(value: string, field: string): bigint {
  if (!/^\d+$/.test(value)) throw new GmempoolError("invalid-argument", `${field} is not an unsigned integer: ${JSON.stringify(value)}`);
  const n = BigInt(value);
  if (n > UINT64_MAX) throw new GmempoolError("invalid-argument", `${field} ${value} exceeds 2^64 - 1`);
  return n;
}

export function bytesToProto(value: bigint): string {
  return value.toString();
}

export function timestampToProto(time: Date): Timestamp {
  const ms = time.getTime();
  const seconds = Math.floor(ms / 1000);
  return { seconds: String(seconds), nanos: (ms - seconds * 1000) * 1_000_000 };
}

export function durationToProto(ms: number): Duration {
  const seconds = Math.floor(ms / 1000);
  return { seconds: String(seconds), nanos: Math.round((ms - seconds * 1000) * 1_000_000) };
}

// ---- enums -------------------------------------------------------------------------------

/** An enum: daemon value -> proto name, and the proto's UNSPECIFIED name. */
class EnumCodec<D extends string, P extends string> {
  readonly #toProto: Record<D, P>;
  readonly #fromProto: Map<string, D>;
  readonly #numbers: Map<number, string>;
  readonly unspecified: P;
  readonly protoType: string;

  constructor(protoType: string, unspecified: P, toProto: Record<D, P>) {
    this.protoType = protoType;
    this.unspecified = unspecified;
    this.#toProto = toProto;
    this.#fromProto = new Map(Object.entries<P>(toProto).map(([d, p]) => [p, d as D]));
    // Enum numbers follow declaration order in every gmempool enum: UNSPECIFIED = 0, then 1, 2, ...
    this.#numbers = new Map([[0, unspecified], ...Object.values<P>(toProto).map((p, i): [number, string] => [i + 1, p])]);
  }

  encode(value: D): P {
    return this.#toProto[value];
  }

  /** UNSPECIFIED -> undefined; a name or number the proto does not define -> invalid-argument. */
  decode(value: string | number, field: string): D | undefined {
    const name = typeof value === "number" ? this.#numbers.get(value) : value;
    if (name === this.unspecified) return undefined;
    const decoded = name === undefined ? undefined : this.#fromProto.get(name);
    if (decoded === undefined) throw new GmempoolError("invalid-argument", `${field} ${JSON.stringify(value)} is not a ${this.protoType}`);
    return decoded;
  }

  /** The proto names in number order (for tests against the loaded enum). */
  names(): string[] {
    return [...this.#numbers.entries()].sort((a, b) => a[0] - b[0]).map(([, n]) => n);
  }
}

export const RESERVE_MODE = new EnumCodec<ReserveMode, ProtoReserveMode>("ReserveMode", "RESERVE_MODE_UNSPECIFIED", { gmem: "RESERVE_MODE_GMEM", hugetlb: "RESERVE_MODE_HUGETLB", none: "RESERVE_MODE_NONE" });
export const ARENA_KIND = new EnumCodec<ArenaKind, ProtoArenaKind>("ArenaKind", "ARENA_KIND_UNSPECIFIED", { guest_memfd: "ARENA_KIND_GUEST_MEMFD", memfd: "ARENA_KIND_MEMFD", pair: "ARENA_KIND_PAIR" });
export const MEMFD_BACKING = new EnumCodec<MemfdBacking, ProtoMemfdBacking>("MemfdBacking", "MEMFD_BACKING_UNSPECIFIED", { shmem: "MEMFD_BACKING_SHMEM", hugetlb: "MEMFD_BACKING_HUGETLB" });
export const FD_TYPE = new EnumCodec<FdType, ProtoFdType>("FdType", "FD_TYPE_UNSPECIFIED", { guest_memfd: "FD_TYPE_GUEST_MEMFD", memfd_shmem: "FD_TYPE_MEMFD_SHMEM", memfd_hugetlb: "FD_TYPE_MEMFD_HUGETLB" });
export const VISIBILITY = new EnumCodec<Visibility, ProtoPageVisibility>("PageVisibility", "PAGE_VISIBILITY_UNSPECIFIED", { shared: "PAGE_VISIBILITY_SHARED", private: "PAGE_VISIBILITY_PRIVATE" });
export const DISCARD_POLICY = new EnumCodec<DiscardPolicyName, ProtoDiscardPolicy>("DiscardPolicy", "DISCARD_POLICY_UNSPECIFIED", { reject: "DISCARD_POLICY_REJECT", zero: "DISCARD_POLICY_ZERO", defer: "DISCARD_POLICY_DEFER" });
export const ARENA_STATE = new EnumCodec<ArenaState, ProtoArenaState>("ArenaState", "ARENA_STATE_UNSPECIFIED", { active: "ARENA_STATE_ACTIVE", detached: "ARENA_STATE_DETACHED", deleting: "ARENA_STATE_DELETING" });
export const SERVING_STATE = new EnumCodec<ServingState, ProtoServingState>("ServingState", "SERVING_STATE_UNSPECIFIED", { starting: "SERVING_STATE_STARTING", serving: "SERVING_STATE_SERVING", draining: "SERVING_STATE_DRAINING" });
export const UNIT_STATE = new EnumCodec<UnitState, ProtoUnitState>("UnitState", "UNIT_STATE_UNSPECIFIED", {
  free: "UNIT_STATE_FREE",
  claimed: "UNIT_STATE_CLAIMED",
  leased: "UNIT_STATE_LEASED",
  split: "UNIT_STATE_SPLIT",
  deferred: "UNIT_STATE_DEFERRED",
  discarded: "UNIT_STATE_DISCARDED",
});
export const CONVERSION_MODE = new EnumCodec<ConversionMode, ProtoConversionMode>("ConversionMode", "CONVERSION_MODE_UNSPECIFIED", { "in-place": "CONVERSION_MODE_IN_PLACE", notify: "CONVERSION_MODE_NOTIFY" });
export const CONTENT_INTENT = new EnumCodec<ContentIntent, ProtoContentIntent>("ContentIntent", "CONTENT_INTENT_UNSPECIFIED", { preserve: "CONTENT_INTENT_PRESERVE", destroy: "CONTENT_INTENT_DESTROY" });
export const RELEASE_REASON = new EnumCodec<ReleaseReason, ProtoReleaseReason>("ReleaseReason", "RELEASE_REASON_UNSPECIFIED", { client: "RELEASE_REASON_CLIENT", "force-release": "RELEASE_REASON_FORCE_RELEASE", "owner-exited": "RELEASE_REASON_OWNER_EXITED" });
export const POLICY_SOURCE = new EnumCodec<PolicySource, ProtoPolicySource>("PolicySource", "POLICY_SOURCE_UNSPECIFIED", { admin: "POLICY_SOURCE_ADMIN", config: "POLICY_SOURCE_CONFIG" });
export const POOL_EVENT_KIND = new EnumCodec<PoolEventKind, ProtoPoolEventKind>("PoolEventKind", "POOL_EVENT_KIND_UNSPECIFIED", {
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

/** Every enum codec with the proto enum it mirrors (checked in proto-codec.test.ts). */
export const ENUM_CODECS = [
  RESERVE_MODE,
  ARENA_KIND,
  MEMFD_BACKING,
  FD_TYPE,
  VISIBILITY,
  DISCARD_POLICY,
  ARENA_STATE,
  SERVING_STATE,
  UNIT_STATE,
  CONVERSION_MODE,
  CONTENT_INTENT,
  RELEASE_REASON,
  POLICY_SOURCE,
  POOL_EVENT_KIND,
] as const;

/** An enum value the daemon may leave undefined ("UNSPECIFIED"). */
function optionalEnum<D extends string, P extends string>(codec: EnumCodec<D, P>, value: D | undefined): P {
  return value === undefined ? codec.unspecified : codec.encode(value);
}

// ---- resources ---------------------------------------------------------------------------

export function identityToProto(identity: Identity): ProtoIdentity {
  return { uid: identity.uid, gid: identity.gid, pid: identity.pid, startTimeTicks: bytesToProto(identity.startTimeTicks) };
}

export function arenaToProto(arena: ArenaInfo): Arena {
  return {
    arenaId: arena.arenaId,
    name: arena.name,
    kind: ARENA_KIND.encode(arena.kind),
    state: ARENA_STATE.encode(arena.state),
    owner: identityToProto(arena.owner),
    sizeBytes: bytesToProto(arena.sizeBytes),
    unitCount: arena.unitCount,
    leasedUnitCount: arena.leasedUnitCount,
    discardedUnitCount: arena.discardedUnitCount,
    splitUnitCount: arena.splitUnitCount,
    deferredBytes: bytesToProto(arena.deferredBytes),
    leaseCount: arena.leaseCount,
    initialVisibility: VISIBILITY.encode(arena.initialVisibility),
    files: arena.files.map((f) => ({
      fdType: FD_TYPE.encode(f.fdType),
      serves: optionalEnum(VISIBILITY, f.serves),
      sizeBytes: bytesToProto(f.sizeBytes),
      populatedUnitCount: f.populatedUnitCount,
      memfdName: f.memfdName,
    })),
    policy: {
      discardPolicy: DISCARD_POLICY.encode(arena.policy.discardPolicy),
      discardPolicyOverridden: arena.policy.discardPolicyOverridden,
      punchGranularityBytes: bytesToProto(arena.policy.punchGranularityBytes),
      punchGranularityOverridden: arena.policy.punchGranularityOverridden,
    },
    createTime: timestampToProto(arena.createTime),
  };
}

export function leaseToProto(lease: LeaseInfo): Lease {
  return {
    leaseId: lease.leaseId,
    arenaId: lease.arenaId,
    owner: identityToProto(lease.owner),
    offsetBytes: bytesToProto(lease.offsetBytes),
    lengthBytes: bytesToProto(lease.lengthBytes),
    unitCount: lease.unitCount,
    label: lease.label,
    sharedBytes: bytesToProto(lease.sharedBytes),
    privateBytes: bytesToProto(lease.privateBytes),
    discardedBytes: bytesToProto(lease.discardedBytes),
    discardedUnitCount: lease.discardedUnitCount,
    splitUnitCount: lease.splitUnitCount,
    createTime: timestampToProto(lease.createTime),
  };
}

export function policyToProto(policy: PolicyInfo): Policy {
  return {
    discardPolicy: DISCARD_POLICY.encode(policy.discardPolicy),
    punchGranularityBytes: bytesToProto(policy.punchGranularityBytes),
    deferredCapBytes: bytesToProto(policy.deferredCapBytes),
    deferredOverflowPolicy: DISCARD_POLICY.encode(policy.deferredOverflowPolicy satisfies DeferredOverflowPolicy),
  };
}

export function arenaOverrideToProto(override: ArenaPolicyOverride): ProtoArenaPolicyOverride {
  const out: ProtoArenaPolicyOverride = { arenaId: override.arenaId };
  if (override.discardPolicy !== undefined) out.discardPolicy = DISCARD_POLICY.encode(override.discardPolicy);
  if (override.punchGranularityBytes !== undefined) out.punchGranularityBytes = bytesToProto(override.punchGranularityBytes);
  return out;
}

export function poolStatusToProto(s: PoolStatus): ProtoPoolStatus {
  return {
    servingState: SERVING_STATE.encode(s.servingState),
    reserveMode: RESERVE_MODE.encode(s.reserveMode),
    capacityUnitCount: s.capacityUnitCount,
    freeUnitCount: s.freeUnitCount,
    claimedUnitCount: s.claimedUnitCount,
    leasedUnitCount: s.leasedUnitCount,
    reservePopulatedUnitCount: s.reservePopulatedUnitCount,
    splitUnitCount: s.splitUnitCount,
    deferredBytes: bytesToProto(s.deferredBytes),
    deferredCapBytes: bytesToProto(s.deferredCapBytes),
    arenaCount: s.arenaCount,
    leaseCount: s.leaseCount,
    largestFreeRunUnitCount: s.largestFreeRunUnitCount,
    startTime: timestampToProto(s.startTime),
    lastEventSequence: bytesToProto(s.lastEventSequence),
  };
}

/** One Watch event as a WatchResponse (the oneof member named after the event kind). */
export function poolEventToProto(event: PoolEvent): WatchResponse {
  const head = { sequence: bytesToProto(event.sequence), time: timestampToProto(event.time) };
  const body = event.body;
  switch (body.kind) {
    case "pool-status":
      return { ...head, poolStatus: poolStatusToProto(body.status) };
    case "arena-created":
      return { ...head, arenaCreated: arenaToProto(body.arena) };
    case "arena-state-changed":
      return { ...head, arenaStateChanged: arenaToProto(body.arena) };
    case "arena-deleted":
      return {
        ...head,
        arenaDeleted: { arenaId: body.arenaId, owner: identityToProto(body.owner), releasedLeaseCount: body.releasedLeaseCount, releasedUnitCount: body.releasedUnitCount, reason: RELEASE_REASON.encode(body.reason) },
      };
    case "lease-allocated":
      return { ...head, leaseAllocated: leaseToProto(body.lease) };
    case "lease-released":
      return { ...head, leaseReleased: { leaseId: body.leaseId, arenaId: body.arenaId, releasedUnitCount: body.releasedUnitCount, reason: RELEASE_REASON.encode(body.reason) } };
    case "range-discarded":
      return {
        ...head,
        rangeDiscarded: {
          arenaId: body.arenaId,
          offsetBytes: bytesToProto(body.offsetBytes),
          lengthBytes: bytesToProto(body.lengthBytes),
          punchedBytes: bytesToProto(body.punchedBytes),
          releasedUnitCount: body.releasedUnitCount,
          zeroedBytes: bytesToProto(body.zeroedBytes),
          deferredBytes: bytesToProto(body.deferredBytes),
        },
      };
    case "range-populated":
      return { ...head, rangePopulated: { arenaId: body.arenaId, offsetBytes: bytesToProto(body.offsetBytes), lengthBytes: bytesToProto(body.lengthBytes), populatedUnitCount: body.populatedUnitCount } };
    case "range-converted":
      return {
        ...head,
        rangeConverted: {
          arenaId: body.arenaId,
          offsetBytes: bytesToProto(body.offsetBytes),
          lengthBytes: bytesToProto(body.lengthBytes),
          toVisibility: VISIBILITY.encode(body.toVisibility),
          mode: CONVERSION_MODE.encode(body.mode),
        },
      };
    case "policy-changed":
      return {
        ...head,
        policyChanged: {
          poolPolicy: policyToProto(body.poolPolicy),
          arenaOverride: body.arenaOverride === undefined ? null : arenaOverrideToProto(body.arenaOverride),
          source: POLICY_SOURCE.encode(body.source),
        },
      };
    case "owner-exited":
      return {
        ...head,
        ownerExited: { owner: identityToProto(body.owner), deletedArenaCount: body.deletedArenaCount, releasedLeaseCount: body.releasedLeaseCount, releasedUnitCount: body.releasedUnitCount },
      };
    case "deferred-cap-reached":
      return {
        ...head,
        deferredCapReached: { deferredBytes: bytesToProto(body.deferredBytes), deferredCapBytes: bytesToProto(body.deferredCapBytes), overflowPolicy: DISCARD_POLICY.encode(body.overflowPolicy) },
      };
  }
}
