/**
 * The conversion step of KVM mode: a range of the boot lease converted to private and back, in
 * notify mode.
 *
 * Under mainline's out-of-place conversion the VMM converts with KVM_SET_MEMORY_ATTRIBUTES on
 * its VM fd (only the VM's creator may) and tells the daemon, which records the visibility and
 * manages the backing (proto Pool.Convert, mode NOTIFY, accepted for guest_memfd arenas and
 * pairs). A type-0 VM has no private memory: KVM_CAP_MEMORY_ATTRIBUTES answers 0 on it
 * (kvm_supported_mem_attributes), so there is nothing to convert in KVM and the VMM only reports
 * the conversion. A VMM of a VM type with private memory issues the ioctl first; this example
 * does not bind it, since no machine of this project can create such a VM (KERNEL.md §1).
 *
 * A refusal (the daemon lacks notify, or refuses this arena) is reported and the run goes on.
 */
import type { Arena, Capabilities, Lease } from "../../node/src/resources.ts";
import { formatBytes } from "../../node/src/units.ts";
import { KVM_MEMORY_ATTRIBUTE_PRIVATE } from "@gmempool/sys";
import { asRefusal } from "./pool-steps.ts";
import { hex, type VmmContext } from "./vmm-context.ts";

/**
 * Converts `ctx.plan.conversion` (inside `lease`) to private, then back to shared, checking the
 * daemon's record of the lease after each. `memoryAttributes` is the VM's answer to
 * KVM_CHECK_EXTENSION(KVM_CAP_MEMORY_ATTRIBUTES).
 */
export async function convertRoundTrip(ctx: VmmContext, capabilities: Capabilities, arena: Arena, lease: Lease, memoryAttributes: number): Promise<void> {
  const { pool, log, plan, summary } = ctx;
  const range = plan.conversion;
  log.step(`convert ${formatBytes(range.lengthBytes)} at ${hex(range.offsetBytes)} to private and back (mode notify)`);
  log.note(
    (BigInt(memoryAttributes) & KVM_MEMORY_ATTRIBUTE_PRIVATE) === 0n
      ? `KVM_CAP_MEMORY_ATTRIBUTES = ${memoryAttributes} on this VM: no private memory, nothing to convert in KVM; the VMM reports the conversion to the daemon`
      : `KVM_CAP_MEMORY_ATTRIBUTES = ${memoryAttributes}: this VM could have private memory; a VMM for it issues KVM_SET_MEMORY_ATTRIBUTES first (not done by this example)`,
  );
  if (!capabilities.conversionModes.includes("notify")) {
    const skipped = `the daemon offers conversion modes [${capabilities.conversionModes.join(", ")}], not notify`;
    summary.conversions.push({ toVisibility: "private", ...range, skipped });
    log.note(`skipped: ${skipped}`);
    return;
  }
  for (const toVisibility of ["private", "shared"] as const) {
    try {
      const result = await pool.convert(arena.arenaId, { ...range, toVisibility, mode: "notify" });
      summary.conversions.push({ toVisibility, ...range, result });
      const after = await pool.getLease(lease.leaseId);
      const expected = toVisibility === "private" ? range.lengthBytes : 0n;
      log.check(
        `convert-to-${toVisibility}`,
        result.convertedBytes === range.lengthBytes && after.privateBytes === expected,
        `${formatBytes(result.convertedBytes)} converted; the daemon's record of ${lease.label}: ${formatBytes(after.privateBytes)} private`,
      );
    } catch (error) {
      const refused = asRefusal(error);
      if (refused === undefined) throw error;
      summary.conversions.push({ toVisibility, ...range, refused });
      log.note(`the daemon refused (${refused.kind}): ${refused.message}`);
      return;
    }
  }
}
