/**
 * `gmempool status` in words: who answered and what it can do, the pool's units by state
 * (free + claimed + leased = capacity), fragmentation counters, the pool-wide policy and the
 * quotas that bind the caller (every quota, for an admin).
 */
import type { Capabilities, PolicyView, PoolStatus, QuotaUsage } from "../../node/src/resources.ts";
import { formatBytes } from "../../node/src/units.ts";
import { unitsText } from "./frag-summary.ts";
import { identityText } from "./identity-text.ts";
import { poolPolicyFields } from "./policy-report.ts";
import { renderFields, renderTable } from "./table.ts";

export interface StatusReport {
  readonly capabilities: Capabilities;
  readonly status: PoolStatus;
  readonly policy: PolicyView;
  readonly quotas: readonly QuotaUsage[];
}

function share(part: number, whole: number): string {
  return whole === 0 ? "" : ` ${((part * 100) / whole).toFixed(1)}%`;
}

/** "3 of 512 units" / "3 units (no limit)". */
function quotaCell(used: number, limit: number | undefined, what: (n: number) => string): string {
  return limit === undefined ? `${what(used)} (no limit)` : `${used} of ${what(limit)}`;
}

function renderQuotas(quotas: readonly QuotaUsage[], isAdmin: boolean): string {
  if (quotas.length === 0) return `  ${isAdmin ? "none configured" : "none bind you"}\n`;
  return renderTable(
    [{ header: "QUOTA" }, { header: "LEASED" }, { header: "ARENAS" }],
    quotas.map((q) => [`${q.subject} ${q.id}`, quotaCell(q.leasedUnitCount, q.unitLimit, unitsText), quotaCell(q.arenaCount, q.arenaLimit, (n) => `${n} arena${n === 1 ? "" : "s"}`)]),
    "  ",
  );
}

export function renderStatus({ capabilities, status, policy, quotas }: StatusReport): string {
  const cap = status.capacityUnitCount;
  const daemon = renderFields([
    ["daemon", `gmempool ${capabilities.daemonVersion}, ${status.servingState}${status.startTime === undefined ? "" : ` since ${status.startTime.toISOString()}`}`],
    ["reserve mode", status.reserveMode],
    ["you are", `${identityText(capabilities.caller)}${capabilities.callerIsAdmin ? " (admin)" : " (not admin: --all, policy set and release are refused)"}`],
    ["arena kinds", capabilities.arenaKinds.join(", ") || "none"],
    ["memfd backings", capabilities.memfdBackings.join(", ") || "none"],
    ["conversion modes", capabilities.conversionModes.join(", ") || "none"],
  ]);
  const pool = renderFields(
    [
      ["capacity", unitsText(cap)],
      ["free", unitsText(status.freeUnitCount) + share(status.freeUnitCount, cap)],
      ["claimed", unitsText(status.claimedUnitCount) + share(status.claimedUnitCount, cap)],
      ["leased", unitsText(status.leasedUnitCount) + share(status.leasedUnitCount, cap)],
      ["largest free run", unitsText(status.largestFreeRunUnitCount)],
      ["reserve populated", unitsText(status.reservePopulatedUnitCount)],
      ["split units", String(status.splitUnitCount)],
      ["deferred", `${formatBytes(status.deferredBytes)} of a ${formatBytes(status.deferredCapBytes)} cap`],
      ["arenas", String(status.arenaCount)],
      ["leases", String(status.leaseCount)],
    ],
    "  ",
  );
  const features =
    capabilities.kernelFeatures.length === 0
      ? "  none probed\n"
      : renderTable(
          [{ header: "FEATURE" }, { header: "AVAILABLE" }, { header: "DETAIL" }],
          capabilities.kernelFeatures.map((f) => [f.name, f.available ? "yes" : "no", f.detail]),
          "  ",
        );
  return [daemon, "pool\n" + pool, "policy\n" + renderFields([...poolPolicyFields(policy.poolPolicy), ["arena overrides", String(policy.arenaOverrides.length)]], "  "), "quotas\n" + renderQuotas(quotas, capabilities.callerIsAdmin), "kernel features\n" + features].join("\n");
}
