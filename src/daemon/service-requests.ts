/**
 * The requests and results of the daemon service's RPCs: the requests as the service takes them
 * (fds resolved, enums decoded, UNSPECIFIED as undefined), the results as the API's
 * (@gmempool/contract's results.ts) plus `replayed`. Conventions: pool-service.ts.
 */
import type { Fd } from "@gmempool/sys";
import type * as api from "@gmempool/contract";
import type { ContentIntent, ConversionMode, DeferredOverflowPolicy, DiscardPolicy, MemfdBacking, PageVisibility } from "./service-vocabulary.ts";
import type { ArenaInfo, FdDelivery, LeaseInfo } from "./service-resources.ts";

// ================================================================================== requests

export interface MutatingRequest {
  /** "" = no idempotency; else 1..128 bytes of [A-Za-z0-9._:-]. */
  readonly requestId: string;
}

/** Every mutating result carries whether it was replayed from the idempotency record. */
export interface MutatingResult {
  readonly replayed: boolean;
}

export interface RegisterGuestMemfdArenaRequest extends MutatingRequest {
  /**
   * The guest_memfd received on the fd channel for the request's token. BORROWED: the daemon
   * checks it (identify: a guest_memfd of `sizeBytes`, no arena's file), and on success keeps
   * its OWN dup (F_DUPFD_CLOEXEC), closed when the arena is deleted or its owner exits. The
   * server keeps ownership of this number either way: it closes it when the token is consumed
   * (success) or revoked/expired (a failed call leaves the token pending for a corrected retry).
   */
  readonly gmemFd: Fd;
  readonly sizeBytes: bigint;
  /** Required: `undefined` (UNSPECIFIED) is invalid-argument. */
  readonly initialVisibility: PageVisibility | undefined;
  readonly name: string;
  /** A reservation's token ("" = none): the arena draws on that claim's units (issue 11). */
  readonly reservationToken?: string;
}

export interface CreateMemfdArenaRequest extends MutatingRequest {
  readonly sizeBytes: bigint;
  readonly backing: MemfdBacking | undefined;
  readonly name: string;
  /** As in RegisterGuestMemfdArenaRequest. */
  readonly reservationToken?: string;
  /** Sends the memfd on the RECEIVE_FD token's connection; see `FdDelivery`. */
  readonly deliver: FdDelivery;
}

export interface CreateArenaPairRequest extends MutatingRequest {
  /** BORROWED, as in RegisterGuestMemfdArenaRequest. */
  readonly gmemFd: Fd;
  readonly sizeBytes: bigint;
  readonly sharedBacking: MemfdBacking | undefined;
  readonly initialVisibility: PageVisibility | undefined;
  readonly name: string;
  /** Sends the shared-side memfd; see `FdDelivery`. */
  readonly deliver: FdDelivery;
}

export interface ReattachArenaRequest extends MutatingRequest {
  readonly arenaId: string;
  /** BORROWED (the daemon keeps a dup on success). Required for guest_memfd and pair arenas. */
  readonly gmemFd?: Fd;
  /** BORROWED (the daemon keeps a dup on success). Required for memfd and pair arenas. */
  readonly memfdFd?: Fd;
}

export interface ArenaResult extends MutatingResult {
  readonly arena: ArenaInfo;
}

export interface DeleteArenaRequest extends MutatingRequest {
  readonly arenaId: string;
  readonly releaseLeases: boolean;
}

export interface DeleteArenaResult extends MutatingResult, api.DeleteArenaResult {}

export interface HandOverArenaRequest extends MutatingRequest {
  readonly arenaId: string;
  /** BORROWED: a pidfd of the process that is to own the arena (the daemon keeps a dup). */
  readonly ownerPidfd: Fd;
}

export interface AllocateRequest extends MutatingRequest {
  readonly arenaId: string;
  readonly unitCount: number;
  /** Placement, a multiple of 2 MiB (and of the punch granularity); absent: lowest fit. */
  readonly offsetBytes?: bigint;
  readonly label: string;
}

export interface AllocateResult extends MutatingResult {
  readonly lease: LeaseInfo;
}

export interface ReleaseRequest extends MutatingRequest {
  readonly leaseId: string;
}

export interface ReleaseResult extends MutatingResult, api.ReleaseResult {}

/** A 4 KiB-aligned range of an arena, possibly spanning several of the caller's leases. */
export interface ArenaRangeRequest extends MutatingRequest {
  readonly arenaId: string;
  readonly offsetBytes: bigint;
  readonly lengthBytes: bigint;
}

export interface DiscardResult extends MutatingResult, api.DiscardResult {}

export interface PopulateResult extends MutatingResult, api.PopulateResult {}

export interface ConvertRequest extends ArenaRangeRequest {
  readonly toVisibility: PageVisibility | undefined;
  readonly mode: ConversionMode | undefined;
  /** undefined: no requirement (the platform's behaviour). */
  readonly contentIntent: ContentIntent | undefined;
}

export interface ConvertResult extends MutatingResult, api.ConvertResult {}

export interface ListRequest {
  /** Every owner's instead of the caller's: admin only, else permission-denied. */
  readonly allOwners: boolean;
}

export interface ListLeasesRequest extends ListRequest {
  /** "" for every arena. */
  readonly arenaId: string;
}

export interface GetFragmentationMapRequest extends ListRequest {
  /** "" for every arena the caller can see. */
  readonly arenaId: string;
}

/** A policy change: only the fields present change. Also what a config reload applies. */
export interface PolicyUpdate {
  readonly discardPolicy?: DiscardPolicy;
  readonly punchGranularityBytes?: bigint;
  readonly deferredCapBytes?: bigint;
  readonly deferredOverflowPolicy?: DeferredOverflowPolicy;
}

export interface SetPolicyRequest extends MutatingRequest, PolicyUpdate {
  /** "" = the pool-wide policy; else this arena's override. */
  readonly arenaId: string;
  readonly clearArenaOverride: boolean;
}

export interface SetPolicyResult extends MutatingResult, api.SetPolicyResult {}

export type ForceReleaseTarget =
  | { readonly kind: "lease"; readonly leaseId: string }
  | { readonly kind: "arena"; readonly arenaId: string }
  | { readonly kind: "owner-pid"; readonly pid: number };

export interface ForceReleaseRequest extends MutatingRequest {
  /** undefined (no oneof member set) is invalid-argument. */
  readonly target: ForceReleaseTarget | undefined;
}

export interface ForceReleaseResult extends MutatingResult, api.ForceReleaseResult {}
