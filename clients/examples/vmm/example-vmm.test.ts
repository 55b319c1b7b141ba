/**
 * The example VMM end to end in memfd-only mode, which runs anywhere: the real daemon in a
 * temporary runtime directory, the example VMM as a separate process against it, then the
 * daemon asked through a client of the test's own whether every unit came back. The KVM mode
 * is example-vmm.kvm.test.ts.
 */
import assert from "node:assert/strict";
import { closeSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { PoolClient } from "../../node/src/pool-client.ts";
import { SpawnedDaemon } from "../../node/src/testing/spawned-daemon.ts";
import { kvmUnavailableReason } from "@gmempool/sys";
import { poolAccount, runExampleVmm, summaryOf, wholePool } from "./testing/run-example-vmm.ts";

/** testConfig()'s 256 MiB. */
const CAPACITY_UNITS = 128;
const KiB = 1024n;
const MiB = 1024n * KiB;

const MEMFD_CHECKS = [
  "unit-size",
  "arena-empty",
  "boot-placement",
  "boot-populated",
  "boot-pattern",
  "hotplug-1-placement",
  "hotplug-1-populated",
  "hotplug-1-pattern",
  "sub-unit-discard-accounted",
  "whole-unit-discard-released",
  "whole-unit-discard-punched",
  "whole-unit-discard-freed",
  "nothing-left",
];

describe("the example VMM in memfd-only mode, against the real daemon", () => {
  let daemon: SpawnedDaemon;
  before(async () => {
    daemon = await SpawnedDaemon.start();
  });
  after(async () => {
    await daemon.stop();
    daemon.removeDir();
  });

  test("--no-kvm --json: allocate, load, hot-plug, discard and release, every check passes, and the daemon has every unit back", async () => {
    const run = await runExampleVmm(["--runtime-dir", daemon.dir, "--memory", "64MiB", "--no-kvm", "--json", "--name", "vm-under-test"]);
    const summary = summaryOf(run);
    const context = `stderr:\n${run.stderr}\ndaemon log:\n${daemon.log.slice(-30).join("\n")}`;
    assert.equal(run.status, 0, context);
    assert.equal(summary.error, undefined, context);
    assert.deepEqual(summary.checks.filter((c) => !c.ok), [], context);
    assert.deepEqual(summary.checks.map((c) => c.name), MEMFD_CHECKS);
    assert.equal(summary.ok, true);
    assert.equal(summary.mode, "memfd");
    assert.equal(summary.modeReason, "--no-kvm");
    assert.equal(summary.memoryBytes, (64n * MiB).toString());
    assert.equal(summary.arena?.kind, "memfd");
    assert.equal(summary.arena.sizeBytes, (64n * MiB).toString());
    assert.deepEqual(
      summary.leases.map((l) => [l.label, l.offsetBytes, l.unitCount]),
      [
        ["boot", "0", 16],
        ["hotplug-1", (32n * MiB).toString(), 8],
      ],
    );
    // The test config's default discard policy is defer: the sub-unit range stays populated
    // until its unit is wholly discarded; the whole unit is punched and goes back at once.
    assert.deepEqual(
      summary.discards.map((d) => [d.what, d.lengthBytes, d.result?.punchedBytes, d.result?.deferredBytes, d.result?.releasedUnitCount]),
      [
        ["sub-unit", (64n * KiB).toString(), "0", (64n * KiB).toString(), 0],
        ["whole-unit", (2n * MiB).toString(), (2n * MiB).toString(), "0", 1],
      ],
    );
    assert.match(summary.conversions[0]?.skipped ?? "", /memfd arena has no private memory/);
    assert.deepEqual(summary.guestRuns, []);
    // 16 boot units + 7 hot-plugged ones; the eighth went back at the whole-unit discard.
    assert.equal(summary.releasedUnitCount, 23);
    // The step log went to stderr, in order.
    const steps = run.stderr.split("\n").filter((line) => /^\[\d+\] /.test(line));
    assert.match(steps[0] ?? "", /^\[1\] example VMM "vm-under-test": 64 MiB of guest memory, memfd-only mode \(--no-kvm\)$/);
    assert.ok(steps.some((s) => s.includes("tear down")), run.stderr);
    assert.match(steps.at(-1) ?? "", /done: all 13 checks passed/);
    assert.deepEqual(await poolAccount(daemon.dir), wholePool(CAPACITY_UNITS));
  });

  test("without /dev/kvm and without --no-kvm, it chooses memfd-only mode by itself and prints its steps on stdout", { skip: kvmUnavailableReason() === undefined ? "/dev/kvm is usable here: the KVM test covers this run" : undefined }, async () => {
    const run = await runExampleVmm(["--runtime-dir", daemon.dir, "--memory", "8MiB"]);
    assert.equal(run.status, 0, `${run.stdout}\n${run.stderr}`);
    assert.equal(run.stderr, "");
    assert.match(run.stdout, /^\[1\] example VMM "example-vmm-\d+": 8 MiB of guest memory, memfd-only mode \(\/dev\/kvm is not usable here \(ENOENT\)\)$/m);
    assert.match(run.stdout, /^ {4}check boot-pattern: ok — 2 units read back as written$/m);
    assert.match(run.stdout, /^\[\d+\] done: all 13 checks passed$/m);
    assert.deepEqual(await poolAccount(daemon.dir), wholePool(CAPACITY_UNITS));
  });

  test("the daemon's discard policy decides the sub-unit discard: under reject it is refused, reported, and the run goes on; under zero the range reads as zeros", async () => {
    const admin = await PoolClient.connect({ runtimeDir: daemon.dir });
    try {
      await admin.setPolicy({ discardPolicy: "reject" });
      const rejected = summaryOf(await runExampleVmm(["--runtime-dir", daemon.dir, "--memory", "8MiB", "--no-kvm", "--json"]));
      assert.equal(rejected.ok, true, JSON.stringify(rejected));
      assert.equal(rejected.discards[0]?.refused?.kind, "failed-precondition");
      assert.match(rejected.discards[0].refused.message, /policy reject/);
      assert.equal(rejected.discards[1]?.result?.punchedBytes, (2n * MiB).toString());
      assert.ok(!rejected.checks.some((c) => c.name.startsWith("sub-unit")));

      await admin.setPolicy({ discardPolicy: "zero" });
      const zeroed = summaryOf(await runExampleVmm(["--runtime-dir", daemon.dir, "--memory", "8MiB", "--no-kvm", "--json"]));
      assert.equal(zeroed.ok, true, JSON.stringify(zeroed));
      assert.equal(zeroed.discards[0]?.result?.zeroedBytes, (64n * KiB).toString());
      assert.deepEqual(zeroed.checks.find((c) => c.name === "sub-unit-discard-zeroed")?.ok, true);
    } finally {
      await admin.setPolicy({ discardPolicy: "defer" });
      admin.close();
    }
    assert.deepEqual(await poolAccount(daemon.dir), wholePool(CAPACITY_UNITS));
  });

  test("a step that fails (a boot lease bigger than what is free) ends the run with status 1 and the daemon's error, after a full teardown", async () => {
    // Another VMM holds 100 of the 128 units: the 256 MiB VM's arena fits the pool, its 64-unit boot lease does not.
    const other = await PoolClient.connect({ runtimeDir: daemon.dir });
    const held = await other.createMemfdArena({ sizeBytes: 100n * 2n * 1024n * 1024n });
    await other.allocate(held.arena.arenaId, { unitCount: 100 });
    let run;
    try {
      run = await runExampleVmm(["--runtime-dir", daemon.dir, "--memory", "256MiB", "--no-kvm", "--json"]);
    } finally {
      closeSync(held.memfd);
      await other.deleteArena(held.arena.arenaId, { releaseLeases: true });
      other.close();
    }
    const summary = summaryOf(run);
    assert.equal(run.status, 1, run.stderr);
    assert.equal(summary.ok, false);
    assert.match(summary.error ?? "", /^ExhaustedError \(exhausted\): Allocate: .*64 units.*28 free/);
    assert.deepEqual(summary.leases, []);
    assert.match(run.stderr, /tear down, in reverse order of set-up\n.*arena .* deleted/);
    assert.deepEqual(summary.checks.filter((c) => !c.ok), []);
    assert.deepEqual(await poolAccount(daemon.dir), wholePool(CAPACITY_UNITS));
  });
});

describe("the example VMM's command line", () => {
  test("no daemon in the runtime directory: status 1, and the error says the daemon is unavailable", async () => {
    const empty = mkdtempSync(join(tmpdir(), "gmempool-no-daemon-"));
    try {
      const run = await runExampleVmm(["--runtime-dir", empty, "--no-kvm", "--json"]);
      assert.equal(run.status, 1, run.stderr);
      assert.match(summaryOf(run).error ?? "", /^UnavailableError \(unavailable\)/);
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });

  test("a memory size under 4 units is a usage error (status 2) that names it; --help prints the usage", async () => {
    const bad = await runExampleVmm(["--memory", "6MiB"]);
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /^example-vmm: the memory size must be at least 4 units \(8 MiB\), got 3\n\nusage:/);
    const help = await runExampleVmm(["--help"]);
    assert.equal(help.status, 0);
    assert.match(help.stdout, /^usage: node --import tsx clients\/examples\/vmm\/example-vmm.ts/);
  });
});
