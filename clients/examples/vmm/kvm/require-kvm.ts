/**
 * The gate of the example's real-KVM test files (*.kvm.test.ts), the project's convention
 * (src/kvm/require-kvm.ts, which clients may not import): without a usable /dev/kvm the suites
 * are skipped with a printed reason, unless GMEMPOOL_REQUIRE_KVM=1 (set on machines that have
 * /dev/kvm), where a missing device is a failing test, never a silent skip.
 *
 * Usage, at the top of a test file:
 *   const skip = kvmSkipReason();
 *   describe("...", { skip }, () => { ... });
 */
import { test } from "node:test";
import { KVM_DEVICE, kvmUnavailableReason } from "./kvm-device.ts";

/** True when GMEMPOOL_REQUIRE_KVM=1: skipping is then a failure. */
export function kvmRequired(): boolean {
  return process.env["GMEMPOOL_REQUIRE_KVM"] === "1";
}

/**
 * The `skip` option of a real-KVM suite: undefined when it can run; otherwise the reason, printed
 * to stderr — or, with GMEMPOOL_REQUIRE_KVM=1, also a registered test that fails with it.
 */
export function kvmSkipReason(device = KVM_DEVICE): string | undefined {
  const reason = kvmUnavailableReason(device);
  if (reason === undefined) return undefined;
  if (kvmRequired()) {
    void test("real-KVM prerequisites (GMEMPOOL_REQUIRE_KVM=1)", () => {
      throw new Error(`GMEMPOOL_REQUIRE_KVM=1 but ${reason}`);
    });
  } else {
    process.stderr.write(`skipping real-KVM tests: ${reason}\n`);
  }
  return reason;
}
