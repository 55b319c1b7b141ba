import assert from "node:assert/strict";
import { test } from "node:test";
import { kvmRequired, kvmUnavailableReason } from "./require-kvm.ts";

test("a missing KVM device is a reason to skip that names the device and the error", () => {
  assert.equal(kvmUnavailableReason({ device: "/nonexistent/kvm" }), "/nonexistent/kvm is not usable here (ENOENT)");
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
