// The newcomer's path (README's first command): `gmempool serve` without a config file, as an
// ordinary user — reserve none, shmem memfd arenas, and that user is the daemon's admin, so
// `gmempool arenas --all` works without root. As root the test runs both the daemon and the CLI
// as nobody (uid 65534), which is what a newcomer without root is.
import assert from "node:assert/strict";
import { spawn, spawnSync, type SpawnSyncReturns } from "node:child_process";
import { once } from "node:events";
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { test } from "node:test";

const BIN = fileURLToPath(new URL("./gmempool-bin.mjs", import.meta.url));
const REPO = fileURLToPath(new URL("../..", import.meta.url));
const NOBODY = 65534;

test("gmempool serve on the embedded default runs as an ordinary user, who is its admin", async () => {
  const asRoot = process.getuid?.() === 0;
  const ids = asRoot ? { uid: NOBODY, gid: NOBODY } : {};
  const dir = mkdtempSync(join(tmpdir(), "gmempool-default-"));
  chmodSync(dir, 0o777);
  const runtimeDir = join(dir, "run");
  // TSX_DISABLE_CACHE: tsx would otherwise leave a compile cache of nobody's in /tmp/tsx-65534.
  const env = { ...process.env, HOME: dir, GMEMPOOL_RUNTIME_DIR: "", XDG_RUNTIME_DIR: "", TSX_DISABLE_CACHE: "1" };
  const daemon = spawn(process.execPath, [BIN, "serve", "--runtime-dir", runtimeDir], { cwd: REPO, env, stdio: ["ignore", "pipe", "pipe"], ...ids });
  const exited = once(daemon, "exit");
  let log = "";
  daemon.stdout.on("data", (c: Buffer) => (log += c.toString("utf8")));
  daemon.stderr.on("data", (c: Buffer) => (log += c.toString("utf8")));
  const cli = (...args: string[]): SpawnSyncReturns<string> => spawnSync(process.execPath, [BIN, ...args, "--runtime-dir", runtimeDir, "--json"], { cwd: REPO, env, encoding: "utf8", ...ids });
  try {
    const start = performance.now();
    while (!log.includes('"msg":"serving"')) {
      if (daemon.exitCode !== null) assert.fail(`the daemon exited with ${daemon.exitCode}:\n${log}`);
      if (performance.now() - start > 60_000) assert.fail(`the daemon did not serve within 60 s:\n${log}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
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
    daemon.kill("SIGTERM");
    await exited;
    rmSync(dir, { recursive: true, force: true });
  }
});
