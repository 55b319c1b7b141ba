/**
 * `gmempool policy get | set`: the discard policy (what a discard smaller than the punch
 * granularity does), pool-wide or per arena. `set` is admin only.
 */
import { Option, type Command } from "commander";
import type { SetPolicyRequest } from "../../node/src/pool.ts";
import type { DiscardPolicy } from "../../node/src/resources.ts";
import type { CommandContext } from "../command-context.ts";
import { addCommonOptions, parseSizeOption, type CommonOptions } from "../common-options.ts";
import { toJson } from "../json-output.ts";
import { withPool } from "../pool-session.ts";
import { poolPolicyFields, renderOverrides, renderPolicyView } from "../render/policy-report.ts";
import { renderFields } from "../render/table.ts";

interface PolicySetOptions extends CommonOptions {
  readonly arena?: string | undefined;
  readonly discard?: DiscardPolicy | undefined;
  readonly granularity?: bigint | undefined;
  readonly deferredCap?: bigint | undefined;
  readonly overflow?: DiscardPolicy | undefined;
  readonly clear?: boolean | undefined;
}

/** The request the flags describe, or the reason they describe none (a usage error). */
export function setPolicyRequest(options: PolicySetOptions): SetPolicyRequest | string {
  const poolWideOnly = options.deferredCap !== undefined || options.overflow !== undefined;
  if (options.arena !== undefined && poolWideOnly) return "--deferred-cap and --overflow are pool-wide; leave out --arena to set them";
  if (options.clear === true && options.arena === undefined) return "--clear drops an arena's override: name the arena with --arena ID";
  if (options.discard === undefined && options.granularity === undefined && !poolWideOnly && options.clear !== true) {
    return "nothing to set: give --discard, --granularity, --deferred-cap, --overflow or (with --arena) --clear";
  }
  return {
    ...(options.arena === undefined ? {} : { arenaId: options.arena }),
    ...(options.discard === undefined ? {} : { discardPolicy: options.discard }),
    ...(options.granularity === undefined ? {} : { punchGranularityBytes: options.granularity }),
    ...(options.deferredCap === undefined ? {} : { deferredCapBytes: options.deferredCap }),
    ...(options.overflow === undefined ? {} : { deferredOverflowPolicy: options.overflow }),
    ...(options.clear === true ? { clearArenaOverride: true } : {}),
  };
}

function addGet(policy: Command, context: CommandContext): void {
  addCommonOptions(policy.command("get").description("show the pool-wide policy and the arenas' overrides"))
    .addHelpText(
      "after",
      `
Examples:
  gmempool policy get
  gmempool policy get --json | jq .poolPolicy.discardPolicy`,
    )
    .action(async (options: CommonOptions) => {
      await withPool(context, options, async (pool) => {
        const view = await pool.getPolicy();
        context.io.stdout.write(options.json === true ? toJson(view, 2) + "\n" : renderPolicyView(view));
        return undefined;
      });
    });
}

function addSet(policy: Command, context: CommandContext): void {
  const set: Command = addCommonOptions(policy.command("set").description("change the pool-wide policy, or one arena's override of it (admin only)"))
    .option("--arena <id>", "change this arena's override instead of the pool-wide policy")
    .addOption(new Option("--discard <policy>", "what a discard smaller than the punch granularity does").choices(["reject", "zero", "defer"]))
    .option("--granularity <size>", "punch granularity: 4KiB, 2MiB, or a power-of-two multiple of 2MiB up to 1GiB", parseSizeOption)
    .option("--deferred-cap <size>", "pool-wide: deferred bytes at most (e.g. 1GiB); past it the overflow policy applies", parseSizeOption)
    .addOption(new Option("--overflow <policy>", "pool-wide: what a sub-granule discard does once the deferred cap is reached").choices(["reject", "zero"]))
    .option("--clear", "with --arena: drop the arena's override first (alone: the arena follows the pool again)")
    .addHelpText(
      "after",
      `
Discard policies, for the part of a discard smaller than the punch granularity:
  reject  refuse the discard (FAILED_PRECONDITION names the granule boundaries)
  zero    write zeros over it at once (memory stays allocated)
  defer   remember it, and punch the granule once all of it is discarded
Whole granules are always punched (their memory goes back to the reserve).

Examples:
  gmempool policy set --discard defer --deferred-cap 1GiB --overflow zero
  gmempool policy set --arena a-0001 --discard reject --granularity 2MiB
  gmempool policy set --arena a-0001 --clear`,
    )
    .action(async (options: PolicySetOptions) => {
      const request = setPolicyRequest(options);
      if (typeof request === "string") set.error(`error: ${request}`);
      await withPool(context, options, async (pool) => {
        const result = await pool.setPolicy(request);
        if (options.json === true) context.io.stdout.write(toJson(result, 2) + "\n");
        else {
          const override = result.arenaOverride === undefined ? "" : "\n" + renderOverrides([result.arenaOverride]);
          context.io.stdout.write("pool policy\n" + renderFields(poolPolicyFields(result.poolPolicy), "  ") + override);
        }
        return undefined;
      });
    });
}

export function addPolicyCommand(program: Command, context: CommandContext): void {
  const policy = program
    .command("policy")
    .description("show or change the discard policy (policy get | policy set)")
    .addHelpText(
      "after",
      `
Examples:
  gmempool policy get
  gmempool policy set --discard zero`,
    );
  addGet(policy, context);
  addSet(policy, context);
}
