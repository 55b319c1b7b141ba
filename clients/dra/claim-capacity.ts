/**
 * What a prepared claim asks of the pool: NodePrepareResources names a claim only (namespace,
 * name, UID), so the plugin reads the ResourceClaim (resource.k8s.io/v1) and sums what the
 * scheduler allocated from this driver's devices: each allocation result's
 * `consumedCapacity.memory` (KEP-5075 consumable capacity), rounded up to whole 2 MiB units.
 * A result of ours without it (a scheduler without consumable capacity) is refused, naming the
 * claim: it cannot be sized, and guessing "the whole device" would over-reserve the node.
 */
import type { ResourceV1ResourceClaim } from "@kubernetes/client-node";
import { quantityBytes, roundUpToUnits } from "./quantity.ts";

export interface ClaimDemand {
  /** Bytes to reserve, a multiple of 2 MiB. */
  readonly sizeBytes: bigint;
  /** The claim's requests our devices serve, and the pool / device they came from. */
  readonly results: readonly { readonly request: string; readonly pool: string; readonly device: string }[];
}

export function claimDemand(claim: ResourceV1ResourceClaim, driver: string, expectedUid: string): ClaimDemand {
  const what = `ResourceClaim ${claim.metadata?.namespace ?? "?"}/${claim.metadata?.name ?? "?"}`;
  if (claim.metadata?.uid !== expectedUid) throw new Error(`${what} has UID ${claim.metadata?.uid ?? "(none)"}, kubelet asked for ${expectedUid} (recreated?)`);
  const allocation = claim.status?.allocation;
  if (allocation === undefined) throw new Error(`${what} is not allocated`);
  const ours = (allocation.devices?.results ?? []).filter((r) => r.driver === driver);
  if (ours.length === 0) throw new Error(`${what} has no device of driver ${driver}`);
  let bytes = 0n;
  for (const r of ours) {
    const memory = r.consumedCapacity?.["memory"];
    if (memory === undefined) throw new Error(`${what}: request "${r.request}" consumed no "memory" capacity of ${r.pool}/${r.device} (the scheduler must support consumable capacity)`);
    bytes += quantityBytes(memory);
  }
  if (bytes === 0n) throw new Error(`${what} consumes 0 bytes of memory`);
  return { sizeBytes: roundUpToUnits(bytes), results: ours.map((r) => ({ request: r.request, pool: r.pool, device: r.device })) };
}
