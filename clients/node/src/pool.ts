/**
 * `Pool`: everything a VMM or an operator asks of gmempool, as one interface. The gRPC client
 * (`PoolClient`) and the in-memory fake (`FakePoolClient`) both implement it, so a VMM types its
 * dependency as `Pool` and its unit tests run on the fake (the containerd model: the client
 * implements the same interface as the core).
 *
 * Every method rejects with a `PoolError` subclass (pool-errors.ts) carrying the error kind.
 * Every call has a deadline (the client's default, or `CallOptions.deadlineMs`).
 *
 * File descriptors: the caller keeps ownership of any fd it passes in (the client library dups
 * what it needs to keep); an fd the library returns (a memfd arena's) is the caller's to close.
 */
import type {
  Arena,
  Capabilities,
  ContentIntent,
  ConversionMode,
  ConvertResult,
  DeleteArenaResult,
  DiscardPolicy,
  DiscardResult,
  ForceReleaseResult,
  FragmentationMap,
  Lease,
  MemfdBacking,
  PageVisibility,
  PolicyView,
  PoolEvent,
  PoolEventKind,
  PoolStatus,
  QuotaUsage,
  PopulateResult,
  ReleaseResult,
  SetPolicyResult,
} from "./resources.ts";

export interface CallOptions {
  /** This call's deadline in milliseconds from now (default: the client's `deadlineMs`). */
  readonly deadlineMs?: number;
  /** Cancels the call: it rejects with CancelledError. */
  readonly signal?: AbortSignal;
  /**
   * Mutating calls only: the idempotency key (1–128 bytes of [A-Za-z0-9._:-]). The client
   * makes a fresh UUID per call when it is not given; pass your own to retry a call whose
   * outcome you do not know (a deadline, a daemon restart) and get the first result back.
   */
  readonly requestId?: string;
}

export interface RegisterGuestMemfdArenaRequest {
  /** The guest_memfd's size as created (a multiple of 2 MiB). */
  readonly sizeBytes: bigint;
  /** "shared" if it was created with GUEST_MEMFD_FLAG_INIT_SHARED, else "private". */
  readonly initialVisibility: PageVisibility;
  /** For operators, at most 64 bytes (e.g. the VM's name). */
  readonly name?: string;
  /** A reservation's token (in Kubernetes: $GMEMPOOL_RESERVATION_TOKEN): the arena draws on that claim's units. */
  readonly reservationToken?: string;
}

export interface CreateMemfdArenaRequest {
  readonly sizeBytes: bigint;
  /** Default "shmem". */
  readonly backing?: MemfdBacking;
  readonly name?: string;
  /** As in RegisterGuestMemfdArenaRequest. */
  readonly reservationToken?: string;
}

export interface CreateArenaPairRequest {
  readonly sizeBytes: bigint;
  /** What backs the shared side (default "shmem"). */
  readonly sharedBacking?: MemfdBacking;
  /** The side Allocate populates: "private" for SNP/TDX-like VMs, else "shared". */
  readonly initialVisibility: PageVisibility;
  readonly name?: string;
}

/** A memfd arena and the memfd the daemon delivered; the caller owns (and closes) `memfd`. */
export interface MemfdArena {
  readonly arena: Arena;
  readonly memfd: number;
}

/** A pair arena and its shared-side memfd; the caller owns (and closes) `memfd`. */
export interface ArenaPair {
  readonly arena: Arena;
  readonly memfd: number;
}

/** The fd(s) a DETACHED arena is given back: `gmemFd` for guest_memfd and pair arenas,
 * `memfd` (the one delivered at creation) for memfd and pair arenas. Borrowed. */
export interface ReattachFds {
  readonly gmemFd?: number;
  readonly memfd?: number;
}

export interface AllocateRequest {
  /** Units of 2 MiB, at least 1. */
  readonly unitCount: number;
  /** Placement: the lease's first byte, a multiple of 2 MiB. Default: the lowest free run that fits. */
  readonly offsetBytes?: bigint;
  /** For operators ("boot", "hotplug-1"), at most 64 bytes. */
  readonly label?: string;
}

/** A 4 KiB-aligned byte range of an arena. */
export interface ByteRange {
  readonly offsetBytes: bigint;
  readonly lengthBytes: bigint;
}

export interface ConvertRequest extends ByteRange {
  readonly toVisibility: PageVisibility;
  /** "in-place": the daemon issues KVM_SET_MEMORY_ATTRIBUTES2; "notify": the VMM converted. */
  readonly mode: ConversionMode;
  readonly contentIntent?: ContentIntent;
}

export interface ListRequest {
  /** Every owner's instead of the caller's (admin only). */
  readonly allOwners?: boolean;
}

export interface ListLeasesRequest extends ListRequest {
  /** Only this arena's leases. */
  readonly arenaId?: string;
}

export interface FragmentationMapRequest extends ListRequest {
  /** Only this arena. */
  readonly arenaId?: string;
}

export interface SetPolicyRequest {
  /** Absent: the pool-wide policy; else this arena's override. */
  readonly arenaId?: string;
  readonly discardPolicy?: DiscardPolicy;
  readonly punchGranularityBytes?: bigint;
  /** Pool-wide only. */
  readonly deferredCapBytes?: bigint;
  /** Pool-wide only: "reject" or "zero". */
  readonly deferredOverflowPolicy?: DiscardPolicy;
  /** With `arenaId`: drop the arena's override first. */
  readonly clearArenaOverride?: boolean;
}

/** What Admin.ForceRelease takes back: one lease, one arena, or every arena of one process. */
export type ForceReleaseTarget = { readonly leaseId: string } | { readonly arenaId: string } | { readonly ownerPid: number };

export interface WatchRequest {
  /** Only this arena's events (and pool status). */
  readonly arenaId?: string;
  /** Only these kinds ("pool-status" is always sent first). */
  readonly kinds?: readonly PoolEventKind[];
  /** Every owner's events (admin only). */
  readonly allOwners?: boolean;
}

/**
 * A Watch stream: `for await (const event of stream)`. The first event is a pool-status
 * snapshot. The loop ends when the daemon ends the stream normally (an arena filter whose arena
 * was deleted) or after `cancel()`; it throws the typed error the stream ended with otherwise
 * (UnavailableError when the daemon drains, ExhaustedError when the consumer fell behind).
 */
export interface WatchStream extends AsyncIterableIterator<PoolEvent> {
  /** Ends the stream; a pending `next()` resolves as done. */
  cancel(): void;
}

export interface Pool {
  getCapabilities(options?: CallOptions): Promise<Capabilities>;
  getPoolStatus(options?: CallOptions): Promise<PoolStatus>;
  /** The quotas (config `[[quotas]]`) that bind this process — every quota for an admin — with their use now (GetPoolStatus). */
  getQuotaUsage(options?: CallOptions): Promise<QuotaUsage[]>;

  /** Makes the caller's guest_memfd (borrowed; created on the caller's own VM) an arena. */
  registerGuestMemfdArena(gmemFd: number, request: RegisterGuestMemfdArenaRequest, options?: CallOptions): Promise<Arena>;
  /** Has the daemon create a memfd arena and deliver its fd. */
  createMemfdArena(request: CreateMemfdArenaRequest, options?: CallOptions): Promise<MemfdArena>;
  /** A confidential VM's pair: the caller's guest_memfd (borrowed) + a memfd the daemon creates. */
  createArenaPair(gmemFd: number, request: CreateArenaPairRequest, options?: CallOptions): Promise<ArenaPair>;
  /** Gives a DETACHED arena its fd(s) back after a daemon restart (the client does this itself
   * for arenas it made; see PoolClient's `autoReattach`). */
  reattachArena(arenaId: string, fds: ReattachFds, options?: CallOptions): Promise<Arena>;
  deleteArena(arenaId: string, request?: { readonly releaseLeases?: boolean }, options?: CallOptions): Promise<DeleteArenaResult>;
  /**
   * Makes the process of `ownerPidfd` (a pidfd, borrowed: `openPidfd(pid)`) the owner of the
   * caller's arena and its leases: they then live while THAT process does, and its exit frees
   * them. A launcher creates the arena and lease, spawns the VMM, hands the arena to it, and
   * only then may exit. The caller no longer owns (or sees) the arena afterwards.
   */
  handOverArena(arenaId: string, ownerPidfd: number, options?: CallOptions): Promise<Arena>;
  getArena(arenaId: string, options?: CallOptions): Promise<Arena>;
  listArenas(request?: ListRequest, options?: CallOptions): Promise<Arena[]>;

  allocate(arenaId: string, request: AllocateRequest, options?: CallOptions): Promise<Lease>;
  release(leaseId: string, options?: CallOptions): Promise<ReleaseResult>;
  discard(arenaId: string, range: ByteRange, options?: CallOptions): Promise<DiscardResult>;
  populate(arenaId: string, range: ByteRange, options?: CallOptions): Promise<PopulateResult>;
  convert(arenaId: string, request: ConvertRequest, options?: CallOptions): Promise<ConvertResult>;
  getLease(leaseId: string, options?: CallOptions): Promise<Lease>;
  listLeases(request?: ListLeasesRequest, options?: CallOptions): Promise<Lease[]>;

  getFragmentationMap(request?: FragmentationMapRequest, options?: CallOptions): Promise<FragmentationMap>;
  getPolicy(options?: CallOptions): Promise<PolicyView>;
  /** Admin only. */
  setPolicy(request: SetPolicyRequest, options?: CallOptions): Promise<SetPolicyResult>;
  /** Admin only. */
  forceRelease(target: ForceReleaseTarget, options?: CallOptions): Promise<ForceReleaseResult>;

  watch(request?: WatchRequest, options?: Pick<CallOptions, "signal">): WatchStream;

  /** Closes connections and the fds the client kept; pending calls reject with CancelledError. */
  close(): void;
}
