/**
 * Whether /dev/kvm can be used here: the example VMM falls back to memfd-only mode on a reason,
 * the daemon's benchmarks choose their arena kind by it, and the real-kernel tests skip on one
 * (testing/require-kvm.ts).
 */
import { accessSync, constants } from "node:fs";

/** The KVM device. */
export const KVM_DEVICE = "/dev/kvm";

export interface KvmRequirements {
  /** What needs it writes /sys or /proc (nr_hugepages): it needs uid 0. */
  readonly root?: boolean;
  /** The KVM device (default /dev/kvm; tests point it elsewhere). */
  readonly device?: string;
}

/**
 * Why KVM cannot be used here (the device is missing, or not read-write for this user; not
 * root where that is required), or undefined when it can.
 */
export function kvmUnavailableReason(requirements: KvmRequirements = {}): string | undefined {
  const device = requirements.device ?? KVM_DEVICE;
  try {
    accessSync(device, constants.R_OK | constants.W_OK);
  } catch (error) {
    return `${device} is not usable here (${(error as { code?: string }).code ?? String(error)})`;
  }
  if (requirements.root === true && process.getuid?.() !== 0) return "these tests need root (they write nr_hugepages)";
  return undefined;
}
