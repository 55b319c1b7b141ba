/**
 * Policy changes as the daemon's pool core validates them (Pool.setPolicy, setArenaPolicy): a
 * granularity 4 KiB or a power-of-two multiple of 2 MiB up to 1 GiB, a deferred cap in whole
 * pages, and every arena and lease the new granularity would govern must be whole blocks of it.
 */
import { FailedPreconditionError, InvalidArgumentError } from "../pool-errors.ts";
import type { SetPolicyRequest } from "../pool.ts";
import type { Policy } from "../resources.ts";
import { PAGE_BYTES, UNIT_BYTES } from "../units.ts";
import { exactSize } from "./daemon-text.ts";
import type { FakePoolState } from "./fake-pool-state.ts";
import type { FakeArena } from "./fake-records.ts";
import { safeNumber, validateGranularity } from "./request-checks.ts";

/** The pool policy after `request` (fields present replace the current ones), checked. */
export function nextPoolPolicy(state: FakePoolState, request: SetPolicyRequest): Policy {
  const current = state.policy;
  const next: Policy = {
    discardPolicy: request.discardPolicy ?? current.discardPolicy,
    punchGranularityBytes: request.punchGranularityBytes === undefined ? current.punchGranularityBytes : safeNumber(request.punchGranularityBytes, "punch_granularity_bytes"),
    deferredCapBytes: request.deferredCapBytes === undefined ? current.deferredCapBytes : safeNumber(request.deferredCapBytes, "deferred_cap_bytes"),
    deferredOverflowPolicy: request.deferredOverflowPolicy ?? current.deferredOverflowPolicy,
  };
  validateGranularity(next.punchGranularityBytes);
  if (next.deferredCapBytes % PAGE_BYTES !== 0n) throw new InvalidArgumentError(`deferred cap ${next.deferredCapBytes} is not a multiple of 4 KiB`);
  for (const arena of state.arenas.values()) {
    if (arena.policy.punchGranularityBytes === undefined) requireFitsGranularity(arena, next.punchGranularityBytes);
  }
  return next;
}

/** An arena and its leases must be whole blocks of a granularity that would govern it. */
export function requireFitsGranularity(arena: FakeArena, granularity: bigint): void {
  const blockUnits = Number((granularity > UNIT_BYTES ? granularity : UNIT_BYTES) / UNIT_BYTES);
  if (arena.unitCount % blockUnits !== 0) throw new FailedPreconditionError(`arena "${arena.id}" of ${arena.unitCount} units is not a multiple of ${exactSize(granularity)}`);
  for (const lease of arena.leases.values()) {
    if (lease.firstUnit % blockUnits !== 0 || lease.unitCount % blockUnits !== 0) {
      throw new FailedPreconditionError(`lease "${lease.id}" (units ${lease.firstUnit}+${lease.unitCount}) of arena "${arena.id}" is not aligned to ${exactSize(granularity)}`);
    }
  }
}
