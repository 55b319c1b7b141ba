/**
 * The kernel port contract against the real kernel (/dev/kvm, root for nothing here).
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { describe } from "node:test";
import { registerKernelContract } from "./testing/kernel-contract.ts";
import { LinuxKernel } from "./linux-kernel.ts";
import { kvmSkipReason } from "@gmempool/sys/testing";

const skip = kvmSkipReason();

describe("LinuxKernel", { skip }, () => {
  registerKernelContract("LinuxKernel on this machine", {
    createPort: () => new LinuxKernel(),
    pidOf: () => process.pid,
    startProcess: async () => {
      const child = spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)"], { stdio: "ignore" });
      await once(child, "spawn");
      const exited = once(child, "exit");
      const pid = child.pid;
      if (pid === undefined) throw new Error("child has no pid");
      return {
        pid,
        stop: async () => {
          if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
          await exited;
        },
      };
    },
  });
});
