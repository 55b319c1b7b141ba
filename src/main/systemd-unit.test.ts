/**
 * deploy/install.sh and deploy/systemd/gmempool.service as shipped: the install (staged in a
 * temporary DESTDIR) makes the unit's ExecStart, /usr/bin/gmempool, a daemon that serves from the
 * installed tree alone; systemd 252's `systemd-analyze verify` has nothing to say about the
 * installed unit and `systemd-analyze security` rates its sandbox at most 5.0.
 *
 * systemd is not PID 1 on the machines that run the suite, so the sandbox itself is not run
 * here (docs/daemon.md "systemd" says what was checked by hand).
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync, readFileSync, readlinkSync, realpathSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { before, describe, test } from "node:test";
import { peerSkipReason } from "@gmempool/sys/testing/peer";
import { testTempDir } from "../daemon/testing/test-temp-dir.ts";
import { DaemonProcess } from "./testing/daemon-process.ts";

const run = promisify(execFile);
const INSTALL = fileURLToPath(new URL("../../deploy/install.sh", import.meta.url));
const INSTALL_UNIT = fileURLToPath(new URL("../../deploy/install-unit.sh", import.meta.url));
const REPO = fileURLToPath(new URL("../..", import.meta.url));
const UNIT = "lib/systemd/system/gmempool.service";
const PRESERVE_DROP_IN = "lib/systemd/system/gmempool.service.d/fd-store-preserve.conf";
/** The bound (systemd-analyze's "OK" band ends at 5.0). */
const MAX_EXPOSURE = 5.0;

async function install(script: string, systemdVersion: string): Promise<string> {
  const root = await testTempDir("install-");
  await run("/bin/sh", [script], { env: { ...process.env, DESTDIR: root, SYSTEMD_VERSION: systemdVersion } });
  return root;
}

/** One whole install (5 s here) for every test of the file. */
let installed: Promise<string> | undefined;
function installedRoot(): Promise<string> {
  installed ??= install(INSTALL, "252");
  return installed;
}

describe("deploy/install.sh into a DESTDIR", () => {
  let root: string;
  before(async () => {
    root = await installedRoot();
  });

  test("/usr/bin/gmempool, the unit's ExecStart, links to the installed tree's bin", () => {
    assert.equal(readlinkSync(join(root, "usr/bin/gmempool")), "../lib/gmempool/src/main/gmempool-bin.mjs");
    assert.equal(realpathSync(join(root, "usr/bin/gmempool")), realpathSync(join(root, "usr/lib/gmempool/src/main/gmempool-bin.mjs")));
    assert.match(readFileSync(join(root, UNIT), "utf8"), /^ExecStart=\/usr\/bin\/gmempool serve /m);
  });

  test("installs the example config, the runtime dependencies and no dev tool", () => {
    assert.ok(existsSync(join(root, "etc/gmempool/gmempool.toml")));
    assert.ok(existsSync(join(root, "usr/lib/gmempool/node_modules/tsx/package.json")), "tsx runs the TypeScript");
    assert.ok(existsSync(join(root, "usr/lib/gmempool/node_modules/koffi/package.json")));
    assert.ok(!existsSync(join(root, "usr/lib/gmempool/node_modules/typescript")));
    assert.ok(!existsSync(join(root, "usr/lib/gmempool/node_modules/eslint")));
  });

  test("the installed /usr/bin/gmempool serves from the installed tree, run from /", async () => {
    const dir = await testTempDir("installed-daemon-");
    const daemon = await DaemonProcess.start({
      executable: join(root, "usr/bin/gmempool"),
      dir,
      config: '[pool]\ncapacity = "8MiB"\nreserve = "none"\n[journal]\nfsync = false\n',
      logLevel: "info",
    });
    try {
      // Serving (start() waited for it), with koffi's native module mapped from the installed tree.
      const maps = readFileSync(`/proc/${daemon.child.pid}/maps`, "utf8");
      assert.ok(maps.includes(join(realpathSync(root), "usr/lib/gmempool/node_modules/@koromix/")), "koffi.node mapped from the installed tree");
      assert.ok(!maps.includes(join(REPO, "node_modules/")), "nothing loaded from the checkout");
    } finally {
      assert.equal(await daemon.stop(), 0);
    }
  });

  test("FileDescriptorStorePreserve= (systemd >= 254) comes as a drop-in only where systemd has it", async () => {
    assert.ok(!existsSync(join(root, PRESERVE_DROP_IN)), "not on 252");
    assert.doesNotMatch(readFileSync(join(root, UNIT), "utf8"), /^FileDescriptorStorePreserve=/m);
    const newer = await install(INSTALL_UNIT, "254");
    assert.match(readFileSync(join(newer, PRESERVE_DROP_IN), "utf8"), /^FileDescriptorStorePreserve=yes$/m);
  });
});

describe("the installed gmempool.service under systemd-analyze", { skip: peerSkipReason(["systemd-analyze"], ["systemd"]) }, () => {
  let unit: string;
  before(async () => {
    const root = await installedRoot();
    // verify checks that ExecStart exists on this host; the unit names the installed path, so
    // the copy verified here names the same file under the staging root. Nothing else changes.
    const dir = await testTempDir("unit-");
    unit = join(dir, "gmempool.service");
    const text = readFileSync(join(root, UNIT), "utf8");
    writeFileSync(unit, text.replace(/^ExecStart=\/usr\/bin\/gmempool /m, `ExecStart=${join(root, "usr/bin/gmempool")} `));
  });

  test("systemd-analyze verify has nothing to say (no unknown key, no missing command)", async () => {
    const { stdout, stderr } = await run("systemd-analyze", ["verify", unit]);
    assert.equal(stderr, "");
    assert.equal(stdout, "");
  });

  test(`systemd-analyze security rates the sandbox at most ${MAX_EXPOSURE}`, async () => {
    const { stdout } = await run("systemd-analyze", ["security", "--offline=yes", "--no-pager", unit]);
    const match = /Overall exposure level for gmempool\.service: (\d+\.\d+)/.exec(stdout);
    assert.ok(match !== null, `no exposure level in:\n${stdout}`);
    const exposure = Number(match[1]);
    assert.ok(exposure <= MAX_EXPOSURE, `exposure ${exposure} > ${MAX_EXPOSURE}:\n${stdout}`);
  });
});
