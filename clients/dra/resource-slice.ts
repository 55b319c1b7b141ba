/**
 * The node's pool as a ResourceSlice (resource.k8s.io/v1, Kubernetes 1.34+): one device,
 * "memory", with consumable capacity (KEP-5075: `allowMultipleAllocations`, a `memory`
 * capacity and its request policy — default, minimum and step 2 MiB), so that many claims share
 * it and the scheduler subtracts what each consumes. One device per NUMA node only if the pool
 * were split by node; it is not (one pool per host today), so there is one.
 *
 * The capacity published is what claims may have in all: the free units plus every
 * reservation's size (the scheduler itself subtracts the claims it allocated — prepared ones
 * are reserved or in their arena, so counting them again would hide them twice). Units leased
 * outside any claim (VMMs not scheduled through Kubernetes) are not in it: that is what keeps
 * the figure true on a shared host.
 */
/* eslint-disable @typescript-eslint/no-unsafe-class-instance-assignment --
   client-node's models are classes without behaviour; its ObjectSerializer reads their fields by
   attribute map, so a plain object serializes exactly like an instance (checked by
   slice-publisher.test.ts against the bodies on the wire). */
import type { V1ResourceSlice } from "@kubernetes/client-node";

export const DEVICE_NAME = "memory";
export const UNIT_QUANTITY = "2Mi";
const UNIT_BYTES = 2n * 1024n * 1024n;

export interface SliceInputs {
  readonly driver: string;
  readonly nodeName: string;
  /** Bumped on every change (ResourcePool.generation: newer slices win). */
  readonly generation: number;
  /** free units + Σ reservation sizes, in 2 MiB units. */
  readonly claimableUnits: number;
}

export function sliceName(driver: string, nodeName: string): string {
  return `${nodeName}-${driver}`.replace(/[^a-z0-9.-]/g, "-");
}

export function resourceSliceFor(i: SliceInputs): V1ResourceSlice {
  return {
    apiVersion: "resource.k8s.io/v1",
    kind: "ResourceSlice",
    metadata: { name: sliceName(i.driver, i.nodeName) },
    spec: {
      driver: i.driver,
      nodeName: i.nodeName,
      pool: { name: i.nodeName, generation: i.generation, resourceSliceCount: 1 },
      devices: [{
        name: DEVICE_NAME,
        allowMultipleAllocations: true,
        capacity: {
          memory: {
            value: `${BigInt(i.claimableUnits) * UNIT_BYTES}`,
            requestPolicy: { _default: UNIT_QUANTITY, validRange: { min: UNIT_QUANTITY, step: UNIT_QUANTITY } },
          },
        },
      }],
    },
  };
}
