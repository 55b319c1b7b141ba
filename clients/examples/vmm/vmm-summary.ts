/**
 * The record of one run of the example VMM, filled in as it goes and printed as JSON with
 * `--json` (bigints as decimal strings). The tests read it; so can a script driving the example.
 */
import type { ArenaKind, ConvertResult, DiscardResult, PageVisibility } from "../../node/src/resources.ts";
import type { CheckResult } from "./step-log.ts";

export type VmmMode = "kvm" | "memfd";

/** A request the daemon refused: its error kind and message, as the VMM reports it. */
export interface Refusal {
  readonly kind: string;
  readonly message: string;
}

export interface VmmSummary {
  ok: boolean;
  mode: VmmMode;
  /** Why this mode: "--no-kvm", "/dev/kvm is not usable here (ENOENT)", "/dev/kvm is usable". */
  modeReason: string;
  runtimeDir: string | undefined;
  memoryBytes: bigint;
  arena: { readonly arenaId: string; readonly kind: ArenaKind; readonly sizeBytes: bigint } | undefined;
  leases: { readonly label: string; readonly leaseId: string; readonly offsetBytes: bigint; readonly unitCount: number }[];
  /** KVM mode: each run of the guest program and the mismatch count it reported. */
  guestRuns: { readonly name: string; readonly exits: number; readonly mismatches: number }[];
  discards: { readonly what: "sub-unit" | "whole-unit"; readonly offsetBytes: bigint; readonly lengthBytes: bigint; readonly result?: DiscardResult; readonly refused?: Refusal }[];
  conversions: {
    readonly toVisibility: PageVisibility;
    readonly offsetBytes: bigint;
    readonly lengthBytes: bigint;
    readonly result?: ConvertResult;
    readonly refused?: Refusal;
    readonly skipped?: string;
  }[];
  /** Units the VMM's releases gave back (a unit discarded whole went back at the discard). */
  releasedUnitCount: number;
  checks: readonly CheckResult[];
  /** The error that ended the run early, if one did. */
  error: string | undefined;
}

export function newSummary(mode: VmmMode, modeReason: string, runtimeDir: string | undefined, memoryBytes: bigint): VmmSummary {
  return { ok: false, mode, modeReason, runtimeDir, memoryBytes, arena: undefined, leases: [], guestRuns: [], discards: [], conversions: [], releasedUnitCount: 0, checks: [], error: undefined };
}

/** One line of JSON; bigints as decimal strings. */
export function summaryJson(summary: VmmSummary): string {
  return JSON.stringify(summary, (_key, value: unknown) => (typeof value === "bigint" ? value.toString() : value));
}
