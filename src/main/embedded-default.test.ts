// The newcomer's path (README's first command): `gmempool serve` without a config file, as an
// ordinary user — reserve none, shmem memfd arenas, and that user is the daemon's admin, so
// `gmempool arenas --all` works without root. As root the test runs both the daemon and the CLI
// as nobody (uid 65534), which is what a newcomer without root is.
import assert from "node:assert/strict";
import { spawnSync, type SpawnSyncReturns } from "node:child_process";
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { test } from "node:test";
import { DaemonProcess } from "./testing/daemon-process.ts";

const BIN = fileURLToPath(new URL("./gmempool-bin.mjs", import.meta.url));
const REPO = fileURLToPath(new URL("../..", import.meta.url));
const NOBODY = 65534;

test("gmempool serve on the embedded default runs as an ordinary user, who is its admin", async () => {
  const asRoot = process.getuid?.() === 0;
  const ids = asRoot ? { uid: NOBODY, gid: NOBODY } : undefined;
  const parent = mkdtempSync(join(tmpdir(), "gmempool-default-"));
  chmodSync(parent, 0o777);
  // TSX_DISABLE_CACHE: tsx would otherwise leave a compile cache of nobody's in /tmp/tsx-65534.
  const env = { HOME: parent, GMEMPOOL_RUNTIME_DIR: "", XDG_RUNTIME_DIR: "", TSX_DISABLE_CACHE: "1" };
  const runtimeDir = join(parent, "run");
  const cli = (...args: string[]): SpawnSyncReturns<string> => spawnSync(process.execPath, [BIN, ...args, "--runtime-dir", runtimeDir, "--json"], { cwd: REPO, env: { ...process.env, ...env }, encoding: "utf8", ...ids });
  try {
    const daemon = await DaemonProcess.start({ dir: runtimeDir, env, ...(ids === undefined ? {} : { runAs: ids }) });
    try {
      const status = cli("status");
      assert.equal(status.status, 0, status.stderr);
      const report = JSON.parse(status.stdout) as { capabilities: { reserveMode: string; arenaKinds: string[]; callerIsAdmin: boolean; caller: { uid: number } } };
      assert.equal(report.capabilities.reserveMode, "none", "no reserve without root");
      assert.deepEqual(report.capabilities.arenaKinds, ["memfd"]);
      assert.equal(report.capabilities.caller.uid, asRoot ? NOBODY : process.getuid?.());
      assert.equal(report.capabilities.callerIsAdmin, true, "the user who runs the daemon is its admin");
      const arenas = cli("arenas", "--all");
      assert.equal(arenas.status, 0, arenas.stderr);
    } finally {
      await daemon.stop();
    }
  } finally {
    rmSync(parent, { recursive: true, force: true });
  }
});
