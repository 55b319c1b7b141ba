/** `gmempool leases`: the leases, one line each, optionally of one arena. */
import type { Command } from "commander";
import type { CommandContext } from "../command-context.ts";
import { addCommonOptions, ALL_OWNERS_HELP, type CommonOptions } from "../common-options.ts";
import { toJson } from "../json-output.ts";
import { hintAllOwners } from "../all-owners-hint.ts";
import { withPool } from "../pool-session.ts";
import { renderLeaseTable } from "../render/lease-table.ts";

interface LeasesOptions extends CommonOptions {
  readonly all?: boolean | undefined;
  readonly arena?: string | undefined;
}

export function addLeasesCommand(program: Command, context: CommandContext): void {
  addCommonOptions(program.command("leases").description("list leases: arena, label, offset, length, shared / private / discarded bytes, split units, owner"))
    .option("--arena <id>", "only this arena's leases (the admin may name any arena)")
    .option("--all", ALL_OWNERS_HELP)
    .addHelpText(
      "after",
      `
OFFSET is the lease's byte offset in its arena's file (not a guest physical address).

Examples:
  gmempool leases --all
  gmempool leases --arena a-0001
  gmempool leases --all --json | jq 'map(.unitCount) | add'`,
    )
    .action(async (options: LeasesOptions) => {
      await withPool(context, options, async (pool) => {
        const leases = await pool.listLeases({ allOwners: options.all === true, ...(options.arena === undefined ? {} : { arenaId: options.arena }) });
        context.io.stdout.write(options.json === true ? toJson(leases, 2) + "\n" : leases.length === 0 ? "no leases\n" : renderLeaseTable(leases));
        hintAllOwners(context, options, leases.length === 0);
        return undefined;
      });
    });
}
