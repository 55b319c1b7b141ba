/**
 * The steps both modes take with the daemon: ask what it can do, allocate a lease (and push its
 * release onto the teardown), and give memory back with Discard. Each checks what it can see
 * for itself in the arena's file: that the daemon populated a lease (the file's allocated size,
 * where the file reports one) and that it punched a discarded unit (pages the VMM had written
 * are gone from memory, mincore).
 *
 * `allocatedBytes` is how much of the file is allocated (fstat st_blocks), for a memfd; it is
 * undefined for a guest_memfd, whose st_blocks is always 0 (KERNEL.md §3: the daemon keeps its
 * own record because the kernel shows none).
 */
import type { ByteRange } from "../../node/src/pool.ts";
import { isPoolError } from "../../node/src/pool-errors.ts";
import type { Arena, Capabilities, DiscardResult, Lease } from "../../node/src/resources.ts";
import { formatBytes, UNIT_BYTES } from "../../node/src/units.ts";
import type { HostMapping } from "./host-mapping.ts";
import { leaseBytes, type LeasePlan } from "./memory-plan.ts";
import type { Refusal } from "./vmm-summary.ts";
import { hex, units, type VmmContext } from "./vmm-context.ts";

/**
 * A refusal the VMM reports and goes on from (a policy that rejects sub-unit discards, a
 * conversion mode this daemon or kernel lacks), or undefined for any other error, which ends the
 * run.
 */
export function asRefusal(error: unknown): Refusal | undefined {
  if (!isPoolError(error)) return undefined;
  if (error.kind !== "failed-precondition" && error.kind !== "unimplemented") return undefined;
  return { kind: error.kind, message: error.details };
}

export async function askCapabilities(ctx: VmmContext): Promise<Capabilities> {
  const { pool, log } = ctx;
  log.step("ask the daemon what it can do");
  const capabilities = await pool.getCapabilities();
  const status = await pool.getPoolStatus();
  log.note(`gmempool ${capabilities.daemonVersion}, reserve mode ${capabilities.reserveMode}, arena kinds ${capabilities.arenaKinds.join(", ")}, conversion modes ${capabilities.conversionModes.join(", ")}`);
  log.note(`the pool: ${status.freeUnitCount} of ${status.capacityUnitCount} units free; this process is pid ${capabilities.caller.pid} to the daemon`);
  log.check("unit-size", capabilities.unitBytes === UNIT_BYTES, `the daemon's unit is ${formatBytes(capabilities.unitBytes)}`);
  return capabilities;
}

/** Allocates `plan` in `arena` at its planned offset; its release goes onto the teardown. */
export async function allocateLease(ctx: VmmContext, arena: Arena, plan: LeasePlan, allocatedBytes?: () => bigint): Promise<Lease> {
  const { pool, log, summary } = ctx;
  log.step(`allocate ${plan.label}: ${plan.unitCount} units (${formatBytes(leaseBytes(plan))}) at offset ${hex(plan.offsetBytes)}`);
  const before = allocatedBytes?.();
  const lease = await pool.allocate(arena.arenaId, { unitCount: plan.unitCount, offsetBytes: plan.offsetBytes, label: plan.label });
  ctx.cleanup.push(`release ${plan.label}`, async () => {
    const released = await pool.release(lease.leaseId);
    summary.releasedUnitCount += released.releasedUnitCount;
    log.note(`released ${plan.label} (${lease.leaseId}): ${units(released.releasedUnitCount)} back to the pool`);
  });
  summary.leases.push({ label: plan.label, leaseId: lease.leaseId, offsetBytes: lease.offsetBytes, unitCount: lease.unitCount });
  log.note(`lease ${lease.leaseId}: bytes [${hex(lease.offsetBytes)}, ${hex(lease.offsetBytes + lease.lengthBytes)})`);
  log.check(`${plan.label}-placement`, lease.offsetBytes === plan.offsetBytes && lease.unitCount === plan.unitCount, `${lease.unitCount} units at ${hex(lease.offsetBytes)}`);
  if (allocatedBytes !== undefined && before !== undefined) {
    const grown = allocatedBytes() - before;
    log.check(`${plan.label}-populated`, grown === lease.lengthBytes, `the file grew by ${formatBytes(grown)} (fstat st_blocks): the daemon populated the lease`);
  }
  return lease;
}

/**
 * Gives back a sub-unit range, then a whole unit, as a balloon driver would. The first is
 * smaller than the arena's punch granule, so the daemon's discard policy decides: "defer" keeps
 * the pages until their whole unit is discarded, "zero" zeroes them in place, "reject" refuses
 * (reported, and the run goes on). The second is punched at once and its unit goes back to the
 * pool.
 */
export async function discardRanges(ctx: VmmContext, arena: Arena, mapping: HostMapping, allocatedBytes?: () => bigint): Promise<void> {
  const { log, plan } = ctx;

  log.step(`discard ${formatBytes(plan.subUnitDiscard.lengthBytes)} at ${hex(plan.subUnitDiscard.offsetBytes)} (less than a unit)`);
  const sub = await discard(ctx, arena, "sub-unit", plan.subUnitDiscard);
  if (sub !== undefined) {
    const accounted = sub.punchedBytes + sub.zeroedBytes + sub.deferredBytes;
    log.check("sub-unit-discard-accounted", accounted === plan.subUnitDiscard.lengthBytes, `punched + zeroed + deferred = ${accounted} bytes of ${plan.subUnitDiscard.lengthBytes}`);
    if (sub.zeroedBytes === plan.subUnitDiscard.lengthBytes) {
      const zeroed = mapping.read(plan.subUnitDiscard.offsetBytes, Number(plan.subUnitDiscard.lengthBytes)).every((b) => b === 0);
      log.check("sub-unit-discard-zeroed", zeroed, "the range reads as zeros through the VMM's mapping");
    }
  }

  const unit = plan.wholeUnitDiscard.offsetBytes;
  log.step(`discard the unit at ${hex(unit)} (a whole unit), after writing into its first and last page`);
  // Written pages are in memory for mincore (an untouched populated page is not "uptodate" yet
  // for shmem or guest_memfd, so it would not show): the punch must make them go.
  mapping.write(unit, new Uint8Array([0xaa]));
  mapping.write(unit + UNIT_BYTES - 1n, new Uint8Array([0xaa]));
  const residentBefore = mapping.residentPages(unit, UNIT_BYTES);
  const allocatedBefore = allocatedBytes?.();
  const whole = await discard(ctx, arena, "whole-unit", plan.wholeUnitDiscard);
  if (whole?.punchedBytes === UNIT_BYTES) {
    log.check("whole-unit-discard-released", whole.releasedUnitCount === 1, `${units(whole.releasedUnitCount)} back to the pool`);
    const resident = mapping.residentPages(unit, UNIT_BYTES);
    log.check("whole-unit-discard-punched", residentBefore === 2 && resident === 0, `pages in memory: ${residentBefore} written before, ${resident} after: the daemon punched the unit`);
    if (allocatedBytes !== undefined && allocatedBefore !== undefined) {
      const shrunk = allocatedBefore - allocatedBytes();
      log.check("whole-unit-discard-freed", shrunk === UNIT_BYTES, `the file shrank by ${formatBytes(shrunk)} (fstat st_blocks)`);
    }
  } else if (whole !== undefined) {
    log.note("not punched at once: this arena's punch granule is larger than a unit");
  }
}

async function discard(ctx: VmmContext, arena: Arena, what: "sub-unit" | "whole-unit", range: ByteRange): Promise<DiscardResult | undefined> {
  const { pool, log, summary } = ctx;
  try {
    const result = await pool.discard(arena.arenaId, range);
    summary.discards.push({ what, ...range, result });
    log.note(
      `punched ${formatBytes(result.punchedBytes)}, zeroed ${formatBytes(result.zeroedBytes)}, deferred ${formatBytes(result.deferredBytes)}, ${units(result.releasedUnitCount)} back to the pool` +
        (result.appliedPolicy === undefined ? "" : ` (policy ${result.appliedPolicy})`),
    );
    return result;
  } catch (error) {
    const refused = asRefusal(error);
    if (refused === undefined) throw error;
    summary.discards.push({ what, ...range, refused });
    log.note(`the daemon refused (${refused.kind}): ${refused.message}`);
    return undefined;
  }
}
