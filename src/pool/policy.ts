/**
 * Discard policy and punch granularity (DESIGN.md §2): per pool, with per-arena overrides.
 *
 * The punch granularity is the smallest range the daemon frees in the kernel: 2 MiB by default,
 * a larger power-of-two multiple of 2 MiB (1 GiB for arenas meant for 1 GiB pages), or 4 KiB when
 * an operator explicitly accepts split units to get memory back at once. A discard smaller than
 * the granularity goes through the discard policy.
 */
import { InvalidArgumentError } from "./errors.ts";
import { PAGE_BYTES, UNIT_BYTES, formatBytes, requireCount, type Bytes } from "./units.ts";

export type DiscardPolicy = "reject" | "zero" | "defer";
export const DISCARD_POLICIES: readonly DiscardPolicy[] = ["reject", "zero", "defer"];

/** What a sub-granularity discard does once the deferred cap is reached. */
export type DeferOverflow = "reject" | "zero";

/** How the free space of an arena is searched for a new lease. */
export type FitStrategy = "first-fit" | "best-fit";

export interface PoolPolicy {
  readonly discard: DiscardPolicy;
  /** Pool-wide cap on bytes of discarded pages held in populated units under `defer`. */
  readonly deferredCapBytes: number;
  readonly deferOverflow: DeferOverflow;
  readonly punchGranularityBytes: number;
  readonly fit: FitStrategy;
}

export interface ArenaPolicy {
  readonly discard?: DiscardPolicy;
  readonly punchGranularityBytes?: number;
}

/** 1 GiB is the largest granularity a host page size gives a reason for; beyond is a typo. */
const MAX_GRANULARITY_BYTES = 1024 * 1024 * 1024;

export const DEFAULT_POLICY: PoolPolicy = {
  discard: "defer",
  deferredCapBytes: 1024 * 1024 * 1024,
  deferOverflow: "reject",
  punchGranularityBytes: UNIT_BYTES,
  fit: "first-fit",
};

/** Throws unless `g` is 4 KiB or a power-of-two multiple of 2 MiB up to 1 GiB. */
export function validateGranularity(g: number): Bytes {
  requireCount(g, "punch granularity");
  const ok = g === PAGE_BYTES || (g >= UNIT_BYTES && g <= MAX_GRANULARITY_BYTES && g % UNIT_BYTES === 0 && isPowerOfTwo(g / UNIT_BYTES));
  if (!ok) {
    throw new InvalidArgumentError(
      `punch granularity ${g} must be 4 KiB or a power-of-two multiple of 2 MiB up to 1 GiB (e.g. ${UNIT_BYTES}, ${MAX_GRANULARITY_BYTES})`,
    );
  }
  return g as Bytes;
}

export function validatePoolPolicy(policy: PoolPolicy): PoolPolicy {
  validateGranularity(policy.punchGranularityBytes);
  requireCount(policy.deferredCapBytes, "deferred cap bytes");
  if (policy.deferredCapBytes % PAGE_BYTES !== 0) {
    throw new InvalidArgumentError(`deferred cap ${policy.deferredCapBytes} is not a multiple of 4 KiB`);
  }
  requireOneOf(policy.discard, DISCARD_POLICIES, "discard policy");
  requireOneOf(policy.deferOverflow, ["reject", "zero"], "defer overflow");
  requireOneOf(policy.fit, ["first-fit", "best-fit"], "fit strategy");
  return policy;
}

export function validateArenaPolicy(policy: ArenaPolicy): ArenaPolicy {
  if (policy.punchGranularityBytes !== undefined) validateGranularity(policy.punchGranularityBytes);
  if (policy.discard !== undefined) requireOneOf(policy.discard, DISCARD_POLICIES, "discard policy");
  return policy;
}

/** The block in which an arena populates: never less than a unit. */
export function populateBlockBytes(granularity: number): number {
  return Math.max(granularity, UNIT_BYTES);
}

export function describeGranularity(g: number): string {
  return formatBytes(g);
}

function isPowerOfTwo(n: number): boolean {
  return Number.isInteger(n) && n > 0 && (n & (n - 1)) === 0;
}

/** Values arrive from the wire and config files: check them even where the type says so. */
export function requireOneOf(value: string, allowed: readonly string[], what: string): void {
  if (!allowed.includes(value)) throw new InvalidArgumentError(`unknown ${what} "${value}"; expected one of ${allowed.join(", ")}`);
}
