/** `gmempool arenas`: the arenas, one line each. */
import type { Command } from "commander";
import type { CommandContext } from "../command-context.ts";
import { addCommonOptions, ALL_OWNERS_HELP, type CommonOptions } from "../common-options.ts";
import { toJson } from "../json-output.ts";
import { hintAllOwners } from "../all-owners-hint.ts";
import { withPool } from "../pool-session.ts";
import { renderArenaTable } from "../render/arena-table.ts";

interface ArenasOptions extends CommonOptions {
  readonly all?: boolean | undefined;
}

export function addArenasCommand(program: Command, context: CommandContext): void {
  addCommonOptions(program.command("arenas").description("list arenas: kind, state, owner, size, leased / discarded / split units, deferred bytes, policy"))
    .option("--all", ALL_OWNERS_HELP)
    .addHelpText(
      "after",
      `
An arena belongs to the process that made it (a VMM), so an operator lists them with --all.

Examples:
  gmempool arenas --all
  gmempool arenas --all --json | jq '.[] | {arenaId, leasedUnitCount}'`,
    )
    .action(async (options: ArenasOptions) => {
      await withPool(context, options, async (pool) => {
        const arenas = await pool.listArenas({ allOwners: options.all === true });
        context.io.stdout.write(options.json === true ? toJson(arenas, 2) + "\n" : arenas.length === 0 ? "no arenas\n" : renderArenaTable(arenas));
        hintAllOwners(context, options, arenas.length === 0);
        return undefined;
      });
    });
}
