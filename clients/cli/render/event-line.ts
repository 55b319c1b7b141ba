/**
 * One Watch event as one line of text (`gmempool watch`): time, sequence, kind, then what
 * changed. The switch is exhaustive, so a new event kind fails the build until it has a line.
 */
import type { ArenaPolicyOverride, Policy, PoolEvent } from "../../node/src/resources.ts";
import { formatBytes } from "../../node/src/units.ts";
import { unitsText } from "./frag-summary.ts";
import { identityText } from "./identity-text.ts";

function range(arenaId: string, offsetBytes: bigint, lengthBytes: bigint): string {
  return `arena ${arenaId} [0x${offsetBytes.toString(16)}, +${formatBytes(lengthBytes)})`;
}

function policyText(policy: Policy, override: ArenaPolicyOverride | undefined): string {
  const pool = `pool: discard ${policy.discardPolicy}, granularity ${formatBytes(policy.punchGranularityBytes)}, deferred cap ${formatBytes(policy.deferredCapBytes)}, overflow ${policy.deferredOverflowPolicy}`;
  if (override === undefined) return pool;
  const discard = override.discardPolicy ?? "pool's";
  const granularity = override.punchGranularityBytes === undefined ? "pool's" : formatBytes(override.punchGranularityBytes);
  return `${pool}; arena ${override.arenaId}: discard ${discard}, granularity ${granularity}`;
}

function describe(event: PoolEvent): string {
  switch (event.kind) {
    case "pool-status": {
      const s = event.status;
      return `${s.servingState}: free ${s.freeUnitCount}, claimed ${s.claimedUnitCount}, leased ${s.leasedUnitCount} of ${s.capacityUnitCount} units; largest free run ${s.largestFreeRunUnitCount}, split ${s.splitUnitCount}, deferred ${formatBytes(s.deferredBytes)}`;
    }
    case "arena-created":
      return `arena ${event.arena.arenaId} "${event.arena.name}" ${event.arena.kind} ${formatBytes(event.arena.sizeBytes)} by ${identityText(event.arena.owner)}`;
    case "arena-state-changed":
      return `arena ${event.arena.arenaId} is ${event.arena.state}`;
    case "arena-deleted":
      return `arena ${event.arenaId} (${event.reason}): ${event.releasedLeaseCount} leases, ${unitsText(event.releasedUnitCount)} released`;
    case "lease-allocated":
      return `lease ${event.lease.leaseId} "${event.lease.label}" ${range(event.lease.arenaId, event.lease.offsetBytes, event.lease.lengthBytes)} ${unitsText(event.lease.unitCount)}`;
    case "lease-released":
      return `lease ${event.leaseId} of arena ${event.arenaId} (${event.reason}): ${unitsText(event.releasedUnitCount)} released`;
    case "range-discarded":
      return `${range(event.arenaId, event.offsetBytes, event.lengthBytes)}: punched ${formatBytes(event.punchedBytes)} (${event.releasedUnitCount} units released), zeroed ${formatBytes(event.zeroedBytes)}, deferred ${formatBytes(event.deferredBytes)}`;
    case "range-populated":
      return `${range(event.arenaId, event.offsetBytes, event.lengthBytes)}: ${event.populatedUnitCount} units populated`;
    case "range-converted":
      return `${range(event.arenaId, event.offsetBytes, event.lengthBytes)} -> ${event.toVisibility} (${event.mode})`;
    case "policy-changed":
      return `by ${event.source}: ${policyText(event.poolPolicy, event.arenaOverride)}`;
    case "owner-exited":
      return `${identityText(event.owner)}: ${event.deletedArenaCount} arenas deleted, ${event.releasedLeaseCount} leases and ${unitsText(event.releasedUnitCount)} released`;
    case "deferred-cap-reached":
      return `deferred ${formatBytes(event.deferredBytes)} reached the cap of ${formatBytes(event.deferredCapBytes)}; sub-granule discards now ${event.overflowPolicy}`;
  }
}

export function eventLine(event: PoolEvent): string {
  const time = event.time === undefined ? "-" : event.time.toISOString();
  return `${time} #${event.sequence} ${event.kind} ${describe(event)}\n`;
}
