/** `gmempool status`: capabilities, the pool's units by state, fragmentation counters, policy, quotas. */
import type { Command } from "commander";
import type { CommandContext } from "../command-context.ts";
import { addCommonOptions, type CommonOptions } from "../common-options.ts";
import { toJson } from "../json-output.ts";
import { withPool } from "../pool-session.ts";
import { renderStatus } from "../render/status-report.ts";

export function addStatusCommand(program: Command, context: CommandContext): void {
  addCommonOptions(program.command("status").description("the daemon's capabilities, pool capacity by state (free / claimed / leased), split units, deferred bytes, largest free run, serving state and policy"))
    .addHelpText(
      "after",
      `
Capacity = free + claimed + leased units (1 unit = 2 MiB). "claimed" units have a kernel call in
flight; "split" units are leased but mixed shared/private; "deferred" bytes are sub-granule
discards the defer policy holds back.

Examples:
  gmempool status                                   # the daemon of this checkout or session
  gmempool status --runtime-dir /run/gmempool       # a daemon elsewhere
  gmempool status --json | jq .status.freeUnitCount # {capabilities, status, policy, quotas}`,
    )
    .action(async (options: CommonOptions) => {
      await withPool(context, options, async (pool) => {
        const [capabilities, status, policy, quotas] = await Promise.all([pool.getCapabilities(), pool.getPoolStatus(), pool.getPolicy(), pool.getQuotaUsage()]);
        const report = { capabilities, status, policy, quotas };
        context.io.stdout.write(options.json === true ? toJson(report, 2) + "\n" : renderStatus(report));
        return undefined;
      });
    });
}
