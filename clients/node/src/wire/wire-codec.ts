/**
 * Translation between the API's wire objects (as @grpc/proto-loader decodes them with the
 * daemon's options: 64-bit fields as decimal strings, enums as prefixed names) and the client's
 * resources (resources.ts: bigint bytes, short enum names, Dates). Nothing else: no policy, no
 * validation beyond what the types cannot express.
 *
 * Every enum table is a `Record` over the client's union, so a value added to a union does not
 * compile until it is mapped; a wire name the table does not know (a newer daemon) decodes to an
 * InternalError naming it rather than to a guess.
 */
import type { Arena__Output } from "@gmempool/contract/generated/gmempool/v1/Arena";
import type { ContentIntent__Output } from "@gmempool/contract/generated/gmempool/v1/ContentIntent";
import type { ConversionMode__Output } from "@gmempool/contract/generated/gmempool/v1/ConversionMode";
import type { DiscardPolicy__Output } from "@gmempool/contract/generated/gmempool/v1/DiscardPolicy";
import type { MemfdBacking__Output } from "@gmempool/contract/generated/gmempool/v1/MemfdBacking";
import type { PageVisibility__Output } from "@gmempool/contract/generated/gmempool/v1/PageVisibility";
import type { PoolEventKind__Output } from "@gmempool/contract/generated/gmempool/v1/PoolEventKind";
import type { ArenaPolicyOverride__Output } from "@gmempool/contract/generated/gmempool/v1/ArenaPolicyOverride";
import type { GetCapabilitiesResponse__Output } from "@gmempool/contract/generated/gmempool/v1/GetCapabilitiesResponse";
import type { GetFragmentationMapResponse__Output } from "@gmempool/contract/generated/gmempool/v1/GetFragmentationMapResponse";
import type { Identity__Output } from "@gmempool/contract/generated/gmempool/v1/Identity";
import type { Lease__Output } from "@gmempool/contract/generated/gmempool/v1/Lease";
import type { Policy__Output } from "@gmempool/contract/generated/gmempool/v1/Policy";
import type { PoolStatus__Output } from "@gmempool/contract/generated/gmempool/v1/PoolStatus";
import type { WatchResponse__Output } from "@gmempool/contract/generated/gmempool/v1/WatchResponse";
import type { Duration__Output } from "@gmempool/contract/generated/google/protobuf/Duration";
import type { Timestamp__Output } from "@gmempool/contract/generated/google/protobuf/Timestamp";
import { InternalError, InvalidArgumentError } from "../pool-errors.ts";
import type {
  Arena,
  ArenaKind,
  ArenaPolicyOverride,
  ArenaState,
  Capabilities,
  ContentIntent,
  ConversionMode,
  DiscardPolicy,
  FdType,
  FragmentationMap,
  Identity,
  Lease,
  MemfdBacking,
  PageVisibility,
  Policy,
  PolicySource,
  PoolEvent,
  PoolEventKind,
  PoolStatus,
  ReleaseReason,
  ReserveMode,
  ServingState,
  UnitState,
} from "../resources.ts";

/** A bidirectional enum table: client name <-> wire name. */
export class EnumCodec<Name extends string, Wire extends string> {
  readonly #toWire: Readonly<Record<Name, Wire>>;
  readonly #fromWire: ReadonlyMap<string, Name>;
  readonly #enumName: string;

  constructor(enumName: string, toWire: Readonly<Record<Name, Wire>>) {
    this.#enumName = enumName;
    this.#toWire = toWire;
    this.#fromWire = new Map(Object.entries<Wire>(toWire).map(([name, wire]) => [wire, name as Name]));
  }

  encode(name: Name): Wire {
    const wire = this.#toWire[name] as Wire | undefined;
    if (wire === undefined) throw new InvalidArgumentError(`${name} is not a ${this.#enumName} (one of ${Object.keys(this.#toWire).join(", ")})`);
    return wire;
  }

  /** The client name; throws for _UNSPECIFIED or a name this client does not know. */
  decode(wire: string): Name {
    const name = this.#fromWire.get(wire);
    if (name === undefined) throw new InternalError(`the daemon sent ${this.#enumName} ${wire}, which this client does not know`);
    return name;
  }

  /** The client name, or undefined for _UNSPECIFIED (where the proto allows "not set"). */
  decodeOptional(wire: string): Name | undefined {
    return wire.endsWith("_UNSPECIFIED") ? undefined : this.decode(wire);
  }

  names(): Name[] {
    return Object.keys(this.#toWire) as Name[];
  }
}

export const RESERVE_MODE = new EnumCodec<ReserveMode, string>("ReserveMode", { gmem: "RESERVE_MODE_GMEM", hugetlb: "RESERVE_MODE_HUGETLB", none: "RESERVE_MODE_NONE" });
export const ARENA_KIND = new EnumCodec<ArenaKind, string>("ArenaKind", { guest_memfd: "ARENA_KIND_GUEST_MEMFD", memfd: "ARENA_KIND_MEMFD", pair: "ARENA_KIND_PAIR" });
export const ARENA_STATE = new EnumCodec<ArenaState, string>("ArenaState", { active: "ARENA_STATE_ACTIVE", detached: "ARENA_STATE_DETACHED", deleting: "ARENA_STATE_DELETING" });
export const MEMFD_BACKING = new EnumCodec<MemfdBacking, MemfdBacking__Output>("MemfdBacking", { shmem: "MEMFD_BACKING_SHMEM", hugetlb: "MEMFD_BACKING_HUGETLB" });
export const FD_TYPE = new EnumCodec<FdType, string>("FdType", { guest_memfd: "FD_TYPE_GUEST_MEMFD", memfd_shmem: "FD_TYPE_MEMFD_SHMEM", memfd_hugetlb: "FD_TYPE_MEMFD_HUGETLB" });
export const PAGE_VISIBILITY = new EnumCodec<PageVisibility, PageVisibility__Output>("PageVisibility", { shared: "PAGE_VISIBILITY_SHARED", private: "PAGE_VISIBILITY_PRIVATE" });
export const DISCARD_POLICY = new EnumCodec<DiscardPolicy, DiscardPolicy__Output>("DiscardPolicy", { reject: "DISCARD_POLICY_REJECT", zero: "DISCARD_POLICY_ZERO", defer: "DISCARD_POLICY_DEFER" });
export const CONVERSION_MODE = new EnumCodec<ConversionMode, ConversionMode__Output>("ConversionMode", { "in-place": "CONVERSION_MODE_IN_PLACE", notify: "CONVERSION_MODE_NOTIFY" });
export const CONTENT_INTENT = new EnumCodec<ContentIntent, ContentIntent__Output>("ContentIntent", { preserve: "CONTENT_INTENT_PRESERVE", destroy: "CONTENT_INTENT_DESTROY" });
export const SERVING_STATE = new EnumCodec<ServingState, string>("ServingState", { starting: "SERVING_STATE_STARTING", serving: "SERVING_STATE_SERVING", draining: "SERVING_STATE_DRAINING" });
export const UNIT_STATE = new EnumCodec<UnitState, string>("UnitState", {
  free: "UNIT_STATE_FREE",
  claimed: "UNIT_STATE_CLAIMED",
  leased: "UNIT_STATE_LEASED",
  split: "UNIT_STATE_SPLIT",
  deferred: "UNIT_STATE_DEFERRED",
  discarded: "UNIT_STATE_DISCARDED",
});
export const RELEASE_REASON = new EnumCodec<ReleaseReason, string>("ReleaseReason", { client: "RELEASE_REASON_CLIENT", "force-release": "RELEASE_REASON_FORCE_RELEASE", "owner-exited": "RELEASE_REASON_OWNER_EXITED" });
export const POLICY_SOURCE = new EnumCodec<PolicySource, string>("PolicySource", { admin: "POLICY_SOURCE_ADMIN", config: "POLICY_SOURCE_CONFIG" });
export const POOL_EVENT_KIND = new EnumCodec<PoolEventKind, PoolEventKind__Output>("PoolEventKind", {
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

const UINT64_MAX = (1n << 64n) - 1n;
const UINT32_MAX = 0xffff_ffff;

/** A bigint byte quantity as the wire's decimal string; refuses what uint64 cannot hold. */
export function encodeBytes(value: bigint, field: string): string {
  if (typeof value !== "bigint") throw new InvalidArgumentError(`${field} must be a bigint byte count, got ${typeof value}`);
  if (value < 0n || value > UINT64_MAX) throw new InvalidArgumentError(`${field} = ${value} does not fit in uint64`);
  return value.toString();
}

/** A unit count or other uint32 as a number; refuses non-integers and what uint32 cannot hold. */
export function encodeUint32(value: number, field: string): number {
  if (!Number.isInteger(value) || value < 0 || value > UINT32_MAX) throw new InvalidArgumentError(`${field} = ${value} is not a uint32`);
  return value;
}

const bytes = (wire: string): bigint => BigInt(wire);

export function decodeTime(t: Timestamp__Output | null | undefined): Date | undefined {
  if (t === null || t === undefined) return undefined;
  return new Date(Number(t.seconds) * 1000 + Math.floor(t.nanos / 1e6));
}

export function decodeDurationMs(d: Duration__Output | null | undefined): number {
  if (d === null || d === undefined) return 0;
  return Number(d.seconds) * 1000 + Math.floor(d.nanos / 1e6);
}

function required<T>(value: T | null | undefined, what: string): T {
  if (value === null || value === undefined) throw new InternalError(`the daemon's reply has no ${what}`);
  return value;
}

export function decodeIdentity(i: Identity__Output | null): Identity {
  const v = required(i, "identity");
  return { uid: v.uid, gid: v.gid, pid: v.pid, startTimeTicks: bytes(v.startTimeTicks) };
}

export function decodeCapabilities(c: GetCapabilitiesResponse__Output): Capabilities {
  return {
    daemonVersion: c.daemonVersion,
    unitBytes: bytes(c.unitBytes),
    pageBytes: bytes(c.pageBytes),
    reserveMode: RESERVE_MODE.decode(c.reserveMode),
    arenaKinds: c.arenaKinds.map((k) => ARENA_KIND.decode(k)),
    memfdBackings: c.memfdBackings.map((b) => MEMFD_BACKING.decode(b)),
    conversionModes: c.conversionModes.map((m) => CONVERSION_MODE.decode(m)),
    kernelFeatures: c.kernelFeatures.map((f) => ({ name: f.name, available: f.available, detail: f.detail })),
    fdSocketPath: c.fdSocketPath,
    fdChannelVersion: c.fdChannelVersion,
    fdTokenTtlMs: decodeDurationMs(c.fdTokenTtl),
    maxPendingFdTokens: c.maxPendingFdTokens,
    requestIdRetentionMs: decodeDurationMs(c.requestIdRetention),
    caller: decodeIdentity(c.caller),
    callerIsAdmin: c.callerIsAdmin,
    maxRequestMessageBytes: c.maxRequestMessageBytes,
  };
}

export function decodePoolStatus(s: PoolStatus__Output | null): PoolStatus {
  const v = required(s, "pool status");
  return {
    servingState: SERVING_STATE.decode(v.servingState),
    reserveMode: RESERVE_MODE.decode(v.reserveMode),
    capacityUnitCount: v.capacityUnitCount,
    freeUnitCount: v.freeUnitCount,
    claimedUnitCount: v.claimedUnitCount,
    leasedUnitCount: v.leasedUnitCount,
    reservePopulatedUnitCount: v.reservePopulatedUnitCount,
    splitUnitCount: v.splitUnitCount,
    deferredBytes: bytes(v.deferredBytes),
    deferredCapBytes: bytes(v.deferredCapBytes),
    arenaCount: v.arenaCount,
    leaseCount: v.leaseCount,
    largestFreeRunUnitCount: v.largestFreeRunUnitCount,
    startTime: decodeTime(v.startTime),
    lastEventSequence: bytes(v.lastEventSequence),
  };
}

export function decodeArena(a: Arena__Output | null): Arena {
  const v = required(a, "arena");
  const policy = required(v.policy, "arena policy");
  return {
    arenaId: v.arenaId,
    name: v.name,
    kind: ARENA_KIND.decode(v.kind),
    state: ARENA_STATE.decode(v.state),
    owner: decodeIdentity(v.owner),
    sizeBytes: bytes(v.sizeBytes),
    unitCount: v.unitCount,
    leasedUnitCount: v.leasedUnitCount,
    discardedUnitCount: v.discardedUnitCount,
    splitUnitCount: v.splitUnitCount,
    deferredBytes: bytes(v.deferredBytes),
    leaseCount: v.leaseCount,
    initialVisibility: PAGE_VISIBILITY.decode(v.initialVisibility),
    files: v.files.map((f) => ({ fdType: FD_TYPE.decode(f.fdType), serves: PAGE_VISIBILITY.decodeOptional(f.serves), sizeBytes: bytes(f.sizeBytes), populatedUnitCount: f.populatedUnitCount, memfdName: f.memfdName })),
    policy: {
      discardPolicy: DISCARD_POLICY.decode(policy.discardPolicy),
      discardPolicyOverridden: policy.discardPolicyOverridden,
      punchGranularityBytes: bytes(policy.punchGranularityBytes),
      punchGranularityOverridden: policy.punchGranularityOverridden,
    },
    createTime: decodeTime(v.createTime),
  };
}

export function decodeLease(l: Lease__Output | null): Lease {
  const v = required(l, "lease");
  return {
    leaseId: v.leaseId,
    arenaId: v.arenaId,
    owner: decodeIdentity(v.owner),
    offsetBytes: bytes(v.offsetBytes),
    lengthBytes: bytes(v.lengthBytes),
    unitCount: v.unitCount,
    label: v.label,
    sharedBytes: bytes(v.sharedBytes),
    privateBytes: bytes(v.privateBytes),
    discardedBytes: bytes(v.discardedBytes),
    discardedUnitCount: v.discardedUnitCount,
    splitUnitCount: v.splitUnitCount,
    createTime: decodeTime(v.createTime),
  };
}

export function decodePolicy(p: Policy__Output | null): Policy {
  const v = required(p, "policy");
  return {
    discardPolicy: DISCARD_POLICY.decode(v.discardPolicy),
    punchGranularityBytes: bytes(v.punchGranularityBytes),
    deferredCapBytes: bytes(v.deferredCapBytes),
    deferredOverflowPolicy: DISCARD_POLICY.decode(v.deferredOverflowPolicy),
  };
}

/** proto3 `optional` fields stay absent when unset (presence), so absent means "follows the pool". */
export function decodeArenaOverride(o: ArenaPolicyOverride__Output | null | undefined): ArenaPolicyOverride | undefined {
  if (o === null || o === undefined) return undefined;
  return {
    arenaId: o.arenaId,
    ...(o.discardPolicy === undefined ? {} : { discardPolicy: DISCARD_POLICY.decode(o.discardPolicy) }),
    ...(o.punchGranularityBytes === undefined ? {} : { punchGranularityBytes: bytes(o.punchGranularityBytes) }),
  };
}

export function decodeFragmentationMap(m: GetFragmentationMapResponse__Output): FragmentationMap {
  const reserve = required(m.reserve, "reserve map");
  return {
    arenas: m.arenas.map((a) => ({
      arenaId: a.arenaId,
      unitCount: a.unitCount,
      runs: a.runs.map((r) => ({ firstUnit: r.firstUnit, unitCount: r.unitCount, state: UNIT_STATE.decode(r.state), leaseId: r.leaseId })),
      largestFreeRunUnitCount: a.largestFreeRunUnitCount,
    })),
    reserve: { mode: RESERVE_MODE.decode(reserve.mode), freeUnitCount: reserve.freeUnitCount, largestFreeRunUnitCount: reserve.largestFreeRunUnitCount, freeRunCountsByOrder: [...reserve.freeRunCountsByOrder] },
    kernelBuddyZones: m.kernelBuddyZones.map((z) => ({ node: z.node, zone: z.zone, firstOrder: z.firstOrder, freeBlockCounts: z.freeBlockCounts.map(bytes), freeBytes: bytes(z.freeBytes) })),
    time: decodeTime(m.time),
  };
}

/** One Watch message; throws InternalError for an event case this client does not know. */
export function decodeWatchEvent(w: WatchResponse__Output): PoolEvent {
  const head = { sequence: bytes(w.sequence), time: decodeTime(w.time) };
  switch (w.event) {
    case "poolStatus":
      return { ...head, kind: "pool-status", status: decodePoolStatus(w.poolStatus ?? null) };
    case "arenaCreated":
      return { ...head, kind: "arena-created", arena: decodeArena(w.arenaCreated ?? null) };
    case "arenaStateChanged":
      return { ...head, kind: "arena-state-changed", arena: decodeArena(w.arenaStateChanged ?? null) };
    case "arenaDeleted": {
      const e = required(w.arenaDeleted, "arena_deleted");
      return { ...head, kind: "arena-deleted", arenaId: e.arenaId, owner: decodeIdentity(e.owner), releasedLeaseCount: e.releasedLeaseCount, releasedUnitCount: e.releasedUnitCount, reason: RELEASE_REASON.decode(e.reason) };
    }
    case "leaseAllocated":
      return { ...head, kind: "lease-allocated", lease: decodeLease(w.leaseAllocated ?? null) };
    case "leaseReleased": {
      const e = required(w.leaseReleased, "lease_released");
      return { ...head, kind: "lease-released", leaseId: e.leaseId, arenaId: e.arenaId, releasedUnitCount: e.releasedUnitCount, reason: RELEASE_REASON.decode(e.reason) };
    }
    case "rangeDiscarded": {
      const e = required(w.rangeDiscarded, "range_discarded");
      return {
        ...head,
        kind: "range-discarded",
        arenaId: e.arenaId,
        offsetBytes: bytes(e.offsetBytes),
        lengthBytes: bytes(e.lengthBytes),
        punchedBytes: bytes(e.punchedBytes),
        releasedUnitCount: e.releasedUnitCount,
        zeroedBytes: bytes(e.zeroedBytes),
        deferredBytes: bytes(e.deferredBytes),
      };
    }
    case "rangePopulated": {
      const e = required(w.rangePopulated, "range_populated");
      return { ...head, kind: "range-populated", arenaId: e.arenaId, offsetBytes: bytes(e.offsetBytes), lengthBytes: bytes(e.lengthBytes), populatedUnitCount: e.populatedUnitCount };
    }
    case "rangeConverted": {
      const e = required(w.rangeConverted, "range_converted");
      return { ...head, kind: "range-converted", arenaId: e.arenaId, offsetBytes: bytes(e.offsetBytes), lengthBytes: bytes(e.lengthBytes), toVisibility: PAGE_VISIBILITY.decode(e.toVisibility), mode: CONVERSION_MODE.decode(e.mode) };
    }
    case "policyChanged": {
      const e = required(w.policyChanged, "policy_changed");
      return { ...head, kind: "policy-changed", poolPolicy: decodePolicy(e.poolPolicy), arenaOverride: decodeArenaOverride(e.arenaOverride), source: POLICY_SOURCE.decode(e.source) };
    }
    case "ownerExited": {
      const e = required(w.ownerExited, "owner_exited");
      return { ...head, kind: "owner-exited", owner: decodeIdentity(e.owner), deletedArenaCount: e.deletedArenaCount, releasedLeaseCount: e.releasedLeaseCount, releasedUnitCount: e.releasedUnitCount };
    }
    case "deferredCapReached": {
      const e = required(w.deferredCapReached, "deferred_cap_reached");
      return { ...head, kind: "deferred-cap-reached", deferredBytes: bytes(e.deferredBytes), deferredCapBytes: bytes(e.deferredCapBytes), overflowPolicy: DISCARD_POLICY.decode(e.overflowPolicy) };
    }
    case undefined:
      throw new InternalError(`Watch event ${w.sequence} has no event set (a newer daemon?)`);
    default: {
      const unknown: never = w.event;
      throw new InternalError(`Watch event of unknown case ${String(unknown)}`);
    }
  }
}
