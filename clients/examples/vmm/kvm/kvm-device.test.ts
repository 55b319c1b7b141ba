import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { test } from "node:test";
import { KernelError, kvmUnavailableReason } from "@gmempool/sys";
import { KvmDevice } from "./kvm-device.ts";

const openFds = (): number => readdirSync("/proc/self/fd").length;

test("a device that is not KVM is refused at KVM_GET_API_VERSION (the ioctl reaches the kernel: ENOTTY), and its fd is closed", () => {
  assert.equal(kvmUnavailableReason({ device: "/dev/null" }), undefined, "read-write: usable as far as access(2) can tell");
  const before = openFds();
  assert.throws(
    () => KvmDevice.open("/dev/null"),
    (error: unknown) => error instanceof KernelError && error.syscall === "ioctl(KVM_GET_API_VERSION)" && error.errno === "ENOTTY",
  );
  assert.equal(openFds(), before);
});

test("a missing device fails to open with ENOENT, the reason the VMM falls back to memfd-only mode", () => {
  assert.throws(() => KvmDevice.open("/nonexistent/kvm"), /ENOENT/);
  assert.equal(kvmUnavailableReason({ device: "/nonexistent/kvm" }), "/nonexistent/kvm is not usable here (ENOENT)");
});
