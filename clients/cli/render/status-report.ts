/**
 * `gmempool status` in words: who answered and what it can do, the pool's units by state
 * (free + claimed + leased = capacity), fragmentation counters and the pool-wide policy.
 */
import type { Capabilities, PolicyView, PoolStatus } from "../../node/src/resources.ts";
import { formatBytes } from "../../node/src/units.ts";
import { unitsText } from "./frag-summary.ts";
import { identityText } from "./identity-text.ts";
import { poolPolicyFields } from "./policy-report.ts";
import { renderFields, renderTable } from "./table.ts";

export interface StatusReport {
  readonly capabilities: Capabilities;
  readonly status: PoolStatus;
  readonly policy: PolicyView;
}

function share(part: number, whole: number): string {
  return whole === 0 ? "" : ` ${((part * 100) / whole).toFixed(1)}%`;
}

export function renderStatus({ capabilities, status, policy }: StatusReport): string {
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
  return [daemon, "pool\n" + pool, "policy\n" + renderFields([...poolPolicyFields(policy.poolPolicy), ["arena overrides", String(policy.arenaOverrides.length)]], "  "), "kernel features\n" + features].join("\n");
}
