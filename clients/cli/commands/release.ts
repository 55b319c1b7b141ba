/**
 * `gmempool release`: the operator takes memory back by force (Admin.ForceRelease) — one lease,
 * one arena with its leases, or every arena of one process. The owner is not asked; its VM
 * loses that memory, so this is for stuck or runaway VMMs.
 */
import type { Command } from "commander";
import type { ForceReleaseTarget } from "../../node/src/pool.ts";
import type { CommandContext } from "../command-context.ts";
import { addCommonOptions, parsePid, type CommonOptions } from "../common-options.ts";
import { toJson } from "../json-output.ts";
import { withPool } from "../pool-session.ts";
import { unitsText } from "../render/frag-summary.ts";

interface ReleaseOptions extends CommonOptions {
  readonly lease?: string | undefined;
  readonly arena?: string | undefined;
  readonly pid?: number | undefined;
}

function targetOf(options: ReleaseOptions): ForceReleaseTarget | undefined {
  if (options.lease !== undefined) return { leaseId: options.lease };
  if (options.arena !== undefined) return { arenaId: options.arena };
  if (options.pid !== undefined) return { ownerPid: options.pid };
  return undefined;
}

export function addReleaseCommand(program: Command, context: CommandContext): void {
  const release: Command = addCommonOptions(program.command("release").description("force-release one lease, one arena (and its leases) or every arena of a process (admin only)"))
    .option("--lease <id>", "release this lease")
    .option("--arena <id>", "delete this arena, releasing its leases")
    .option("--pid <pid>", "delete every arena of this process, releasing their leases", parsePid)
    .addHelpText(
      "after",
      `
Give exactly one of --lease, --arena, --pid. The owning VMM is not asked: its guest loses the
memory, so use this for a VMM that is stuck or gone. Find ids with \`gmempool leases --all\` and
\`gmempool arenas --all\`.

Examples:
  gmempool release --lease l-0007
  gmempool release --arena a-0001
  gmempool release --pid 4242 --json`,
    )
    .action(async (options: ReleaseOptions) => {
      const given = [options.lease, options.arena, options.pid].filter((v) => v !== undefined).length;
      const target = targetOf(options);
      if (given !== 1 || target === undefined) release.error("error: give exactly one of --lease ID, --arena ID or --pid PID");
      await withPool(context, options, async (pool) => {
        const result = await pool.forceRelease(target);
        context.io.stdout.write(
          options.json === true
            ? toJson(result, 2) + "\n"
            : `released ${result.releasedLeaseCount} lease${result.releasedLeaseCount === 1 ? "" : "s"} and ${unitsText(result.releasedUnitCount)}; ${result.deletedArenaCount} arena${result.deletedArenaCount === 1 ? "" : "s"} deleted\n`,
        );
        return undefined;
      });
    });
}
