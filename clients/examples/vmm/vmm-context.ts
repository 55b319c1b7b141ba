/**
 * What every step of the example VMM works with: the daemon (as the `Pool` interface, so that
 * the steps would run on `FakePoolClient` as well as on `PoolClient`), the step log, the summary
 * being filled in, the teardown being built, and the memory plan.
 */
import type { Pool } from "../../node/src/pool.ts";
import type { CleanupStack } from "./cleanup-stack.ts";
import type { MemoryPlan } from "./memory-plan.ts";
import type { StepLog } from "./step-log.ts";
import type { VmmSummary } from "./vmm-summary.ts";

export interface VmmContext {
  readonly pool: Pool;
  readonly log: StepLog;
  readonly summary: VmmSummary;
  readonly cleanup: CleanupStack;
  readonly plan: MemoryPlan;
  /** The VM's name, given to the daemon as the arena's name. */
  readonly name: string;
}

export const hex = (n: bigint): string => `0x${n.toString(16)}`;

/** "1 unit", "7 units". */
export const units = (count: number): string => `${count} unit${count === 1 ? "" : "s"}`;
