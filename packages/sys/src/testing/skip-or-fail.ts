/**
 * The one rule of every prerequisite gate (require-kvm.ts, require-peer.ts): a suite whose
 * prerequisite is missing is skipped with the reason printed — unless the environment variable
 * that makes it mandatory is 1 (.ci/run sets it where it installs or finds the prerequisite),
 * in which case a test that fails with the reason is registered, so the run cannot pass.
 */
import { test } from "node:test";

export interface Prerequisite {
  /** "GMEMPOOL_REQUIRE_KVM" */
  readonly variable: string;
  /** "real-kernel": the tests this gates, in the messages. */
  readonly kind: string;
}

/** Whether `prerequisite.variable` is 1. */
export function isRequired(prerequisite: Prerequisite): boolean {
  return process.env[prerequisite.variable] === "1";
}

/** Skips (prints) or fails (registers a failing test) for `reason`; returns it, the suite's `skip`. */
export function skipOrFail(prerequisite: Prerequisite, reason: string): string {
  if (isRequired(prerequisite)) {
    void test(`${prerequisite.kind} prerequisites (${prerequisite.variable}=1)`, () => {
      throw new Error(`${prerequisite.variable}=1 but ${reason}`);
    });
  } else {
    process.stderr.write(`skipping ${prerequisite.kind} tests: ${reason}\n`);
  }
  return reason;
}
