/**
 * `gmempool watch`: the daemon's events as they happen, one line each, until Ctrl-C. The first
 * event is always a pool-status snapshot (pool.ts WatchStream).
 */
import { Option, type Command } from "commander";
import { isPoolError } from "../../node/src/pool-errors.ts";
import { POOL_EVENT_KINDS, type PoolEventKind } from "../../node/src/resources.ts";
import type { CommandContext } from "../command-context.ts";
import { addCommonOptions, ALL_OWNERS_HELP, type CommonOptions } from "../common-options.ts";
import { toJson } from "../json-output.ts";
import { withPool } from "../pool-session.ts";
import { eventLine } from "../render/event-line.ts";

interface WatchOptions extends CommonOptions {
  readonly arena?: string | undefined;
  readonly kind?: PoolEventKind[] | undefined;
  readonly all?: boolean | undefined;
}

export function addWatchCommand(program: Command, context: CommandContext): void {
  addCommonOptions(program.command("watch").description("print the daemon's events as they happen, one line each, until Ctrl-C"))
    .option("--arena <id>", "only this arena's events (and pool status)")
    .addOption(new Option("--kind <kind...>", "only these kinds of event (pool-status is always sent first)").choices(POOL_EVENT_KINDS))
    .option("--all", `${ALL_OWNERS_HELP}; without it only pool-wide events (pool-status, pool policy, deferred cap) arrive`)
    .addHelpText(
      "after",
      `
Lines are "TIME #SEQUENCE KIND details"; sequence numbers are pool-wide, so a filtered watch
skips some. With --json each line is one JSON object (PoolEvent, bigints as decimal strings).
The watch ends with exit 0 on Ctrl-C, or with the daemon's error (exit 3 when it drains).

Examples:
  gmempool watch --all
  gmempool watch --all --kind lease-allocated lease-released
  gmempool watch --arena a-0001 --json | jq -c 'select(.kind == "range-discarded")'`,
    )
    .action(async (options: WatchOptions) => {
      await withPool(context, options, async (pool) => {
        const stream = pool.watch({
          allOwners: options.all === true,
          ...(options.arena === undefined ? {} : { arenaId: options.arena }),
          ...(options.kind === undefined ? {} : { kinds: options.kind }),
        });
        const interrupted = new AbortController();
        const stopListening = context.io.onInterrupt(() => {
          interrupted.abort();
          stream.cancel();
        });
        try {
          for await (const event of stream) context.io.stdout.write(options.json === true ? toJson(event) + "\n" : eventLine(event));
        } catch (error) {
          // Ctrl-C during a pending read may surface as the stream's cancellation: that is the
          // normal end of a watch, not a failure.
          if (!(interrupted.signal.aborted && isPoolError(error) && error.kind === "cancelled")) throw error;
        } finally {
          stopListening();
        }
        return undefined;
      });
    });
}
