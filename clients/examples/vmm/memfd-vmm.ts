/**
 * The example VMM without KVM (`--no-kvm`, or no usable /dev/kvm): everything a VMM does with
 * gmempool except running a guest. The daemon creates the arena's memfd and sends it over the fd
 * channel; the VMM maps it as its guest memory, allocates its boot memory, loads it (a pattern,
 * standing in for a guest image) and checks it, hot-plugs a second lease, gives memory back, and
 * tears everything down.
 */
import { fstatSync } from "node:fs";
import type { Lease } from "../../node/src/resources.ts";
import { formatBytes, UNIT_BYTES } from "../../node/src/units.ts";
import { HostMapping } from "./host-mapping.ts";
import { check, libc } from "@gmempool/sys";
import { firstMismatch, patternBytes } from "./pattern.ts";
import { allocateLease, askCapabilities, discardRanges } from "./pool-steps.ts";
import type { VmmContext } from "./vmm-context.ts";

const LOAD_BYTES = 4096;

/** Bytes allocated in the file `fd` (borrowed): st_blocks counts 512-byte blocks, shmem's
 * fallocated pages included (shmem_getattr). */
function allocatedBytes(fd: number): bigint {
  return BigInt(fstatSync(fd).blocks) * 512n;
}

export async function runMemfdVmm(ctx: VmmContext): Promise<void> {
  const { pool, log, plan, summary, cleanup } = ctx;
  await askCapabilities(ctx);

  log.step(`create a memfd arena of ${formatBytes(plan.arenaBytes)}`);
  const { arena, memfd } = await pool.createMemfdArena({ sizeBytes: plan.arenaBytes, backing: "shmem", name: ctx.name });
  cleanup.push("close the memfd", () => {
    check(libc.close(memfd), "close(memfd)");
  });
  cleanup.push(`delete arena ${arena.arenaId}`, async () => {
    const deleted = await pool.deleteArena(arena.arenaId, { releaseLeases: true });
    log.note(`arena ${arena.arenaId} deleted (${deleted.releasedLeaseCount} leases were left)`);
  });
  summary.arena = { arenaId: arena.arenaId, kind: arena.kind, sizeBytes: arena.sizeBytes };
  log.note(`arena ${arena.arenaId}: ${arena.kind}, ${arena.unitCount} units; the daemon sent its memfd over the fd channel (fd ${memfd} here)`);

  log.step("map the memfd: this mapping is the guest's memory");
  const mapping = HostMapping.map(memfd, plan.arenaBytes);
  cleanup.push("unmap the memfd", () => {
    mapping.unmap();
  });
  const allocated = (): bigint => allocatedBytes(memfd);
  log.check("arena-empty", allocated() === 0n, `${formatBytes(allocated())} allocated in the memfd: nothing is populated before Allocate`);

  const boot = await allocateLease(ctx, arena, plan.boot, allocated);
  loadAndCheck(ctx, mapping, boot, 0x10);
  const hotplug = await allocateLease(ctx, arena, plan.hotplug, allocated);
  loadAndCheck(ctx, mapping, hotplug, 0x80);

  await discardRanges(ctx, arena, mapping, allocated);

  log.step("convert pages to private");
  const reason = "a memfd arena has no private memory (the daemon answers Convert on it with FAILED_PRECONDITION); conversion needs a guest_memfd, in KVM mode";
  summary.conversions.push({ toVisibility: "private", ...plan.conversion, skipped: reason });
  log.note(`skipped: ${reason}`);
}

/**
 * What loading a guest image would do: write a 4 KiB pattern at the start of every unit of
 * `lease` through the mapping, then read every one back.
 */
function loadAndCheck(ctx: VmmContext, mapping: HostMapping, lease: Lease, seed: number): void {
  const { log } = ctx;
  log.step(`load ${lease.label}: a ${LOAD_BYTES}-byte pattern at the start of each of its ${lease.unitCount} units, then read them back`);
  const unitOffset = (unit: number): bigint => lease.offsetBytes + BigInt(unit) * UNIT_BYTES;
  for (let unit = 0; unit < lease.unitCount; unit++) mapping.write(unitOffset(unit), patternBytes(seed + unit, LOAD_BYTES));
  const bad: number[] = [];
  for (let unit = 0; unit < lease.unitCount; unit++) {
    if (firstMismatch(mapping.read(unitOffset(unit), LOAD_BYTES), seed + unit) !== undefined) bad.push(unit);
  }
  log.check(`${lease.label}-pattern`, bad.length === 0, bad.length === 0 ? `${lease.unitCount} units read back as written` : `units ${bad.join(", ")} read back wrong`);
}
