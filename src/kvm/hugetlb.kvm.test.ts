/**
 * The hugetlb part of the contract against the real kernel: reserves 2 MiB pages (root), and
 * restores nr_hugepages after every test whatever happens (registerHugetlbContract's afterEach).
 */
import assert from "node:assert/strict";
import { after, before, describe } from "node:test";
import { registerHugetlbContract } from "./testing/kernel-contract.ts";
import { LinuxKernel } from "./linux-kernel.ts";
import { kvmSkipReason } from "@gmempool/sys/testing";

const skip = kvmSkipReason({ root: true });

describe("LinuxKernel hugetlb", { skip }, () => {
  // Belt and braces: the pool as this file found it, checked and restored once more at the end.
  const kernel = new LinuxKernel();
  let found = 0;
  before(() => {
    found = kernel.hugetlbPool().nrHugepages;
  });
  after(async () => {
    const now = kernel.hugetlbPool().nrHugepages;
    if (now !== found) await kernel.setNrHugepages(found);
    kernel.release();
    assert.equal(now, found, "nr_hugepages was not restored by the tests");
  });

  registerHugetlbContract("LinuxKernel on this machine", { createPort: () => new LinuxKernel() });
});
