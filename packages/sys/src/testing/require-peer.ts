/**
 * The gate of every test that drives a real peer nobody here wrote (Prometheus, promtool, QEMU,
 * Python grpcio, systemd-analyze): where the peer's program is missing the suite is skipped with
 * a printed reason — unless GMEMPOOL_REQUIRE_PEERS=1 (set by .ci/run, which installs them), in
 * which case a missing peer is a failing test, never a silent skip.
 *
 * Usage, at the top of a test file:
 *   const skip = peerSkipReason(["prometheus", "promtool"]);
 *   describe("...", { skip }, () => { ... });
 *
 * Test support, like require-kvm.ts: production code may not import it.
 */
import { accessSync, constants } from "node:fs";
import { delimiter, isAbsolute, join } from "node:path";
import { isRequired, skipOrFail, type Prerequisite } from "./skip-or-fail.ts";

const PEERS: Prerequisite = { variable: "GMEMPOOL_REQUIRE_PEERS", kind: "real-peer" };

/** True when GMEMPOOL_REQUIRE_PEERS=1: skipping a peer test is then a failure. */
export function peersRequired(): boolean {
  return isRequired(PEERS);
}

/** The absolute path of an executable: `program` itself when absolute, else the first on PATH. */
export function findExecutable(program: string): string | undefined {
  const candidates = isAbsolute(program)
    ? [program]
    : (process.env["PATH"] ?? "").split(delimiter).filter((dir) => dir !== "").map((dir) => join(dir, program));
  for (const candidate of candidates) {
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here; the next directory of PATH
    }
  }
  return undefined;
}

/**
 * The `skip` option for a suite that needs `programs` (names on PATH or absolute paths):
 * undefined when every one is there; otherwise the reason, naming the missing ones and the Debian
 * package `.ci/run` installs them from (printed to stderr, or a failing test under
 * GMEMPOOL_REQUIRE_PEERS=1). `probe`, run only once the programs are found, checks what a path
 * cannot show (a Python module the program must import) and returns what is missing, if
 * anything: a missing module skips or fails exactly like a missing program.
 */
export function peerSkipReason(programs: readonly string[], debianPackages: readonly string[] = [], probe?: () => string | undefined): string | undefined {
  const missing = programs.filter((program) => findExecutable(program) === undefined);
  const lacking = missing.length === 0 ? probe?.() : undefined;
  if (missing.length === 0 && lacking === undefined) return undefined;
  const from = debianPackages.length === 0 ? "" : ` (Debian: apt-get install ${debianPackages.join(" ")})`;
  return skipOrFail(PEERS, `${lacking ?? missing.join(", ")} not found${from}`);
}
