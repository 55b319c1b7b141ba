/**
 * Populating a reserve at start-up, with progress in the log: a 1 TiB pool takes minutes
 * (KERNEL.md §7: ~0.2 s per GiB on guest_memfd), and an operator must see it move.
 */
import type { Logger } from "pino";
import { UNIT_BYTES } from "@gmempool/contract";

/** Units populated per call: 64 MiB, so progress is reported at least every 32 units. */
const BATCH_UNITS = 32;

export async function populateRunsWithProgress(
  heldRuns: readonly (readonly [number, number])[],
  capacityUnits: number,
  logger: Logger,
  what: string,
  populate: (offset: bigint, length: bigint) => Promise<void>,
  progress: (units: number) => void,
): Promise<void> {
  const total = heldRuns.reduce((n, [s, e]) => n + e - s, 0);
  let done = capacityUnits - total;
  let nextReport = 0;
  const started = performance.now();
  logger.info({ units: total, capacityUnits }, `${what}: populating ${total} units`);
  for (const [s, e] of heldRuns) {
    for (let u = s; u < e; u += BATCH_UNITS) {
      const n = Math.min(BATCH_UNITS, e - u);
      await populate(BigInt(u) * UNIT_BYTES, BigInt(n) * UNIT_BYTES);
      done += n;
      progress(done);
      const percent = Math.floor((done * 100) / capacityUnits);
      if (percent >= nextReport) {
        logger.info({ populatedUnits: done, capacityUnits, percent }, `${what}: ${percent}% populated`);
        nextReport = percent + 10;
      }
    }
  }
  logger.info({ units: total, seconds: (performance.now() - started) / 1000 }, `${what}: populated`);
}
