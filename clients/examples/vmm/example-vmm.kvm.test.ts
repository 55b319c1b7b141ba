/**
 * The example VMM end to end in KVM mode: the real daemon, the example VMM as a separate
 * process creating its VM and guest_memfd, registering it, running a long-mode guest on its
 * boot memory and on a hot-plugged memslot, discarding, converting (notify) and tearing down;
 * then the daemon asked through a client of the test's own whether every unit came back.
 *
 * Needs a usable /dev/kvm whose kernel has KVM_CAP_GUEST_MEMFD with GUEST_MEMFD_FLAG_MMAP |
 * INIT_SHARED (Linux 6.18). Skipped with the reason printed where /dev/kvm is missing; a failure
 * instead under GMEMPOOL_REQUIRE_KVM=1 (@gmempool/sys/testing).
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { SpawnedDaemon } from "../../node/src/testing/spawned-daemon.ts";
import { kvmSkipReason } from "@gmempool/sys/testing";
import { poolAccount, runExampleVmm, summaryOf, wholePool } from "./testing/run-example-vmm.ts";

const skip = kvmSkipReason();
/** testConfig()'s 256 MiB. */
const CAPACITY_UNITS = 128;
const KiB = 1024n;
const MiB = 1024n * KiB;

const KVM_CHECKS = [
  "unit-size",
  "boot-placement",
  "boot-guest-check",
  "boot-guest-pattern",
  "hotplug-1-placement",
  "hotplug-1-guest-check",
  "hotplug-1-guest-pattern",
  "sub-unit-discard-accounted",
  "whole-unit-discard-released",
  "whole-unit-discard-punched",
  "convert-to-private",
  "convert-to-shared",
  "nothing-left",
];

describe("the example VMM in KVM mode, against the real daemon", { skip }, () => {
  let daemon: SpawnedDaemon;
  before(async () => {
    daemon = await SpawnedDaemon.start();
  });
  after(async () => {
    await daemon.stop();
    daemon.removeDir();
  });

  test("its guest runs on memory the daemon populated, in boot memory and in a hot-plugged memslot; discard, notify conversion and teardown leave the daemon with every unit", async () => {
    const run = await runExampleVmm(["--runtime-dir", daemon.dir, "--memory", "64MiB", "--json", "--name", "kvm-vm-under-test"]);
    const context = `status ${run.status}\nstdout:\n${run.stdout}\nstderr:\n${run.stderr}\ndaemon log:\n${daemon.log.slice(-30).join("\n")}`;
    assert.equal(run.status, 0, context);
    const summary = summaryOf(run);
    assert.equal(summary.error, undefined, context);
    assert.deepEqual(summary.checks.filter((c) => !c.ok), [], context);
    assert.deepEqual(summary.checks.map((c) => c.name), KVM_CHECKS);
    assert.equal(summary.mode, "kvm");
    assert.equal(summary.arena?.kind, "guest_memfd");
    // One OUT with the mismatch count (0), then HLT: two exits per run.
    assert.deepEqual(summary.guestRuns, [
      { name: "boot", exits: 2, mismatches: 0 },
      { name: "hotplug-1", exits: 2, mismatches: 0 },
    ]);
    assert.deepEqual(
      summary.conversions.map((c) => [c.toVisibility, c.result?.convertedBytes]),
      [
        ["private", (16n * KiB).toString()],
        ["shared", (16n * KiB).toString()],
      ],
    );
    assert.equal(summary.discards[1]?.result?.punchedBytes, (2n * MiB).toString());
    assert.equal(summary.releasedUnitCount, 23);
    assert.match(run.stderr, /memslot 1 deleted\n.*released hotplug-1[^\n]*\n(?:.*\n)*?.*memslot 0 deleted\n.*released boot/);
    assert.deepEqual(await poolAccount(daemon.dir), wholePool(CAPACITY_UNITS));
  });
});
