/**
 * The CLI's entry: what `gmempool <command>` runs for every command but `serve` (the bin shim,
 * src/main/gmempool-bin.mjs, picks this file or the daemon's). It runs the program on this
 * process and the real client, and leaves the exit code for Node to exit with once output is
 * flushed (never process.exit, which could cut off piped output).
 */
import { processIo } from "./cli-io.ts";
import { connectPoolClient } from "./connect.ts";
import { runCli } from "./gmempool-cli.ts";

process.exitCode = await runCli(process.argv.slice(2), processIo(), connectPoolClient);
