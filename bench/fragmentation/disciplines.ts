/**
 * The three ways of managing a host's guest memory that the simulator compares. Each is a `Pool`
 * with a different policy, replaying the same trace.
 */
import { PAGE_BYTES, UNIT_BYTES, type PoolPolicy } from "../../src/pool/index.ts";

export type DisciplineName = "gmempool" | "punch-4k" | "hugetlb-zero";
export const DISCIPLINE_NAMES: readonly DisciplineName[] = ["gmempool", "punch-4k", "hugetlb-zero"];

export interface Discipline {
  readonly name: DisciplineName;
  readonly description: string;
  readonly policy: Partial<PoolPolicy>;
}

export interface DisciplineParams {
  /** gmempool's pool-wide cap on deferred bytes; past it, sub-unit discards are refused. */
  readonly deferredCapBytes: number;
}

export const DEFAULT_DISCIPLINE_PARAMS: DisciplineParams = { deferredCapBytes: 1024 * 1024 * 1024 };

export function disciplines(params: DisciplineParams): Discipline[] {
  return [
    {
      name: "gmempool",
      description: `2 MiB punch granularity, sub-unit discards deferred (cap ${params.deferredCapBytes / 2 ** 30} GiB, then refused); stale copies freed 2 MiB at a time`,
      policy: { punchGranularityBytes: UNIT_BYTES, discard: "defer", deferredCapBytes: params.deferredCapBytes, deferOverflow: "reject" },
    },
    {
      name: "punch-4k",
      description: "4 KiB punch granularity: every discard and every stale conversion copy punched at once (today's VMMs on THP-style backing)",
      policy: { punchGranularityBytes: PAGE_BYTES, discard: "defer" },
    },
    {
      name: "hugetlb-zero",
      description: "2 MiB punch granularity, sub-unit discards zeroed in place (shared pages) or ignored (private pages): memory is never returned below 2 MiB",
      policy: { punchGranularityBytes: UNIT_BYTES, discard: "zero" },
    },
  ];
}
