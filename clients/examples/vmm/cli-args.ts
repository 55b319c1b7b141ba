/**
 * The example VMM's command line:
 *
 *   example-vmm.ts [--runtime-dir DIR] [--memory 64MiB] [--name NAME] [--no-kvm] [--hold] [--json]
 *
 * Parsed with node:util parseArgs; a bad argument is a UsageError (exit status 2).
 */
import { parseArgs } from "node:util";
import { parseSize as parseBytes } from "../../node/src/units.ts";

/** The line --hold prints when it starts waiting (the demo waits for it). */
export const HOLD_MARKER = "holding before the teardown";

export const USAGE = `usage: node --import tsx clients/examples/vmm/example-vmm.ts [options]

  --runtime-dir DIR  where the daemon's sockets are (default: as the daemon decides:
                     $GMEMPOOL_RUNTIME_DIR, /run/gmempool as root, $XDG_RUNTIME_DIR/gmempool,
                     else ./run)
  --memory SIZE      guest memory: the arena's size, a multiple of 2 MiB, at least 8 MiB
                     (default 64MiB; units B, KiB, MiB, GiB, or K, M, G)
  --name NAME        the VM's name, shown to operators (default example-vmm-PID)
  --no-kvm           memfd-only mode: no VM, no vCPU (automatic when /dev/kvm is missing)
  --hold             before the teardown, print "${HOLD_MARKER}" and wait until stdin
                     ends (Ctrl-D) or SIGUSR1: the VM's memory stays as it is, for a look
                     with the operator CLI (npm run demo does this)
  --json             print a JSON summary on stdout (the step log goes to stderr)
  --help             this text`;

export const DEFAULT_MEMORY_BYTES = 64n << 20n;

export interface VmmOptions {
  readonly runtimeDir: string | undefined;
  readonly memoryBytes: bigint;
  readonly name: string;
  readonly noKvm: boolean;
  readonly hold: boolean;
  readonly json: boolean;
  readonly help: boolean;
}

export class UsageError extends Error {
  override readonly name = "UsageError";
}

/** "64MiB", "64M", "1GiB", "2097152" -> bytes (the client library's parser; a UsageError here). */
export function parseSize(text: string): bigint {
  try {
    return parseBytes(text);
  } catch {
    throw new UsageError(`not a size: "${text}" (try 64MiB)`);
  }
}

export function parseVmmArgs(argv: readonly string[], pid = process.pid): VmmOptions {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        "runtime-dir": { type: "string" },
        memory: { type: "string" },
        name: { type: "string" },
        "no-kvm": { type: "boolean", default: false },
        hold: { type: "boolean", default: false },
        json: { type: "boolean", default: false },
        help: { type: "boolean", default: false },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  return {
    runtimeDir: values["runtime-dir"],
    memoryBytes: values.memory === undefined ? DEFAULT_MEMORY_BYTES : parseSize(values.memory),
    name: values.name ?? `example-vmm-${pid}`,
    noKvm: values["no-kvm"],
    hold: values.hold,
    json: values.json,
    help: values.help,
  };
}
