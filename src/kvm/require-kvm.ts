/**
 * The gate of every real-kernel test file (*.kvm.test.ts). Without /dev/kvm (or root, where a
 * test needs it) the file's suites are skipped with a printed reason — unless
 * GMEMPOOL_REQUIRE_KVM=1 (set by .ci/run on machines with /dev/kvm), in which case a missing
 * prerequisite is a failing test, never a silent skip.
 *
 * Usage, at the top of a test file:
 *   const skip = kvmSkipReason({ root: true });
 *   describe("...", { skip }, () => { ... });
 */
import { accessSync, constants } from "node:fs";
import { test } from "node:test";

export interface KvmRequirements {
  /** The tests write /sys or /proc (nr_hugepages): they need uid 0. */
  readonly root?: boolean;
  /** The KVM device (default /dev/kvm; tests of this file point it elsewhere). */
  readonly device?: string;
}

/** Why the real-kernel tests cannot run here, or undefined when they can. */
export function kvmUnavailableReason(requirements: KvmRequirements = {}): string | undefined {
  const device = requirements.device ?? "/dev/kvm";
  try {
    accessSync(device, constants.R_OK | constants.W_OK);
  } catch (error) {
    return `${device} is not usable here (${(error as { code?: string }).code ?? String(error)})`;
  }
  if (requirements.root === true && process.getuid?.() !== 0) return "these tests need root (they write nr_hugepages)";
  return undefined;
}

/** True when GMEMPOOL_REQUIRE_KVM=1: skipping is then a failure. */
export function kvmRequired(): boolean {
  return process.env["GMEMPOOL_REQUIRE_KVM"] === "1";
}

/**
 * The `skip` option for a real-kernel suite: undefined when it can run; otherwise the reason
 * (printed to stderr). With GMEMPOOL_REQUIRE_KVM=1 it also registers a test that fails with
 * that reason, so the run cannot pass.
 */
export function kvmSkipReason(requirements: KvmRequirements = {}): string | undefined {
  const reason = kvmUnavailableReason(requirements);
  if (reason === undefined) return undefined;
  if (kvmRequired()) {
    void test("real-kernel prerequisites (GMEMPOOL_REQUIRE_KVM=1)", () => {
      throw new Error(`GMEMPOOL_REQUIRE_KVM=1 but ${reason}`);
    });
  } else {
    process.stderr.write(`skipping real-kernel tests: ${reason}\n`);
  }
  return reason;
}
