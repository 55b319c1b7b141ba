/**
 * The VMM's vCPU loop for the example guest: KVM_RUN, handle the exit, again, until HLT. The
 * program's one device is its result port (an OUT of 4 bytes); any other exit — an I/O port
 * nobody serves, a shutdown (triple fault), an emulation failure, a memory fault — ends the run
 * with an error naming the exit and where the guest was.
 */
import type { Vcpu, VcpuExit } from "@gmempool/sys";
import { RESULT_PORT } from "./guest-layout.ts";

export interface GuestRunResult {
  /** Every value the guest wrote to the result port, in order. */
  readonly results: number[];
  /** KVM_RUN returns, HLT included. */
  readonly exits: number;
}

const hex = (n: bigint | number): string => `0x${n.toString(16)}`;

function describeExit(exit: VcpuExit): string {
  switch (exit.reason) {
    case "io":
      return `${exit.out ? "OUT to" : "IN from"} port ${hex(exit.port)} (${exit.size} bytes)`;
    case "memory-fault":
      return `KVM_EXIT_MEMORY_FAULT at GPA ${hex(exit.gpa)} size ${hex(exit.size)} flags ${hex(exit.flags)}`;
    case "internal-error":
      return `KVM_EXIT_INTERNAL_ERROR suberror ${exit.suberror}`;
    case "fail-entry":
      return `KVM_EXIT_FAIL_ENTRY hardware reason ${hex(exit.hardwareEntryFailureReason)}`;
    case "other":
      return `exit reason ${exit.exitReason}`;
    case "hlt":
    case "shutdown":
      return exit.reason;
  }
}

/** Runs `vcpu` (borrowed; its registers already set) until HLT, at most `maxExits` exits. */
export function runUntilHalt(vcpu: Pick<Vcpu, "run" | "getRegs">, maxExits = 16): GuestRunResult {
  const results: number[] = [];
  for (let exits = 1; exits <= maxExits; exits++) {
    const exit = vcpu.run();
    if (exit.reason === "hlt") return { results, exits };
    if (exit.reason === "io" && exit.out && exit.port === RESULT_PORT && exit.size === 4) {
      results.push(new DataView(exit.data.buffer, exit.data.byteOffset, exit.data.byteLength).getUint32(0, true));
      continue;
    }
    let where = "";
    try {
      where = ` at rip ${hex(vcpu.getRegs().rip)}`;
    } catch {
      // The registers are only for the message.
    }
    throw new Error(`the guest stopped with ${describeExit(exit)}${where}, after ${exits} exits`);
  }
  throw new Error(`the guest did not halt within ${maxExits} exits`);
}
