/** `gmempool arenas`: one line per arena. Sizes in bytes (formatBytes), counts in units. */
import type { Arena } from "../../node/src/resources.ts";
import { formatBytes } from "../../node/src/units.ts";
import { identityText } from "./identity-text.ts";
import { renderTable } from "./table.ts";

function policyText(arena: Arena): string {
  const discard = arena.policy.discardPolicy + (arena.policy.discardPolicyOverridden ? "*" : "");
  const granularity = formatBytes(arena.policy.punchGranularityBytes) + (arena.policy.punchGranularityOverridden ? "*" : "");
  return `${discard}/${granularity}`;
}

export function renderArenaTable(arenas: readonly Arena[]): string {
  const rows = arenas.map((a) => [
    a.arenaId,
    a.name,
    a.kind,
    a.state,
    identityText(a.owner),
    formatBytes(a.sizeBytes),
    String(a.unitCount),
    String(a.leasedUnitCount),
    String(a.discardedUnitCount),
    String(a.splitUnitCount),
    formatBytes(a.deferredBytes),
    String(a.leaseCount),
    policyText(a),
  ]);
  return (
    renderTable(
      [
        { header: "ID" },
        { header: "NAME" },
        { header: "KIND" },
        { header: "STATE" },
        { header: "OWNER" },
        { header: "SIZE", align: "right" },
        { header: "UNITS", align: "right" },
        { header: "LEASED", align: "right" },
        { header: "DISCARDED", align: "right" },
        { header: "SPLIT", align: "right" },
        { header: "DEFERRED", align: "right" },
        { header: "LEASES", align: "right" },
        { header: "POLICY" },
      ],
      rows,
    ) + (arenas.some((a) => a.policy.discardPolicyOverridden || a.policy.punchGranularityOverridden) ? "POLICY is discard/granularity; * = the arena's override\n" : "")
  );
}
