/**
 * An executable that runs a `gmempool` executable (src/main/gmempool-bin.mjs of some checkout)
 * under node flags — `--cpu-prof`, `--trace-gc` — which NODE_OPTIONS may not carry and which
 * DaemonProcess's `nodeArgs` do not pass to an executable. Benchmarks write it into their
 * temporary directory.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";

export function nodeWrapper(dir: string, nodeArgs: readonly string[], bin: string): string {
  const path = join(dir, "gmempool-wrapped");
  writeFileSync(path, `#!/bin/sh\nexec ${[process.execPath, ...nodeArgs, bin].map((a) => JSON.stringify(a)).join(" ")} "$@"\n`, { mode: 0o755 });
  return path;
}
