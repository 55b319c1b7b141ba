/**
 * Replays a trace against one discipline: a `Pool` with that discipline's policy, driven the way
 * the daemon will drive it (plan -> every kernel step succeeds -> commit).
 *
 * - arrive: register the VM's arena (a single memfd, or a gmem + memfd pair for a confidential
 *   VM, booted private) and allocate one lease over all of it. If the pool has not enough free
 *   units the arrival is rejected, and the VM's later events are skipped.
 * - depart: release the lease, unregister the arena.
 * - discard: `discard` the range. When the policy refuses it (gmempool past its deferred cap;
 *   hugetlb-zero on private pages, which the host cannot zero), the whole 2 MiB units inside the
 *   range are still punched and the rest is counted as refused — what a VMM would do.
 * - reuse: `populate` the range. convert: `convert` in mode notify (the VMM converted).
 * An operation that needs units the pool does not have (a reuse of punched memory, a conversion
 * that populates the other side) fails with ExhaustedError and is counted.
 *
 * Kernel calls are the plan steps issued (populate, punch, zero).
 */
import {
  ExhaustedError,
  FailedPreconditionError,
  PAGE_BYTES,
  Pool,
  UNIT_BYTES,
  fragmentationReport,
  type Plan,
  type PoolFragmentation,
} from "../../src/pool/index.ts";
import type { Discipline, DisciplineName } from "./disciplines.ts";
import { physicalFragmentation, type PhysicalFragmentation } from "./physical.ts";
import type { Trace, TraceEvent } from "./trace.ts";

export interface Sample {
  readonly step: number;
  /** From `fragmentationReport`. */
  readonly intactFreeFraction: number;
  /** Units with mixed page state (the core's split units, each with a bitmap). */
  readonly splitUnits: number;
  /** Side-units with 4 KiB holes punched inside (see physical.ts). */
  readonly brokenUnits: number;
  readonly intactFreeFractionWithPairs: number;
  readonly staleBytes: number;
  readonly deferredBytes: number;
  readonly freeUnits: number;
  readonly rejectedArrivals: number;
  readonly kernelCalls: number;
}

export interface ReplayCounters {
  arrivals: number;
  rejectedArrivals: number;
  /** Events of VMs that were rejected on arrival (not replayed). */
  skippedEvents: number;
  /** Bytes the guests discarded (requested). */
  discardedBytes: number;
  /** Bytes punched by discard plans: memory the discards returned to the host. */
  returnedBytes: number;
  /** Populate steps in discard plans (see docs/fragmentation.md, "Known issues"). */
  discardPopulates: number;
  /** Discarded bytes the policy refused (cap reached) or could not zero (private pages). */
  refusedBytes: number;
  zeroedBytes: number;
  /** Reuses and conversions that failed because the pool had no free unit. */
  exhaustedOps: number;
  /** Stale copies freed by conversions (punch steps of convert plans). */
  staleFreedBytes: number;
  kernelCalls: number;
  readonly kernelCallsByOp: Record<string, number>;
}

export interface ReplayResult {
  readonly discipline: DisciplineName;
  readonly counters: ReplayCounters;
  readonly final: PoolFragmentation;
  readonly physical: PhysicalFragmentation;
  readonly samples: readonly Sample[];
  readonly pool: Pool;
}

export interface ReplayOptions {
  /** Take a sample every this many steps (and at the end). */
  readonly sampleEvery: number;
  /** Check every invariant of the pool after every event (slow: for tests). */
  readonly checkInvariants?: boolean;
}

interface VmState {
  readonly owner: string;
  readonly arenaId: string;
  readonly leaseId: string;
}

export function replay(trace: Trace, discipline: Discipline, options: ReplayOptions): ReplayResult {
  const pool = new Pool({ capacityUnits: trace.params.poolUnits, policy: discipline.policy });
  const vms = new Map<number, VmState>();
  const rejected = new Set<number>();
  const counters: ReplayCounters = {
    arrivals: 0, rejectedArrivals: 0, skippedEvents: 0, discardedBytes: 0, returnedBytes: 0, discardPopulates: 0, refusedBytes: 0,
    zeroedBytes: 0, exhaustedOps: 0, staleFreedBytes: 0, kernelCalls: 0, kernelCallsByOp: {},
  };
  const samples: Sample[] = [];

  const run = (plan: Plan): Plan => {
    counters.kernelCalls += plan.steps.length;
    for (const step of plan.steps) counters.kernelCallsByOp[step.op] = (counters.kernelCallsByOp[step.op] ?? 0) + 1;
    pool.commit(plan.id);
    return plan;
  };
  const sample = (step: number): void => {
    const report = fragmentationReport(pool, { withoutMaps: true });
    const physical = physicalFragmentation(pool);
    samples.push({
      step,
      intactFreeFraction: report.intactFreeFraction,
      splitUnits: report.splitUnits,
      brokenUnits: physical.brokenUnits,
      intactFreeFractionWithPairs: physical.intactFreeFraction,
      staleBytes: report.staleBytes,
      deferredBytes: report.deferredBytes,
      freeUnits: report.freeUnits,
      rejectedArrivals: counters.rejectedArrivals,
      kernelCalls: counters.kernelCalls,
    });
  };

  const discard = (vm: VmState, offsetBytes: number, lengthBytes: number): void => {
    counters.discardedBytes += lengthBytes;
    let plan: Plan;
    try {
      plan = run(pool.discard(vm.owner, { leaseId: vm.leaseId, offsetBytes, lengthBytes }));
    } catch (error) {
      if (!(error instanceof FailedPreconditionError)) throw error;
      const innerStart = Math.ceil(offsetBytes / UNIT_BYTES) * UNIT_BYTES;
      const innerEnd = Math.floor((offsetBytes + lengthBytes) / UNIT_BYTES) * UNIT_BYTES;
      counters.refusedBytes += lengthBytes - Math.max(0, innerEnd - innerStart);
      if (innerStart >= innerEnd) return;
      plan = run(pool.discard(vm.owner, { leaseId: vm.leaseId, offsetBytes: innerStart, lengthBytes: innerEnd - innerStart }));
    }
    for (const step of plan.steps) {
      if (step.op === "punch") counters.returnedBytes += step.bytes.end - step.bytes.start;
      if (step.op === "populate") counters.discardPopulates++;
    }
    counters.zeroedBytes += plan.discard?.zeroedBytes ?? 0;
  };

  const apply = (event: TraceEvent): void => {
    if (event.kind === "arrive") {
      counters.arrivals++;
      const owner = `vm-${event.vm}`;
      const arena = pool.registerArena(owner, { sizeBytes: event.units * UNIT_BYTES, files: event.confidential ? ["guest_memfd", "memfd"] : ["memfd"] });
      try {
        const plan = run(pool.allocate(owner, { arenaId: arena.id, unitCount: event.units, initiallyPrivate: event.confidential }));
        vms.set(event.vm, { owner, arenaId: arena.id, leaseId: plan.leaseId });
      } catch (error) {
        if (!(error instanceof ExhaustedError)) throw error;
        pool.unregisterArena(owner, arena.id);
        counters.rejectedArrivals++;
        rejected.add(event.vm);
      }
      return;
    }
    const vm = vms.get(event.vm);
    if (vm === undefined) {
      if (!rejected.has(event.vm)) throw new Error(`trace event for unknown VM ${event.vm}`);
      counters.skippedEvents++;
      if (event.kind === "depart") rejected.delete(event.vm);
      return;
    }
    switch (event.kind) {
      case "depart":
        run(pool.release(vm.owner, vm.leaseId));
        pool.unregisterArena(vm.owner, vm.arenaId);
        vms.delete(event.vm);
        return;
      case "discard":
        discard(vm, event.page * PAGE_BYTES, event.pages * PAGE_BYTES);
        return;
      case "reuse":
      case "convert":
        try {
          const range = { leaseId: vm.leaseId, offsetBytes: event.page * PAGE_BYTES, lengthBytes: event.pages * PAGE_BYTES };
          if (event.kind === "reuse") {
            run(pool.populate(vm.owner, range));
          } else {
            const plan = run(pool.convert(vm.owner, { ...range, toPrivate: event.toPrivate, mode: "notify" }));
            for (const step of plan.steps) if (step.op === "punch") counters.staleFreedBytes += step.bytes.end - step.bytes.start;
          }
        } catch (error) {
          if (!(error instanceof ExhaustedError)) throw error;
          counters.exhaustedOps++;
        }
        return;
    }
  };

  let nextSample = 0;
  for (const event of trace.events) {
    while (event.step >= nextSample) {
      sample(nextSample);
      nextSample += options.sampleEvery;
    }
    apply(event);
    if (options.checkInvariants === true) pool.assertInvariants();
  }
  sample(trace.params.steps);
  return { discipline: discipline.name, counters, final: fragmentationReport(pool, { withoutMaps: true }), physical: physicalFragmentation(pool), samples, pool };
}
