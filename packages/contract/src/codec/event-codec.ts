/**
 * Watch events (pool-event.ts) <-> WatchResponse: the oneof member is named after the event
 * kind (POOL_EVENT_KIND "lease-allocated" <-> `leaseAllocated`).
 */
import type { WatchResponse, WatchResponse__Output } from "../generated/gmempool/v1/WatchResponse.ts";
import type { PoolEvent, RangeEvent } from "../pool-event.ts";
import { CONVERSION_MODE, DISCARD_POLICY, PAGE_VISIBILITY, POLICY_SOURCE, RELEASE_REASON } from "./enum-tables.ts";
import { decodeArena, decodeArenaPolicyOverride, decodeIdentity, decodeLease, decodePolicy, decodePoolStatus, encodeArena, encodeArenaPolicyOverride, encodeIdentity, encodeLease, encodePolicy, encodePoolStatus } from "./resource-codec.ts";
import { decodeTimestamp, decodeUint64, encodeTimestamp, encodeUint64, required } from "./scalars.ts";
import { WireValueError } from "./wire-value-error.ts";

function encodeRange(range: RangeEvent): { arenaId: string; offsetBytes: string; lengthBytes: string } {
  return { arenaId: range.arenaId, offsetBytes: encodeUint64(range.offsetBytes, "offset_bytes"), lengthBytes: encodeUint64(range.lengthBytes, "length_bytes") };
}

function decodeRange(range: { arenaId: string; offsetBytes: string; lengthBytes: string }, message: string): RangeEvent {
  return { arenaId: range.arenaId, offsetBytes: decodeUint64(range.offsetBytes, `${message}.offset_bytes`), lengthBytes: decodeUint64(range.lengthBytes, `${message}.length_bytes`) };
}

export function encodePoolEvent(event: PoolEvent): WatchResponse {
  const head = { sequence: encodeUint64(event.sequence, "sequence"), time: encodeTimestamp(event.time) };
  switch (event.kind) {
    case "pool-status":
      return { ...head, poolStatus: encodePoolStatus(event.status) };
    case "arena-created":
      return { ...head, arenaCreated: encodeArena(event.arena) };
    case "arena-state-changed":
      return { ...head, arenaStateChanged: encodeArena(event.arena) };
    case "arena-deleted":
      return {
        ...head,
        arenaDeleted: { arenaId: event.arenaId, owner: encodeIdentity(event.owner), releasedLeaseCount: event.releasedLeaseCount, releasedUnitCount: event.releasedUnitCount, reason: RELEASE_REASON.encode(event.reason) },
      };
    case "lease-allocated":
      return { ...head, leaseAllocated: encodeLease(event.lease) };
    case "lease-released":
      return { ...head, leaseReleased: { leaseId: event.leaseId, arenaId: event.arenaId, releasedUnitCount: event.releasedUnitCount, reason: RELEASE_REASON.encode(event.reason) } };
    case "range-discarded":
      return {
        ...head,
        rangeDiscarded: {
          ...encodeRange(event),
          punchedBytes: encodeUint64(event.punchedBytes, "punched_bytes"),
          releasedUnitCount: event.releasedUnitCount,
          zeroedBytes: encodeUint64(event.zeroedBytes, "zeroed_bytes"),
          deferredBytes: encodeUint64(event.deferredBytes, "deferred_bytes"),
        },
      };
    case "range-populated":
      return { ...head, rangePopulated: { ...encodeRange(event), populatedUnitCount: event.populatedUnitCount } };
    case "range-converted":
      return {
        ...head,
        rangeConverted: { ...encodeRange(event), toVisibility: PAGE_VISIBILITY.encode(event.toVisibility), mode: CONVERSION_MODE.encode(event.mode) },
      };
    case "policy-changed":
      return {
        ...head,
        policyChanged: {
          poolPolicy: encodePolicy(event.poolPolicy),
          arenaOverride: event.arenaOverride === undefined ? null : encodeArenaPolicyOverride(event.arenaOverride),
          source: POLICY_SOURCE.encode(event.source),
        },
      };
    case "owner-exited":
      return {
        ...head,
        ownerExited: { owner: encodeIdentity(event.owner), deletedArenaCount: event.deletedArenaCount, releasedLeaseCount: event.releasedLeaseCount, releasedUnitCount: event.releasedUnitCount },
      };
    case "deferred-cap-reached":
      return {
        ...head,
        deferredCapReached: {
          deferredBytes: encodeUint64(event.deferredBytes, "deferred_bytes"),
          deferredCapBytes: encodeUint64(event.deferredCapBytes, "deferred_cap_bytes"),
          overflowPolicy: DISCARD_POLICY.encode(event.overflowPolicy),
        },
      };
  }
}

/** One Watch message; an event case this side does not know (a newer peer) is a WireValueError. */
export function decodePoolEvent(w: WatchResponse__Output): PoolEvent {
  const head = { sequence: decodeUint64(w.sequence, "sequence"), time: decodeTimestamp(w.time) };
  switch (w.event) {
    case "poolStatus":
      return { ...head, kind: "pool-status", status: decodePoolStatus(w.poolStatus) };
    case "arenaCreated":
      return { ...head, kind: "arena-created", arena: decodeArena(w.arenaCreated) };
    case "arenaStateChanged":
      return { ...head, kind: "arena-state-changed", arena: decodeArena(w.arenaStateChanged) };
    case "arenaDeleted": {
      const e = required(w.arenaDeleted, "arena_deleted");
      return { ...head, kind: "arena-deleted", arenaId: e.arenaId, owner: decodeIdentity(e.owner), releasedLeaseCount: e.releasedLeaseCount, releasedUnitCount: e.releasedUnitCount, reason: RELEASE_REASON.decodeRequired(e.reason, "ArenaDeleted.reason") };
    }
    case "leaseAllocated":
      return { ...head, kind: "lease-allocated", lease: decodeLease(w.leaseAllocated) };
    case "leaseReleased": {
      const e = required(w.leaseReleased, "lease_released");
      return { ...head, kind: "lease-released", leaseId: e.leaseId, arenaId: e.arenaId, releasedUnitCount: e.releasedUnitCount, reason: RELEASE_REASON.decodeRequired(e.reason, "LeaseReleased.reason") };
    }
    case "rangeDiscarded": {
      const e = required(w.rangeDiscarded, "range_discarded");
      return {
        ...head,
        kind: "range-discarded",
        ...decodeRange(e, "RangeDiscarded"),
        punchedBytes: decodeUint64(e.punchedBytes, "RangeDiscarded.punched_bytes"),
        releasedUnitCount: e.releasedUnitCount,
        zeroedBytes: decodeUint64(e.zeroedBytes, "RangeDiscarded.zeroed_bytes"),
        deferredBytes: decodeUint64(e.deferredBytes, "RangeDiscarded.deferred_bytes"),
      };
    }
    case "rangePopulated": {
      const e = required(w.rangePopulated, "range_populated");
      return { ...head, kind: "range-populated", ...decodeRange(e, "RangePopulated"), populatedUnitCount: e.populatedUnitCount };
    }
    case "rangeConverted": {
      const e = required(w.rangeConverted, "range_converted");
      return {
        ...head,
        kind: "range-converted",
        ...decodeRange(e, "RangeConverted"),
        toVisibility: PAGE_VISIBILITY.decodeRequired(e.toVisibility, "RangeConverted.to_visibility"),
        mode: CONVERSION_MODE.decodeRequired(e.mode, "RangeConverted.mode"),
      };
    }
    case "policyChanged": {
      const e = required(w.policyChanged, "policy_changed");
      return { ...head, kind: "policy-changed", poolPolicy: decodePolicy(e.poolPolicy), arenaOverride: decodeArenaPolicyOverride(e.arenaOverride), source: POLICY_SOURCE.decodeRequired(e.source, "PolicyChanged.source") };
    }
    case "ownerExited": {
      const e = required(w.ownerExited, "owner_exited");
      return { ...head, kind: "owner-exited", owner: decodeIdentity(e.owner), deletedArenaCount: e.deletedArenaCount, releasedLeaseCount: e.releasedLeaseCount, releasedUnitCount: e.releasedUnitCount };
    }
    case "deferredCapReached": {
      const e = required(w.deferredCapReached, "deferred_cap_reached");
      return {
        ...head,
        kind: "deferred-cap-reached",
        deferredBytes: decodeUint64(e.deferredBytes, "DeferredCapReached.deferred_bytes"),
        deferredCapBytes: decodeUint64(e.deferredCapBytes, "DeferredCapReached.deferred_cap_bytes"),
        overflowPolicy: DISCARD_POLICY.decodeRequired(e.overflowPolicy, "DeferredCapReached.overflow_policy"),
      };
    }
    case undefined:
      throw new WireValueError("decode", "event", `Watch event ${w.sequence} has no event set (a newer daemon?)`);
    default: {
      const unknown: never = w.event;
      throw new WireValueError("decode", "event", `Watch event of unknown case ${String(unknown)}`);
    }
  }
}
