/**
 * What the daemon service reports (arenas, leases, status, capabilities, maps) and how fds
 * cross its boundary. The resources are the API's (@gmempool/contract's resources.ts, one
 * definition for the daemon and the client library); here are the daemon's names for two of
 * them and what is the daemon's own. Conventions: pool-service.ts.
 */
import type { Fd } from "@gmempool/sys";
import type { Arena, Capabilities, FdType, Lease } from "@gmempool/contract";

// ================================================================================== resources

export type {
  ArenaPolicyOverride,
  ArenaUnitMap,
  BuddyZone,
  FragmentationMap,
  KernelFeature,
  Policy,
  PolicyView,
  PoolStatus,
  QuotaUsage,
  ReserveMap,
  UnitRun,
} from "@gmempool/contract";

/**
 * The contract's `Arena` and `Lease` resources. In the daemon the bare names are the core's
 * classes (src/pool: the records the resources are views of, resource-views.ts), so the
 * resources go by these.
 */
export type ArenaInfo = Arena;
export type LeaseInfo = Lease;

/** The transport's part of GetCapabilitiesResponse: the fd channel's parameters and the message size limit. */
export type TransportCapabilityField = "fdSocketPath" | "fdChannelVersion" | "fdTokenTtlMs" | "maxPendingFdTokens" | "maxRequestMessageBytes";

/** The daemon's part of GetCapabilitiesResponse; the server adds the transport's own. */
export type DaemonCapabilities = Omit<Capabilities, TransportCapabilityField>;

// ================================================================================== fds

/**
 * How an fd leaves the daemon (CreateMemfdArena, CreateArenaPair): the server passes a
 * `deliver` callback bound to the RECEIVE_FD token's channel connection. The daemon creates the
 * memfd, sizes it, calls `deliver` ONCE before it makes the arena durable, and:
 * - `fd` is BORROWED by the callback: the daemon keeps its own copy and closes it when the
 *   arena goes; the callback must only send it (SCM_RIGHTS duplicates it) and not close it;
 * - if `deliver` rejects (connection gone, buffer full), the daemon closes the memfd, creates
 *   nothing and throws failed-precondition with the callback's message;
 * - on an idempotent replay of a create whose arena still exists, the daemon calls `deliver`
 *   again with the arena's memfd so the retrying client gets the fd on its new token.
 */
export type FdDelivery = (fd: Fd, info: { readonly fdType: FdType; readonly sizeBytes: bigint }) => Promise<void>;

/**
 * The systemd file-descriptor store (DESIGN.md §7), implemented by the composition root with
 * sd_notify "FDSTORE=1\nFDNAME=<name>" / "FDSTOREREMOVE=1\nFDNAME=<name>". The daemon stores
 * every arena file it keeps under `arenaFdName(arenaId, side)` and removes it when the arena
 * goes; after a restart it gets them back through `PoolManagerOptions.inheritedFds`, so arenas
 * come back ACTIVE instead of DETACHED. `fd` is borrowed (sendmsg duplicates it). Must not throw.
 */
export interface ArenaFdStore {
  store(name: string, fd: Fd): void;
  remove(name: string): void;
}

/** FDNAME of an arena file in the fd store: [A-Za-z0-9._-], no ':' (sd_pid_notify_with_fds). */
export function arenaFdName(arenaId: string, side: number): string {
  return `gmempool.${arenaId}.${side}`;
}

/** What a received fd is, for the fd channel's SEND_FD_REPLY. */
export interface FdInspection {
  readonly fdType: FdType;
  readonly sizeBytes: bigint;
}
