/**
 * A transaction whose claim is a set of pool plans (Allocate, Release, Discard, Populate,
 * Convert and the releases of a deletion): the kernel phase runs every plan's steps
 * (plan-executor.ts), the commit settles each plan with the steps that failed (Pool.commit) and
 * builds the result from the core's complete plan results — the daemon never recomputes
 * figures from the core's bitmaps or steps.
 */
import type { Logger } from "pino";
import type { GmempoolError } from "../pool/errors.ts";
import { totalsOf, type Plan, type PlanResult, type PlanTotals, type Pool } from "../pool/index.ts";
import type { EventScope } from "./event-hub.ts";
import type { Changes } from "./journal-writer.ts";
import type { ExecutionResult, PlanExecutor, StepEnvironment } from "./plan-executor.ts";
import type { PoolEventBody } from "./pool-service.ts";
import type { Transaction } from "./transaction-runner.ts";

export interface PlanTransactionParts {
  readonly pool: () => Pool;
  readonly executor: PlanExecutor;
  readonly environment: (plan: Plan) => StepEnvironment;
  readonly logger: Logger;
}

export interface PlanSpec<R extends object> {
  readonly arenaId: string;
  readonly scope: EventScope;
  /** Synchronous: the plans (their units claimed by the core). A throw changes nothing. */
  plans(): readonly Plan[];
  /** The result of a success, from the core's totals (built in the commit tick). */
  result(totals: PlanTotals, results: readonly PlanResult[]): R;
  event?(result: R): PoolEventBody;
  /** More to journal than the plans' leases. */
  readonly changes?: Changes;
  /** Runs in the commit tick after the books settled (e.g. forget a released lease's label). */
  settled?(totals: PlanTotals, failure: GmempoolError | undefined): void;
  /** The error a step failure is reported as (default: the first step's). */
  failure?(first: GmempoolError, totals: PlanTotals): GmempoolError;
  /** Follow-up of a failure, inside the same transaction (Transaction.afterFailure). */
  afterFailure?: (failure: GmempoolError) => Promise<GmempoolError>;
}

export function planTransaction<R extends object>(parts: PlanTransactionParts, spec: PlanSpec<R>): Transaction<readonly Plan[], ExecutionResult[], R> {
  return {
    arenaId: spec.arenaId,
    scope: spec.scope,
    claim: () => spec.plans(),
    kernel: (plans) => Promise.all(plans.map((p) => parts.executor.execute(p, parts.environment(p)))),
    commit: (plans, outcomes) => {
      const pool = parts.pool();
      const results = plans.map((plan, i) => pool.commit(plan.id, outcomes[i]!.failed));
      outcomes.forEach((outcome, i) => {
        for (const f of outcome.failures) parts.logger.warn({ planId: plans[i]!.id, kind: plans[i]!.kind, step: f.index, err: f.error }, "kernel step failed; plan settled without it");
      });
      const totals = totalsOf(results);
      const first = outcomes.flatMap((o) => o.failures)[0]?.error;
      const failure = first === undefined ? undefined : (spec.failure?.(first, totals) ?? first);
      spec.settled?.(totals, failure);
      const changes: Changes = { ...spec.changes, leases: [...(spec.changes?.leases ?? []), ...plans.map((p) => p.leaseId)] };
      if (failure !== undefined) return { changes, failure };
      const result = spec.result(totals, results);
      return { changes, result, ...(spec.event === undefined ? {} : { event: spec.event(result) }) };
    },
    // The executor reports step failures in its outcome and never rejects; should it, every
    // plan is settled as not done so that no unit stays claimed.
    abort: (plans) => {
      for (const plan of plans) parts.pool().abort(plan.id);
    },
    afterFailure: (failure) => spec.afterFailure?.(failure) ?? Promise.resolve(failure),
  };
}
