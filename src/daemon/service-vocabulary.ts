/**
 * The daemon service's vocabulary: who calls (identity) and the string unions its types use.
 * The unions and `Identity` are the API's (@gmempool/contract's vocabulary.ts and resources.ts,
 * whose codec maps them to the proto enums); what is the daemon's own is here. Conventions:
 * pool-service.ts.
 */
import type { DiscardPolicy, Identity } from "@gmempool/contract";

export type {
  ArenaKind,
  ArenaState,
  ContentIntent,
  ConversionMode,
  DiscardPolicy,
  FdType,
  Identity,
  MemfdBacking,
  PageVisibility,
  PolicySource,
  PoolEventKind,
  ReleaseReason,
  ReserveMode,
  ServingState,
  UnitState,
} from "@gmempool/contract";

// ================================================================================== identity

/** The process on the other end of a socket, as the kernel reports it (SO_PEERCRED). */
export interface PeerCredentials {
  readonly uid: number;
  readonly gid: number;
  readonly pid: number;
}

/**
 * Who is calling. Made by `PoolService.identify(peer)` once per connection (or per call).
 * `identity` is the owner key arenas and leases are recorded under ("uid:pid:startTimeTicks");
 * it survives daemon restarts because it names the process, not the connection.
 */
export interface Caller extends Identity {
  readonly identity: string;
  /** The caller's uid or gid is in the configured admin list. */
  readonly isAdmin: boolean;
}

// ================================================================================== vocabulary

/** What DEFER becomes while the deferred cap is reached (admin.proto SetPolicy: REJECT or ZERO). */
export type DeferredOverflowPolicy = Extract<DiscardPolicy, "reject" | "zero">;
