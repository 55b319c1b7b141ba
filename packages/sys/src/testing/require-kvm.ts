/**
 * The gate of every real-kernel test file (*.kvm.test.ts), the daemon's and the example VMM's:
 * without /dev/kvm (or root, where a test needs it) the file's suites are skipped with a printed
 * reason — unless GMEMPOOL_REQUIRE_KVM=1 (set by .ci/run on machines with /dev/kvm), in which
 * case a missing prerequisite is a failing test, never a silent skip.
 *
 * Usage, at the top of a test file:
 *   const skip = kvmSkipReason({ root: true });
 *   describe("...", { skip }, () => { ... });
 *
 * Test support: `@gmempool/sys/testing`, which production code may not import (lint rule); it
 * loads node:test.
 */
import { isRequired, skipOrFail, type Prerequisite } from "./skip-or-fail.ts";
import { kvmUnavailableReason, type KvmRequirements } from "../kvm-unavailable-reason.ts";

const KVM: Prerequisite = { variable: "GMEMPOOL_REQUIRE_KVM", kind: "real-kernel" };

/** True when GMEMPOOL_REQUIRE_KVM=1: skipping is then a failure. */
export function kvmRequired(): boolean {
  return isRequired(KVM);
}

/**
 * The `skip` option for a real-kernel suite: undefined when it can run; otherwise the reason
 * (printed to stderr). With GMEMPOOL_REQUIRE_KVM=1 it also registers a test that fails with
 * that reason, so the run cannot pass.
 */
export function kvmSkipReason(requirements: KvmRequirements = {}): string | undefined {
  const reason = kvmUnavailableReason(requirements);
  return reason === undefined ? undefined : skipOrFail(KVM, reason);
}
