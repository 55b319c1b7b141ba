/**
 * Encoding the client's requests (pool.ts) into the API's wire objects, with the contract's enum
 * tables and scalars (@gmempool/contract codec/). The requests are the client's own (optional
 * fields, defaults, fd tokens); the daemon decodes the same messages into its service's requests.
 * Only what the wire cannot carry is refused here (a bigint beyond uint64, a count beyond
 * uint32, an enum name the table does not know: InvalidArgumentError); every rule about values (alignment, sizes, lengths, limits) is the
 * daemon's, so that the client and the daemon can never disagree about it.
 *
 * Optional client fields map to absent wire fields (proto3 presence where the proto has
 * `optional`; the default value elsewhere, which the daemon reads as "not given").
 */
import type { AllocateRequest as AllocateWire } from "@gmempool/contract/generated/gmempool/v1/AllocateRequest";
import type { ConvertRequest as ConvertWire } from "@gmempool/contract/generated/gmempool/v1/ConvertRequest";
import type { CreateArenaPairRequest as CreateArenaPairWire } from "@gmempool/contract/generated/gmempool/v1/CreateArenaPairRequest";
import type { CreateMemfdArenaRequest as CreateMemfdArenaWire } from "@gmempool/contract/generated/gmempool/v1/CreateMemfdArenaRequest";
import type { ForceReleaseRequest as ForceReleaseWire } from "@gmempool/contract/generated/gmempool/v1/ForceReleaseRequest";
import type { RegisterGuestMemfdArenaRequest as RegisterWire } from "@gmempool/contract/generated/gmempool/v1/RegisterGuestMemfdArenaRequest";
import type { SetPolicyRequest as SetPolicyWire } from "@gmempool/contract/generated/gmempool/v1/SetPolicyRequest";
import type { WatchRequest as WatchWire } from "@gmempool/contract/generated/gmempool/v1/WatchRequest";
import type { AllocateRequest, ByteRange, ConvertRequest, CreateArenaPairRequest, CreateMemfdArenaRequest, ForceReleaseTarget, RegisterGuestMemfdArenaRequest, SetPolicyRequest, WatchRequest } from "../pool.ts";
import { CONTENT_INTENT, CONVERSION_MODE, DISCARD_POLICY, encodeUint32, encodeUint64, MEMFD_BACKING, PAGE_VISIBILITY, POOL_EVENT_KIND, WireValueError } from "@gmempool/contract";
import { InvalidArgumentError } from "../pool-errors.ts";

/** `encode` with what the wire cannot carry (the contract's WireValueError) as the caller's InvalidArgumentError. */
function writingRequest<A extends unknown[], R>(encode: (...args: A) => R): (...args: A) => R {
  return (...args) => {
    try {
      return encode(...args);
    } catch (error) {
      if (error instanceof WireValueError) throw new InvalidArgumentError(error.message, { cause: error });
      throw error;
    }
  };
}

export const encodeRegisterGuestMemfdArena = writingRequest((requestId: string, token: Buffer, r: RegisterGuestMemfdArenaRequest): RegisterWire => {
  return { requestId, gmemFdToken: token, sizeBytes: encodeUint64(r.sizeBytes, "sizeBytes"), initialVisibility: PAGE_VISIBILITY.encode(r.initialVisibility, "initialVisibility"), name: r.name ?? "", reservationToken: r.reservationToken ?? "" };
});

export const encodeCreateMemfdArena = writingRequest((requestId: string, token: Buffer, r: CreateMemfdArenaRequest): CreateMemfdArenaWire => {
  return { requestId, memfdFdToken: token, sizeBytes: encodeUint64(r.sizeBytes, "sizeBytes"), backing: MEMFD_BACKING.encode(r.backing ?? "shmem"), name: r.name ?? "", reservationToken: r.reservationToken ?? "" };
});

export const encodeCreateArenaPair = writingRequest((requestId: string, gmemToken: Buffer, memfdToken: Buffer, r: CreateArenaPairRequest): CreateArenaPairWire => {
  return {
    requestId,
    gmemFdToken: gmemToken,
    memfdFdToken: memfdToken,
    sizeBytes: encodeUint64(r.sizeBytes, "sizeBytes"),
    sharedBacking: MEMFD_BACKING.encode(r.sharedBacking ?? "shmem"),
    initialVisibility: PAGE_VISIBILITY.encode(r.initialVisibility, "initialVisibility"),
    name: r.name ?? "",
  };
});

export const encodeAllocate = writingRequest((requestId: string, arenaId: string, r: AllocateRequest): AllocateWire => {
  return {
    requestId,
    arenaId,
    unitCount: encodeUint32(r.unitCount, "unitCount"),
    ...(r.offsetBytes === undefined ? {} : { offsetBytes: encodeUint64(r.offsetBytes, "offsetBytes") }),
    label: r.label ?? "",
  };
});

/** Discard and Populate share this shape. */
export const encodeRange = writingRequest((requestId: string, arenaId: string, range: ByteRange): { requestId: string; arenaId: string; offsetBytes: string; lengthBytes: string } => {
  return { requestId, arenaId, offsetBytes: encodeUint64(range.offsetBytes, "offsetBytes"), lengthBytes: encodeUint64(range.lengthBytes, "lengthBytes") };
});

export const encodeConvert = writingRequest((requestId: string, arenaId: string, r: ConvertRequest): ConvertWire => {
  return {
    ...encodeRange(requestId, arenaId, r),
    toVisibility: PAGE_VISIBILITY.encode(r.toVisibility),
    mode: CONVERSION_MODE.encode(r.mode),
    contentIntent: CONTENT_INTENT.encodeOptional(r.contentIntent, "contentIntent"),
  };
});

export const encodeSetPolicy = writingRequest((requestId: string, r: SetPolicyRequest): SetPolicyWire => {
  return {
    requestId,
    arenaId: r.arenaId ?? "",
    ...(r.discardPolicy === undefined ? {} : { discardPolicy: DISCARD_POLICY.encode(r.discardPolicy) }),
    ...(r.punchGranularityBytes === undefined ? {} : { punchGranularityBytes: encodeUint64(r.punchGranularityBytes, "punchGranularityBytes") }),
    ...(r.deferredCapBytes === undefined ? {} : { deferredCapBytes: encodeUint64(r.deferredCapBytes, "deferredCapBytes") }),
    ...(r.deferredOverflowPolicy === undefined ? {} : { deferredOverflowPolicy: DISCARD_POLICY.encode(r.deferredOverflowPolicy) }),
    clearArenaOverride: r.clearArenaOverride ?? false,
  };
});

/** The oneof `target`: exactly one member; anything else cannot be put on the wire. */
export const encodeForceRelease = writingRequest((requestId: string, target: ForceReleaseTarget): ForceReleaseWire => {
  const given = target as Partial<Record<"leaseId" | "arenaId" | "ownerPid", unknown>>;
  const members = (["leaseId", "arenaId", "ownerPid"] as const).filter((k) => given[k] !== undefined);
  if (members.length !== 1) throw new InvalidArgumentError(`a ForceRelease target is exactly one of leaseId, arenaId, ownerPid; got ${members.length === 0 ? "none" : members.join(" and ")}`);
  if ("leaseId" in target) return { requestId, leaseId: target.leaseId };
  if ("arenaId" in target) return { requestId, arenaId: target.arenaId };
  return { requestId, ownerPid: encodeUint32(target.ownerPid, "ownerPid") };
});

export const encodeWatch = writingRequest((r: WatchRequest): WatchWire => {
  return { arenaId: r.arenaId ?? "", kinds: (r.kinds ?? []).map((k) => POOL_EVENT_KIND.encode(k)), allOwners: r.allOwners ?? false };
});
