/**
 * `gmempool run`: a launcher for unmodified VMMs. It creates a memfd arena and a lease of
 * `--memory`, starts the VMM with the memfd inherited (QEMU's memory backend filled in, or the
 * `{memfd-path}` placeholders substituted), hands the arena to the VMM's process, forwards
 * SIGINT / SIGTERM to it and exits with its status. The work is clients/cli/run/.
 */
import { basename } from "node:path";
import { InvalidArgumentError, type Command } from "commander";
import { UNIT_BYTES, formatBytes } from "../../node/src/units.ts";
import type { MemfdBacking } from "../../node/src/resources.ts";
import type { CommandContext } from "../command-context.ts";
import { addCommonOptions, parseSizeOption, type CommonOptions } from "../common-options.ts";
import { locateDaemon } from "../daemon-location.ts";
import { EXIT_USAGE, exitCodeFor } from "../exit-codes.ts";
import { reportFailure } from "../report-failure.ts";
import { EXIT_NOT_EXECUTED, launchVmm } from "../run/vmm-launcher.ts";
import { VmmArgsError } from "../run/vmm-memory-args.ts";

interface RunOptions extends CommonOptions {
  readonly memory?: bigint | undefined;
  readonly backing: MemfdBacking;
  readonly label?: string | undefined;
}

function parseBacking(text: string): MemfdBacking {
  if (text !== "shmem" && text !== "hugetlb") throw new InvalidArgumentError(`--backing is shmem or hugetlb, not "${text}".`);
  return text;
}

export function addRunCommand(program: Command, context: CommandContext): void {
  const run: Command = addCommonOptions(program.command("run").description("run a VMM on pool memory: a memfd arena and lease of --memory, inherited by the VMM, owned by its process"))
    .option("--memory <size>", "guest memory, a multiple of 2 MiB (512MiB, 2GiB)", parseSizeOption)
    .option("--backing <backing>", "shmem, or hugetlb (needs the daemon's hugetlb reserve)", parseBacking, "shmem")
    .option("--label <label>", "the lease's label and the arena's name (default: the VMM's program name)")
    .argument("<vmm...>", "the VMM and its arguments, after --")
    .addHelpText(
      "after",
      `
The memfd is the VMM's fd 3. For QEMU (qemu-system-*) gmempool run adds
  -m SIZE -object memory-backend-file,id=gmempool,mem-path=/proc/self/fd/3,size=BYTES,share=on
  -machine memory-backend=gmempool
Any other VMM names the memfd in its arguments: {memfd-path} (/proc/self/fd/3), {memfd} (3),
{memfd-size} (bytes). The arena belongs to the VMM's process once it started: the VMM's exit
frees the memory; the launcher's (even kill -9) does not. Exit status: the VMM's.

Examples:
  gmempool run --memory 512MiB -- qemu-system-x86_64 -accel kvm -kernel vmlinuz -nographic
  gmempool run --memory 1GiB --label vm-7 -- my-vmm --ram-file {memfd-path} --ram-size {memfd-size}`,
    )
    .action(async (vmm: string[], options: RunOptions) => {
      const sizeBytes = options.memory;
      if (sizeBytes === undefined) return run.error("error: --memory SIZE is required");
      if (sizeBytes === 0n || sizeBytes % UNIT_BYTES !== 0n) return run.error(`error: --memory ${formatBytes(sizeBytes)} is not a positive multiple of 2 MiB`);
      const [programName, ...args] = vmm;
      const location = locateDaemon(options.runtimeDir, context.io);
      let pool;
      try {
        pool = await context.connect({ runtimeDir: location.runtimeDir, deadlineMs: options.timeout });
        const launched = await launchVmm(pool, { sizeBytes, backing: options.backing, label: options.label ?? basename(programName!), program: programName!, args }, context.io);
        // The VMM owns its memory now: nothing more to ask of the daemon.
        pool.close();
        context.setExitCode(await launched.exited);
      } catch (error) {
        if (error instanceof VmmArgsError) {
          context.io.stderr.write(`gmempool run: ${error.message}\n`);
          context.setExitCode(EXIT_USAGE);
        } else if (error instanceof Error && "syscall" in error && String(error.syscall).startsWith("spawn")) {
          context.io.stderr.write(`gmempool run: cannot run ${programName}: ${error.message}\n`);
          context.setExitCode(EXIT_NOT_EXECUTED);
        } else {
          reportFailure(context.io.stderr, error, location);
          context.setExitCode(exitCodeFor(error));
        }
      } finally {
        pool?.close();
      }
      return undefined;
    });
}
