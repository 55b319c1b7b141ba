/**
 * The operator CLI: `gmempool status | arenas | leases | frag | policy | watch | release | run`, built
 * only on the client library's `Pool` (clients/node/src), never on the daemon's code (DESIGN.md
 * §4: the containerd model, a CLI on the client). `gmempool serve` is the daemon's; the
 * executable routes it there (src/main/gmempool-bin.mjs) and this program only lists it.
 *
 * `runCli` takes its process (CliIo) and its way to the daemon (ConnectPool) as arguments so
 * that commands run in-process in tests; main.ts runs it on the real process.
 */
import { Command, CommanderError } from "commander";
import type { CliIo } from "./cli-io.ts";
import type { CommandContext } from "./command-context.ts";
import { addArenasCommand } from "./commands/arenas.ts";
import { addFragCommand } from "./commands/frag.ts";
import { addLeasesCommand } from "./commands/leases.ts";
import { addPolicyCommand } from "./commands/policy.ts";
import { addReleaseCommand } from "./commands/release.ts";
import { addRunCommand } from "./commands/run.ts";
import { addServeCommand } from "./commands/serve.ts";
import { addStatusCommand } from "./commands/status.ts";
import { addWatchCommand } from "./commands/watch.ts";
import type { ConnectPool } from "./connect.ts";
import { EXIT_OK, EXIT_REFUSED, EXIT_USAGE, type ExitCode } from "./exit-codes.ts";

/** The package's version (package.json; the daemon's VERSION in src/main/gmempool.ts). */
export const CLI_VERSION = "0.1.0";

const TOP_LEVEL_HELP = `
Every operator command talks to a running daemon (start one with \`npm start\` in a checkout,
or \`gmempool serve\`) and takes --json, --runtime-dir DIR and --timeout MS. Arenas and leases
belong to the VMM process that made them; an operator sees every owner's with --all (admin).

Exit codes: 0 ok; 1 the daemon refused the request (kind and message on stderr); 2 usage error;
3 no daemon answered, or it is starting or draining.

Examples:
  gmempool status
  gmempool frag --all --svg /tmp/frag.svg
  gmempool watch --all --json
  gmempool run --memory 512MiB -- qemu-system-x86_64 -kernel vmlinuz -nographic
Run \`gmempool COMMAND --help\` for a command's flags and examples.`;

export function cliProgram(context: CommandContext): Command {
  const program = new Command("gmempool")
    .description("Owns VM guest memory in 2 MiB units and serves it to VMMs over gRPC; the daemon (serve) and its operator commands")
    .version(CLI_VERSION)
    .exitOverride()
    .configureOutput({
      writeOut: (text) => {
        context.io.stdout.write(text);
      },
      writeErr: (text) => {
        context.io.stderr.write(text);
      },
      getOutHelpWidth: () => context.io.stdout.columns ?? 100,
      getErrHelpWidth: () => context.io.stderr.columns ?? 100,
    })
    .showHelpAfterError("(run with --help for usage and examples)")
    .addHelpText("after", TOP_LEVEL_HELP);
  // Subcommands inherit the settings above (exit override, output, help after error).
  addServeCommand(program, context);
  addStatusCommand(program, context);
  addArenasCommand(program, context);
  addLeasesCommand(program, context);
  addFragCommand(program, context);
  addPolicyCommand(program, context);
  addWatchCommand(program, context);
  addReleaseCommand(program, context);
  addRunCommand(program, context);
  return program;
}

/** Parses `args` (without node and the script), runs the command, returns the exit code. */
export async function runCli(args: readonly string[], io: CliIo, connect: ConnectPool): Promise<ExitCode> {
  let exitCode: ExitCode = EXIT_OK;
  const program = cliProgram({
    io,
    connect,
    setExitCode: (code) => {
      exitCode = code;
    },
  });
  try {
    await program.parseAsync(args, { from: "user" });
    return exitCode;
  } catch (error) {
    // The parser has printed its message already (configureOutput); --help and --version
    // end here too, with exit code 0.
    if (error instanceof CommanderError) return error.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
    io.stderr.write(`gmempool: unexpected failure: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    return EXIT_REFUSED;
  }
}
