import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { kvmUnavailableReason } from "../kvm-unavailable-reason.ts";
import { kvmRequired, kvmSkipReason } from "./require-kvm.ts";

test("a missing KVM device is a reason to skip that names the device and the error; a read-write one is usable", () => {
  assert.equal(kvmUnavailableReason({ device: "/nonexistent/kvm" }), "/nonexistent/kvm is not usable here (ENOENT)");
  assert.equal(kvmUnavailableReason({ device: "/dev/null" }), undefined, "read-write: usable as far as access(2) can tell");
});

test("GMEMPOOL_REQUIRE_KVM=1, and only that, makes the real-kernel tests mandatory", () => {
  const saved = process.env["GMEMPOOL_REQUIRE_KVM"];
  try {
    process.env["GMEMPOOL_REQUIRE_KVM"] = "1";
    assert.equal(kvmRequired(), true);
    process.env["GMEMPOOL_REQUIRE_KVM"] = "0";
    assert.equal(kvmRequired(), false);
    delete process.env["GMEMPOOL_REQUIRE_KVM"];
    assert.equal(kvmRequired(), false);
  } finally {
    if (saved === undefined) delete process.env["GMEMPOOL_REQUIRE_KVM"];
    else process.env["GMEMPOOL_REQUIRE_KVM"] = saved;
  }
});

test("without the device, a suite gated on it is skipped with the reason printed — and fails the run under GMEMPOOL_REQUIRE_KVM=1", () => {
  // A child test file gated on a device that does not exist, run both ways.
  const gate = fileURLToPath(new URL("./require-kvm.ts", import.meta.url));
  const source = `import { describe, test } from "node:test";
import { kvmSkipReason } from ${JSON.stringify(gate)};
const skip = kvmSkipReason({ device: "/nonexistent/kvm" });
describe("gated", { skip }, () => { test("runs", () => {}); });`;
  const run = (require: string): { status: number | null; output: string } => {
    const result = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "--test-reporter=tap", "--eval", source], {
      encoding: "utf8",
      env: { ...process.env, GMEMPOOL_REQUIRE_KVM: require, NODE_TEST_CONTEXT: undefined },
    });
    return { status: result.status, output: result.stdout + result.stderr };
  };
  assert.equal(kvmSkipReason({ device: "/dev/null" }) ?? "usable", "usable", "a read-write device is usable");
  const skipped = run("0");
  assert.equal(skipped.status, 0, skipped.output);
  assert.match(skipped.output, /skipping real-kernel tests: \/nonexistent\/kvm is not usable here \(ENOENT\)/);
  assert.match(skipped.output, /# SKIP/);
  const required = run("1");
  assert.notEqual(required.status, 0, required.output);
  assert.match(required.output, /GMEMPOOL_REQUIRE_KVM=1 but \/nonexistent\/kvm is not usable here/);
});
