/**
 * gmempool.v1.Pool: one handler per RPC, each decode -> ONE PoolService call -> encode
 * (STYLE.md: the gRPC layer only translates). The fd channel's tokens are resolved here, because
 * they are the transport's: a SEND_FD token becomes the fd the daemon borrows for the call, a
 * RECEIVE_FD token becomes the `deliver` function that sends the daemon's fd on the right
 * channel connection. A token is consumed only when the call succeeds (fd_channel.proto).
 */
import type { ServerWritableStream } from "@grpc/grpc-js";
import type { ArenaService, Caller, LeaseService, PoolReader } from "../../daemon/pool-service.ts";
import type { PoolHandlers } from "@gmempool/contract/generated/gmempool/v1/Pool";
import {
  ARENA_KIND,
  CONTENT_INTENT,
  CONVERSION_MODE,
  MEMFD_BACKING,
  RESERVE_MODE,
  UNIT_STATE,
  PAGE_VISIBILITY,
  DISCARD_POLICY,
  encodeArenaPolicyOverride,
  encodeArena,
  decodeUint64,
  encodeUint64,
  encodeDuration,
  encodeIdentity,
  encodeLease,
  encodePolicy,
  encodePoolStatus,
  encodeQuotaUsage,
  encodeTimestamp,
} from "@gmempool/contract";
import type { FdTokenClaim, FdTokenExpectation } from "../fd-channel/fd-token-table.ts";
import { unaryHandler, type HandlerContext, type UnaryAnswer } from "./handler-context.ts";
import type { WatchRegistry } from "./watch-handler.ts";
import type { WatchRequest__Output } from "@gmempool/contract/generated/gmempool/v1/WatchRequest";
import type { WatchResponse } from "@gmempool/contract/generated/gmempool/v1/WatchResponse";

/**
 * Runs `body` with the tokens claimed; each claim is settled with the call's outcome (consumed
 * on success, pending again on failure). Tokens that are empty are not claimed (`undefined`).
 */
async function withTokens<T>(
  context: HandlerContext<unknown>,
  caller: Caller,
  wanted: readonly { readonly bytes: Buffer; readonly expect: FdTokenExpectation; readonly optional?: boolean }[],
  body: (claims: readonly (FdTokenClaim | undefined)[]) => Promise<T>,
): Promise<T> {
  const claims: (FdTokenClaim | undefined)[] = [];
  let succeeded = false;
  try {
    for (const w of wanted) claims.push(w.optional === true && w.bytes.length === 0 ? undefined : context.tokens.claim(w.bytes, caller, w.expect));
    const result = await body(claims);
    succeeded = true;
    return result;
  } finally {
    for (const claim of claims) claim?.settle(succeeded);
  }
}

const GMEM_TOKEN: FdTokenExpectation = { field: "gmem_fd_token", direction: "send", fdTypes: ["guest_memfd"] };
const PIDFD_TOKEN: FdTokenExpectation = { field: "owner_pidfd_token", direction: "send", fdTypes: ["pidfd"] };
const MEMFD_RECEIVE_TOKEN: FdTokenExpectation = { field: "memfd_fd_token", direction: "receive" };

export function poolHandlers(context: HandlerContext<PoolReader & ArenaService & LeaseService>, watches: WatchRegistry): PoolHandlers {
  const service = context.service;
  const unary = <Req, Res>(method: string, run: (caller: Caller, request: Req) => UnaryAnswer<Res> | Promise<UnaryAnswer<Res>>) => unaryHandler(context, method, run);

  return {
    GetCapabilities: unary("GetCapabilities", (caller) => {
      const c = service.getCapabilities(caller);
      const t = context.transport;
      return {
        response: {
          daemonVersion: c.daemonVersion,
          unitBytes: encodeUint64(c.unitBytes),
          pageBytes: encodeUint64(c.pageBytes),
          reserveMode: RESERVE_MODE.encode(c.reserveMode),
          arenaKinds: c.arenaKinds.map((k) => ARENA_KIND.encode(k)),
          memfdBackings: c.memfdBackings.map((b) => MEMFD_BACKING.encode(b)),
          conversionModes: c.conversionModes.map((m) => CONVERSION_MODE.encode(m)),
          kernelFeatures: c.kernelFeatures.map((f) => ({ name: f.name, available: f.available, detail: f.detail })),
          fdSocketPath: t.fdSocketPath,
          fdChannelVersion: t.fdChannelVersion,
          fdTokenTtl: encodeDuration(t.fdTokenTtlMs),
          maxPendingFdTokens: t.maxPendingFdTokens,
          requestIdRetention: encodeDuration(c.requestIdRetentionMs),
          caller: encodeIdentity(c.caller),
          callerIsAdmin: c.callerIsAdmin,
          maxRequestMessageBytes: t.maxRequestMessageBytes,
        },
      };
    }),

    GetPoolStatus: unary("GetPoolStatus", (caller) => ({ response: { status: encodePoolStatus(service.getPoolStatus(caller)), quotas: service.getQuotaUsage(caller).map(encodeQuotaUsage) } })),

    RegisterGuestMemfdArena: unary("RegisterGuestMemfdArena", (caller, r) => {
      const sizeBytes = decodeUint64(r.sizeBytes, "size_bytes");
      const initialVisibility = PAGE_VISIBILITY.decode(r.initialVisibility, "initial_visibility");
      return withTokens(context, caller, [{ bytes: r.gmemFdToken, expect: GMEM_TOKEN }], async ([gmem]) => {
        const result = await service.registerGuestMemfdArena(caller, { requestId: r.requestId, gmemFd: gmem!.fd!, sizeBytes, initialVisibility, name: r.name, reservationToken: r.reservationToken });
        return { response: { arena: encodeArena(result.arena) }, replayed: result.replayed };
      });
    }),

    CreateMemfdArena: unary("CreateMemfdArena", (caller, r) => {
      const sizeBytes = decodeUint64(r.sizeBytes, "size_bytes");
      const backing = MEMFD_BACKING.decode(r.backing, "backing");
      return withTokens(context, caller, [{ bytes: r.memfdFdToken, expect: MEMFD_RECEIVE_TOKEN }], async ([memfd]) => {
        const result = await service.createMemfdArena(caller, { requestId: r.requestId, sizeBytes, backing, name: r.name, deliver: memfd!.deliver!, reservationToken: r.reservationToken });
        return { response: { arena: encodeArena(result.arena) }, replayed: result.replayed };
      });
    }),

    CreateArenaPair: unary("CreateArenaPair", (caller, r) => {
      const sizeBytes = decodeUint64(r.sizeBytes, "size_bytes");
      const sharedBacking = MEMFD_BACKING.decode(r.sharedBacking, "shared_backing");
      const initialVisibility = PAGE_VISIBILITY.decode(r.initialVisibility, "initial_visibility");
      return withTokens(
        context,
        caller,
        [
          { bytes: r.gmemFdToken, expect: GMEM_TOKEN },
          { bytes: r.memfdFdToken, expect: MEMFD_RECEIVE_TOKEN },
        ],
        async ([gmem, memfd]) => {
          const result = await service.createArenaPair(caller, { requestId: r.requestId, gmemFd: gmem!.fd!, sizeBytes, sharedBacking, initialVisibility, name: r.name, deliver: memfd!.deliver! });
          return { response: { arena: encodeArena(result.arena) }, replayed: result.replayed };
        },
      );
    }),

    ReattachArena: unary("ReattachArena", (caller, r) =>
      withTokens(
        context,
        caller,
        [
          { bytes: r.gmemFdToken, expect: { field: "gmem_fd_token", direction: "send" }, optional: true },
          { bytes: r.memfdFdToken, expect: { field: "memfd_fd_token", direction: "send" }, optional: true },
        ],
        async ([gmem, memfd]) => {
          const result = await service.reattachArena(caller, {
            requestId: r.requestId,
            arenaId: r.arenaId,
            ...(gmem?.fd === undefined ? {} : { gmemFd: gmem.fd }),
            ...(memfd?.fd === undefined ? {} : { memfdFd: memfd.fd }),
          });
          return { response: { arena: encodeArena(result.arena) }, replayed: result.replayed };
        },
      ),
    ),

    DeleteArena: unary("DeleteArena", async (caller, r) => {
      const result = await service.deleteArena(caller, { requestId: r.requestId, arenaId: r.arenaId, releaseLeases: r.releaseLeases });
      return { response: { releasedLeaseCount: result.releasedLeaseCount, releasedUnitCount: result.releasedUnitCount }, replayed: result.replayed };
    }),

    HandOverArena: unary("HandOverArena", (caller, r) =>
      withTokens(context, caller, [{ bytes: r.ownerPidfdToken, expect: PIDFD_TOKEN }], async ([pidfd]) => {
        const result = await service.handOverArena(caller, { requestId: r.requestId, arenaId: r.arenaId, ownerPidfd: pidfd!.fd! });
        return { response: { arena: encodeArena(result.arena) }, replayed: result.replayed };
      }),
    ),

    GetArena: unary("GetArena", (caller, r) => ({ response: { arena: encodeArena(service.getArena(caller, r.arenaId)) } })),

    ListArenas: unary("ListArenas", (caller, r) => ({ response: { arenas: service.listArenas(caller, { allOwners: r.allOwners }).map(encodeArena) } })),

    Allocate: unary("Allocate", async (caller, r) => {
      const offsetBytes = r.offsetBytes === undefined ? undefined : decodeUint64(r.offsetBytes, "offset_bytes");
      const result = await service.allocate(caller, { requestId: r.requestId, arenaId: r.arenaId, unitCount: r.unitCount, label: r.label, ...(offsetBytes === undefined ? {} : { offsetBytes }) });
      return { response: { lease: encodeLease(result.lease) }, replayed: result.replayed };
    }),

    Release: unary("Release", async (caller, r) => {
      const result = await service.release(caller, { requestId: r.requestId, leaseId: r.leaseId });
      return { response: { releasedUnitCount: result.releasedUnitCount }, replayed: result.replayed };
    }),

    Discard: unary("Discard", async (caller, r) => {
      const result = await service.discard(caller, { requestId: r.requestId, arenaId: r.arenaId, offsetBytes: decodeUint64(r.offsetBytes, "offset_bytes"), lengthBytes: decodeUint64(r.lengthBytes, "length_bytes") });
      return {
        response: {
          punchedBytes: encodeUint64(result.punchedBytes),
          releasedUnitCount: result.releasedUnitCount,
          zeroedBytes: encodeUint64(result.zeroedBytes),
          deferredBytes: encodeUint64(result.deferredBytes),
          appliedPolicy: result.appliedPolicy === undefined ? DISCARD_POLICY.unspecified : DISCARD_POLICY.encode(result.appliedPolicy),
        },
        replayed: result.replayed,
      };
    }),

    Populate: unary("Populate", async (caller, r) => {
      const result = await service.populate(caller, { requestId: r.requestId, arenaId: r.arenaId, offsetBytes: decodeUint64(r.offsetBytes, "offset_bytes"), lengthBytes: decodeUint64(r.lengthBytes, "length_bytes") });
      return { response: { populatedUnitCount: result.populatedUnitCount, restoredBytes: encodeUint64(result.restoredBytes) }, replayed: result.replayed };
    }),

    Convert: unary("Convert", async (caller, r) => {
      const result = await service.convert(caller, {
        requestId: r.requestId,
        arenaId: r.arenaId,
        offsetBytes: decodeUint64(r.offsetBytes, "offset_bytes"),
        lengthBytes: decodeUint64(r.lengthBytes, "length_bytes"),
        toVisibility: PAGE_VISIBILITY.decode(r.toVisibility, "to_visibility"),
        mode: CONVERSION_MODE.decode(r.mode, "mode"),
        contentIntent: CONTENT_INTENT.decode(r.contentIntent, "content_intent"),
      });
      return {
        response: {
          convertedBytes: encodeUint64(result.convertedBytes),
          populatedUnitCount: result.populatedUnitCount,
          stalePunchedBytes: encodeUint64(result.stalePunchedBytes),
          staleReleasedUnitCount: result.staleReleasedUnitCount,
          collapsibleUnits: result.collapsibleUnits.map((u) => ({ firstUnit: u.firstUnit, unitCount: u.unitCount })),
        },
        replayed: result.replayed,
      };
    }),

    GetLease: unary("GetLease", (caller, r) => ({ response: { lease: encodeLease(service.getLease(caller, r.leaseId)) } })),

    ListLeases: unary("ListLeases", (caller, r) => ({ response: { leases: service.listLeases(caller, { arenaId: r.arenaId, allOwners: r.allOwners }).map(encodeLease) } })),

    GetFragmentationMap: unary("GetFragmentationMap", (caller, r) => {
      const map = service.getFragmentationMap(caller, { arenaId: r.arenaId, allOwners: r.allOwners });
      return {
        response: {
          arenas: map.arenas.map((a) => ({
            arenaId: a.arenaId,
            unitCount: a.unitCount,
            runs: a.runs.map((run) => ({ firstUnit: run.firstUnit, unitCount: run.unitCount, state: UNIT_STATE.encode(run.state), leaseId: run.leaseId })),
            largestFreeRunUnitCount: a.largestFreeRunUnitCount,
          })),
          reserve: {
            mode: RESERVE_MODE.encode(map.reserve.mode),
            freeUnitCount: map.reserve.freeUnitCount,
            largestFreeRunUnitCount: map.reserve.largestFreeRunUnitCount,
            freeRunCountsByOrder: [...map.reserve.freeRunCountsByOrder],
          },
          kernelBuddyZones: map.kernelBuddyZones.map((z) => ({ node: z.node, zone: z.zone, firstOrder: z.firstOrder, freeBlockCounts: z.freeBlockCounts.map((n) => encodeUint64(n)), freeBytes: encodeUint64(z.freeBytes) })),
          time: encodeTimestamp(map.time),
        },
      };
    }),

    GetPolicy: unary("GetPolicy", (caller) => {
      const view = service.getPolicy(caller);
      return { response: { poolPolicy: encodePolicy(view.poolPolicy), arenaOverrides: view.arenaOverrides.map(encodeArenaPolicyOverride) } };
    }),

    Watch: (call: ServerWritableStream<WatchRequest__Output, WatchResponse>) => {
      watches.serve(call);
    },
  };
}
