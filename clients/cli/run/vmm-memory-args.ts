/**
 * Where `gmempool run` puts the arena's memfd in the VMM's command line. The memfd reaches the
 * VMM as an inherited fd (`VMM_MEMFD_FD`, without close-on-exec); the VMM opens it as
 * `/proc/self/fd/N`. Two ways, decided here and nowhere else:
 *
 *  - placeholders: every `{memfd}` in an argument becomes the fd number, every `{memfd-path}`
 *    `/proc/self/fd/N`, and `{memfd-size}` the size in bytes (any VMM: cloud-hypervisor's
 *    `--memory shared=on,...` with a file, a test program);
 *  - QEMU (a program named `qemu-system-*`, no placeholder given): the memory backend is added,
 *    `-object memory-backend-file,id=gmempool,mem-path=/proc/self/fd/N,size=BYTES,share=on
 *    -machine memory-backend=gmempool`, and `-m` is added to match (QEMU refuses a
 *    memory-backend whose size differs from -m; several -machine options are merged). A `-m`
 *    given must name the same size, else this is a usage error naming both.
 */
import { basename } from "node:path";

/** The VMM's fd number of the memfd (after stdin, stdout, stderr). */
export const VMM_MEMFD_FD = 3;

const PLACEHOLDERS = /\{memfd(?:-path|-size)?\}/;
const MIB = 1024n * 1024n;

export class VmmArgsError extends Error {}

/** The size a QEMU `-m` value names, in bytes (`256`, `256M`, `1G`, `size=256M,slots=2,...`); undefined when unreadable. */
export function qemuMemoryBytes(value: string): bigint | undefined {
  const size = value.split(",").map((part) => part.replace(/^size=/, "")).find((part) => !part.includes("=")) ?? "";
  const match = /^(\d+)([kKmMgGtT]?)[bB]?$/.exec(size);
  if (match === null) return undefined;
  const shift: Record<string, bigint> = { "": 20n, k: 10n, m: 20n, g: 30n, t: 40n };
  return BigInt(match[1]!) << shift[match[2]!.toLowerCase()]!;
}

export function isQemu(program: string): boolean {
  return basename(program).startsWith("qemu-system-");
}

/** The VMM's arguments (without the program) with the memfd placed. */
export function vmmMemoryArgs(program: string, args: readonly string[], sizeBytes: bigint): string[] {
  const path = `/proc/self/fd/${VMM_MEMFD_FD}`;
  if (args.some((a) => PLACEHOLDERS.test(a))) {
    return args.map((a) => a.replaceAll("{memfd-path}", path).replaceAll("{memfd-size}", String(sizeBytes)).replaceAll("{memfd}", String(VMM_MEMFD_FD)));
  }
  if (!isQemu(program)) {
    throw new VmmArgsError(`${program} is not QEMU (qemu-system-*): say where the memfd goes with {memfd-path} (or {memfd}, the fd number, and {memfd-size}) in its arguments`);
  }
  const out = [...args];
  const m = args.findIndex((a) => a === "-m" || a === "--m");
  if (m >= 0) {
    const given = args[m + 1];
    const bytes = given === undefined ? undefined : qemuMemoryBytes(given);
    if (bytes !== sizeBytes) throw new VmmArgsError(`-m ${given ?? "(missing)"} does not match --memory (${sizeBytes / MIB} MiB): leave -m out, gmempool run adds it`);
  } else {
    out.push("-m", `${sizeBytes / MIB}M`);
  }
  out.push("-object", `memory-backend-file,id=gmempool,mem-path=${path},size=${sizeBytes},share=on`, "-machine", "memory-backend=gmempool");
  return out;
}
