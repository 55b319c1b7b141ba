/** `gmempool leases`: one line per lease, with where it lies in its arena's file. */
import type { Lease } from "../../node/src/resources.ts";
import { formatBytes } from "../../node/src/units.ts";
import { identityText } from "./identity-text.ts";
import { renderTable } from "./table.ts";

export function renderLeaseTable(leases: readonly Lease[]): string {
  const rows = leases.map((l) => [
    l.leaseId,
    l.arenaId,
    l.label,
    `0x${l.offsetBytes.toString(16)}`,
    formatBytes(l.lengthBytes),
    String(l.unitCount),
    formatBytes(l.sharedBytes),
    formatBytes(l.privateBytes),
    formatBytes(l.discardedBytes),
    String(l.splitUnitCount),
    identityText(l.owner),
  ]);
  return renderTable(
    [
      { header: "ID" },
      { header: "ARENA" },
      { header: "LABEL" },
      { header: "OFFSET", align: "right" },
      { header: "LENGTH", align: "right" },
      { header: "UNITS", align: "right" },
      { header: "SHARED", align: "right" },
      { header: "PRIVATE", align: "right" },
      { header: "DISCARDED", align: "right" },
      { header: "SPLIT", align: "right" },
      { header: "OWNER" },
    ],
    rows,
  );
}
