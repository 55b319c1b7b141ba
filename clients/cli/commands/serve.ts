/**
 * `serve` in the CLI's help only. The `gmempool` executable (src/main/gmempool-bin.mjs) sends
 * `gmempool serve ...` to the daemon before this program is loaded, so the daemon keeps its own
 * flags and help; this entry makes the top-level help list it, and explains itself if the CLI
 * entry is run directly with `serve`.
 */
import type { Command } from "commander";
import type { CommandContext } from "../command-context.ts";
import { EXIT_USAGE } from "../exit-codes.ts";

export function addServeCommand(program: Command, context: CommandContext): void {
  program
    .command("serve")
    .description("run the daemon: API, fd channel and metrics sockets in the runtime directory (`gmempool serve --help` for its flags; `npm start` in a checkout)")
    .helpOption(false)
    .allowUnknownOption()
    .allowExcessArguments()
    .action(() => {
      context.io.stderr.write("gmempool: `serve` runs the daemon; start it through the gmempool executable (src/main/gmempool-bin.mjs serve, or `npm start`)\n");
      context.setExitCode(EXIT_USAGE);
    });
}
