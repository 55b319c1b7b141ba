/**
 * One command's time with the daemon: find it, connect, run the command's requests, close.
 * Every failure on the way ends here and becomes an exit code and a message on stderr
 * (exit-codes.ts, report-failure.ts), so a command only writes its success path.
 */
import type { Pool } from "../node/src/pool.ts";
import type { CommandContext } from "./command-context.ts";
import type { CommonOptions } from "./common-options.ts";
import { locateDaemon } from "./daemon-location.ts";
import { EXIT_OK, exitCodeFor, type ExitCode } from "./exit-codes.ts";
import { reportFailure } from "./report-failure.ts";

/** Runs `work` against the daemon the options name and records the exit code: `work`'s own
 * (EXIT_OK unless it says otherwise), or the failure's. */
export async function withPool(context: CommandContext, options: CommonOptions, work: (pool: Pool) => Promise<ExitCode | undefined>): Promise<void> {
  const location = locateDaemon(options.runtimeDir, context.io);
  let pool: Pool | undefined;
  try {
    pool = await context.connect({ runtimeDir: location.runtimeDir, deadlineMs: options.timeout });
    context.setExitCode((await work(pool)) ?? EXIT_OK);
  } catch (error) {
    reportFailure(context.io.stderr, error, location);
    context.setExitCode(exitCodeFor(error));
  } finally {
    pool?.close();
  }
}
