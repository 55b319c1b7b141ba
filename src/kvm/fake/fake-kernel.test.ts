/**
 * The fake kernel: the shared contract (with each capability preset), then what only the fake
 * can show — several processes, in-place conversion with pins, fault injection, leak checks.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { IN_PLACE_CONVERSION_V8, MAINLINE_PRIVATE_MEMORY, PVM_6_18, type FakeCapabilities } from "./fake-capabilities.ts";
import { FakeHost } from "./fake-host.ts";
import type { FakeKernel } from "./fake-kernel.ts";
import { registerHugetlbContract, registerKernelContract, type ContractEnvironment } from "../testing/kernel-contract.ts";

function fakeEnvironment(caps: FakeCapabilities): ContractEnvironment<FakeKernel> {
  return {
    createPort: () => new FakeHost(caps).process(),
    pidOf: (port) => port.pid,
    startProcess: (port) => {
      const host = port.host;
      const other = host.process();
      return Promise.resolve({
        pid: other.pid,
        stop: () => {
          if (host.isRunning(other.pid)) other.exit();
          return Promise.resolve();
        },
      });
    },
  };
}

registerKernelContract("FakeKernel, PVM 6.18 (this machine)", fakeEnvironment(PVM_6_18));
registerKernelContract("FakeKernel, mainline private memory", fakeEnvironment(MAINLINE_PRIVATE_MEMORY));
registerKernelContract("FakeKernel, v8 in-place conversion", fakeEnvironment(IN_PLACE_CONVERSION_V8));
registerHugetlbContract("FakeKernel", { createPort: () => new FakeHost(PVM_6_18).process() });

describe("FakeKernel capability presets", () => {
  test("report in-place conversion as absent, absent and usable on SW_PROTECTED VMs", () => {
    assert.deepEqual(new FakeHost(PVM_6_18).process().capabilities().inPlaceConversion, { state: "absent" });
    assert.deepEqual(new FakeHost(MAINLINE_PRIVATE_MEMORY).process().capabilities().inPlaceConversion, { state: "absent" });
    assert.deepEqual(new FakeHost(IN_PLACE_CONVERSION_V8).process().capabilities().inPlaceConversion, { state: "usable", vmTypes: [1] });
  });

  test("this machine's preset matches what the probes saw: type 0 only, flags 3, cap 233 = 0", () => {
    const caps = new FakeHost(PVM_6_18).process().capabilities();
    assert.deepEqual(caps.vmTypes, [0]);
    assert.equal(caps.guestMemfdFlags, 3n);
    assert.equal(caps.memoryAttributes, 0n);
    assert.equal(caps.preFaultMemory, false);
  });
});
