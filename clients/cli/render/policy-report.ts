/**
 * The discard policy in words (`gmempool policy get`, `policy set`, `status`): the pool-wide
 * policy as fields, and arena overrides as a table where "-" means "follows the pool".
 */
import type { ArenaPolicyOverride, Policy, PolicyView } from "../../node/src/resources.ts";
import { formatBytes } from "../../node/src/units.ts";
import { renderFields, renderTable } from "./table.ts";

export function poolPolicyFields(policy: Policy): [string, string][] {
  return [
    ["discard", policy.discardPolicy],
    ["punch granularity", formatBytes(policy.punchGranularityBytes)],
    ["deferred cap", formatBytes(policy.deferredCapBytes)],
    ["deferred overflow", policy.deferredOverflowPolicy],
  ];
}

export function renderOverrides(overrides: readonly ArenaPolicyOverride[]): string {
  if (overrides.length === 0) return "no arena overrides\n";
  const rows = overrides.map((o) => [o.arenaId, o.discardPolicy ?? "-", o.punchGranularityBytes === undefined ? "-" : formatBytes(o.punchGranularityBytes)]);
  return renderTable([{ header: "ARENA" }, { header: "DISCARD" }, { header: "GRANULARITY", align: "right" }], rows);
}

export function renderPolicyView(view: PolicyView): string {
  return "pool policy\n" + renderFields(poolPolicyFields(view.poolPolicy), "  ") + "\n" + renderOverrides(view.arenaOverrides);
}
