// `npm run demo` end to end: against a running daemon (the newcomer's `npm start`), and with
// no daemon at all (it starts and stops a private one). The demo prints the CLI's status and map
// before, while the example VMM holds its memory, and after; these tests read that output.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { test } from "node:test";
import { PoolClient } from "../node/src/pool-client.ts";
import { SpawnedDaemon } from "../node/src/testing/spawned-daemon.ts";

const DEMO = fileURLToPath(new URL("./demo.ts", import.meta.url));

function runDemo(runtimeDir: string): { code: number | null; out: string } {
  const result = spawnSync(process.execPath, ["--import", "tsx", DEMO, "--runtime-dir", runtimeDir, "--no-kvm"], { encoding: "utf8", timeout: 120_000, env: { ...process.env, NO_COLOR: "1" } });
  return { code: result.status, out: result.stdout + result.stderr };
}

/** The map rows of one arena ("   0 ####..."), from the section that starts with `title`. */
function mapRows(out: string, title: string): string[] {
  const start = out.indexOf(title);
  assert.ok(start >= 0, `no section "${title}" in:\n${out}`);
  // The next section's heading starts a line with "━━━" (the title's own line ends with them).
  const end = out.indexOf("\n━━━", start);
  return out.slice(start, end < 0 ? undefined : end).split("\n").filter((l) => /^\s+\d+ [.#%~_c]+$/.test(l));
}

test("the demo against a running daemon: leased units while the VMM holds them, all free after", async () => {
  const daemon = await SpawnedDaemon.start();
  try {
    const { code, out } = runDemo(daemon.dir);
    assert.equal(code, 0, out);
    assert.doesNotMatch(out, /Starting a private one/);
    const held = mapRows(out, "while the example VMM holds its memory");
    assert.equal(held.length, 1, "one arena while the VMM runs");
    assert.match(held[0]!, /#/, "its leased units show");
    assert.deepEqual(mapRows(out, "after: the VMM is gone"), [], "no arena left");
    assert.match(out, /every check passed/);
    const client = await PoolClient.connect({ runtimeDir: daemon.dir, autoReattach: false });
    try {
      const status = await client.getPoolStatus();
      assert.equal(status.freeUnitCount, status.capacityUnitCount, "every unit back");
    } finally {
      client.close();
    }
  } finally {
    await daemon.stop();
    daemon.removeDir();
  }
});

test("the demo without a daemon starts a private one and removes it afterwards", () => {
  const empty = mkdtempSync(join(tmpdir(), "gmempool-nodaemon-"));
  const before = new Set(readdirSync(tmpdir()).filter((n) => n.startsWith("gmempool-demo-")));
  try {
    const { code, out } = runDemo(empty);
    assert.equal(code, 0, out);
    const privateDir = /Starting a private one in (\S+) for this demo/.exec(out)?.[1];
    assert.ok(privateDir !== undefined, out);
    assert.equal(existsSync(privateDir), false, "the private runtime dir is removed");
    assert.deepEqual(readdirSync(tmpdir()).filter((n) => n.startsWith("gmempool-demo-") && !before.has(n)), []);
  } finally {
    rmSync(empty, { recursive: true, force: true });
  }
});
