/**
 * The kill -9 churn of the end-to-end tests: workers allocate 1-unit leases and release the
 * oldest beyond `keep`, the daemon is killed in the middle, and the outcome records what the
 * daemon had ACKNOWLEDGED (an Allocate or Release that returned to the client) when SIGKILL
 * was sent, so that the check after the restart asks only what DESIGN.md §7 promises: no
 * acknowledged lease lost, no acknowledged release undone.
 */
import assert from "node:assert/strict";
import { isCallFailure, type TestClient } from "./test-client.ts";

export interface ChurnOptions {
  readonly arenaId: string;
  /** Leases each worker pool keeps before it releases the oldest. */
  readonly keep: number;
  readonly workers: number;
  /** The kill comes once this many Allocates were acknowledged (work done, not time spent). */
  readonly killAfterAllocations: number;
}

export interface ChurnOutcome {
  /** Leases whose Allocate had returned, and whose Release had not been started, at the kill. */
  readonly acknowledged: ReadonlySet<string>;
  /** Leases whose Release had returned at the kill. */
  readonly released: ReadonlySet<string>;
  /** Every lease whose Allocate returned, before or after the kill (a reply already on its way). */
  readonly allocated: ReadonlySet<string>;
  /** Allocates sent and not answered at the kill: the daemon may have journaled them. */
  readonly unansweredAllocations: number;
}

/** Runs the churn against `admin`, calls `kill` in its middle, and waits for the workers to stop. */
export async function churnThenKill(admin: TestClient, options: ChurnOptions, kill: () => Promise<unknown>): Promise<ChurnOutcome> {
  const held = new Set<string>(); // allocated, and no release started
  const allocated = new Set<string>();
  const released = new Set<string>();
  let unanswered = 0;
  let reached = (): void => undefined;
  const enough = new Promise<void>((resolve) => (reached = resolve));
  let killed = false;
  // Allocates go on until the daemon is gone, so that the kill lands in the middle of calls.
  const worker = async (): Promise<void> => {
    for (;;) {
      try {
        unanswered++;
        const lease = await admin.call("Allocate", { arenaId: options.arenaId, unitCount: 1 }).finally(() => unanswered--);
        allocated.add(lease.lease!.leaseId);
        held.add(lease.lease!.leaseId);
        if (allocated.size >= options.killAfterAllocations) reached();
        // No release once the outcome is taken: it would undo what the outcome calls acknowledged.
        if (held.size > options.keep && !killed) {
          const victim = held.values().next().value!;
          held.delete(victim);
          await admin.call("Release", { leaseId: victim });
          released.add(victim);
        }
      } catch (error) {
        if (!isCallFailure(error)) throw error;
        return; // the daemon went away
      }
    }
  };
  const workers = Array.from({ length: options.workers }, worker);
  await enough;
  const outcome = { acknowledged: new Set(held), released: new Set(released), allocated, unansweredAllocations: unanswered };
  killed = true;
  await kill();
  await Promise.all(workers);
  return outcome;
}

/**
 * After the restart, `leases` (every lease id the daemon lists) holds every acknowledged lease
 * and no acknowledged release; a lease nobody was told about can only be an unanswered Allocate.
 */
export function assertNothingAcknowledgedLost(outcome: ChurnOutcome, leases: ReadonlySet<string>): void {
  assert.ok(outcome.acknowledged.size > 0, "the churn had acknowledged leases at the kill");
  assert.deepEqual([...outcome.acknowledged].filter((id) => !leases.has(id)), [], "acknowledged leases lost");
  assert.deepEqual([...outcome.released].filter((id) => leases.has(id)), [], "acknowledged releases undone");
  const unknown = [...leases].filter((id) => !outcome.allocated.has(id));
  assert.ok(unknown.length <= outcome.unansweredAllocations, `leases no Allocate returned: ${unknown.join(", ")}; ${outcome.unansweredAllocations} were unanswered at the kill`);
}
