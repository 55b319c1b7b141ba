/**
 * `gmempool run` with unmodified QEMU (Debian's qemu-system-x86 7.2, `-accel tcg`: this host's
 * PVM /dev/kvm cannot run a stock kernel) booting Debian's kernel (scripts/fetch-guest-kernel.sh;
 * .ci/run fetches it) on a busybox-static initramfs built here (testing/guest-initramfs.ts),
 * against the real daemon:
 *   - while the guest runs, the arena is the QEMU process's, its lease leased and populated,
 *     and the pattern the guest wrote into its RAM is in the arena's memfd;
 *   - the launcher killed with SIGKILL: the guest keeps running, reads its memory back intact,
 *     the units stay leased and the pattern stays in the memfd;
 *   - the guest powers off, QEMU exits, every unit is free.
 * Gated on qemu-system-x86_64, busybox and the kernel (GMEMPOOL_REQUIRE_PEERS=1: a failure).
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { closeSync, fstatSync, mkdtempSync, openSync, readdirSync, readSync, rmSync, writeFileSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { findExecutable, peerSkipReason, peersRequired } from "@gmempool/sys/testing/peer";
import { PoolClient } from "../../node/src/pool-client.ts";
import { SpawnedDaemon, testConfig } from "../../node/src/testing/spawned-daemon.ts";
import { GUEST_CHECK, GUEST_PATTERN_WRITTEN, guestInitramfs, PATTERN_BYTES } from "../testing/guest-initramfs.ts";
import { LauncherProcess } from "../testing/launcher-process.ts";

const MEMORY_BYTES = 256n * 1024n * 1024n;
const BOOT_TIMEOUT_MS = 90_000;
const STEP_MS = 20_000;

/** The guest kernel: $GMEMPOOL_GUEST_KERNEL, else a vmlinuz-* where fetch-guest-kernel.sh puts it. */
function guestKernel(): string | undefined {
  const explicit = process.env["GMEMPOOL_GUEST_KERNEL"];
  if (explicit !== undefined && explicit !== "") return explicit;
  const dir = process.env["GMEMPOOL_GUEST_KERNEL_DIR"] ?? join(process.env["XDG_CACHE_HOME"] ?? join(homedir(), ".cache"), "gmempool", "guest-kernel");
  try {
    const name = readdirSync(dir).find((f) => f.startsWith("vmlinuz-"));
    return name === undefined ? undefined : join(dir, name);
  } catch {
    return undefined;
  }
}

function skipReason(): string | undefined {
  const programs = peerSkipReason(["qemu-system-x86_64", "busybox"], ["qemu-system-x86", "busybox-static"]);
  if (programs !== undefined) return programs;
  if (guestKernel() !== undefined) return undefined;
  const reason = "no guest kernel: run scripts/fetch-guest-kernel.sh (or set GMEMPOOL_GUEST_KERNEL)";
  if (peersRequired()) {
    void test("guest kernel prerequisite (GMEMPOOL_REQUIRE_PEERS=1)", () => {
      throw new Error(`GMEMPOOL_REQUIRE_PEERS=1 but ${reason}`);
    });
  } else {
    process.stderr.write(`skipping the QEMU boot test: ${reason}\n`);
  }
  return reason;
}

/** Occurrences of `needle` in the file at `path`, read in 8 MiB chunks, and its allocated bytes. */
function scanFile(path: string, needle: Buffer): { count: number; allocatedBytes: number } {
  const fd = openSync(path, "r");
  try {
    const chunk = Buffer.alloc(8 << 20);
    let count = 0;
    let carry = Buffer.alloc(0);
    for (let offset = 0; ; ) {
      const n = readSync(fd, chunk, 0, chunk.length, offset);
      if (n === 0) break;
      offset += n;
      const data = Buffer.concat([carry, chunk.subarray(0, n)]);
      for (let at = data.indexOf(needle); at >= 0; at = data.indexOf(needle, at + needle.length)) count++;
      // A match across the chunk boundary is counted once: the carry is shorter than the needle.
      carry = data.subarray(Math.max(0, data.length - needle.length + 1));
    }
    return { count, allocatedBytes: fstatSync(fd).blocks * 512 };
  } finally {
    closeSync(fd);
  }
}

const skip = skipReason();

describe("gmempool run boots Debian's kernel in QEMU on pool memory", { skip }, () => {
  let daemon: SpawnedDaemon;
  let client: PoolClient;
  let dir: string;
  let launcher: LauncherProcess | undefined;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "gmempool-qemu-"));
    daemon = await SpawnedDaemon.start({ config: testConfig({ capacity: "512MiB" }) });
    client = await PoolClient.connect({ runtimeDir: daemon.dir, deadlineMs: 10_000 });
  });

  after(async () => {
    await launcher?.stop();
    client.close();
    await daemon.stop();
    daemon.removeDir();
    rmSync(dir, { recursive: true, force: true });
  });

  test("the guest's memory is the arena's; killing the launcher leaves it alone; QEMU's exit frees every unit", async () => {
    const patternLine = `GMEMPOOL-PATTERN-${randomBytes(8).toString("hex")}`;
    const initrd = join(dir, "initrd.cpio");
    writeFileSync(initrd, guestInitramfs(findExecutable("busybox")!, patternLine));
    launcher = LauncherProcess.start(daemon.dir, [
      "--memory", "256MiB", "--label", "qemu-guest", "--",
      "qemu-system-x86_64", "-accel", "tcg", "-kernel", guestKernel()!, "-initrd", initrd,
      "-append", "console=ttyS0 quiet panic=-1", "-nographic", "-no-reboot",
    ]);
    const qemuPid = await launcher.vmmPid(STEP_MS);
    const written = (await launcher.waitFor(new RegExp(`${GUEST_PATTERN_WRITTEN} ([0-9a-f]{32})`), BOOT_TIMEOUT_MS))[1]!;

    // While the guest runs: QEMU's arena, leased and populated, the pattern in the memfd.
    const [arena] = (await client.listArenas({ allOwners: true })).filter((a) => a.owner.pid === qemuPid);
    assert.ok(arena !== undefined, `no arena owned by QEMU (pid ${qemuPid})`);
    assert.equal(arena.sizeBytes, MEMORY_BYTES);
    assert.equal(arena.leasedUnitCount, 128);
    const [lease] = await client.listLeases({ arenaId: arena.arenaId, allOwners: true });
    assert.equal(lease!.label, "qemu-guest");
    assert.equal(lease!.sharedBytes, MEMORY_BYTES, "the lease is not populated");
    const memfd = `/proc/${qemuPid}/fd/3`;
    const needle = Buffer.from(`${patternLine}\n`);
    const linesWritten = Math.floor(PATTERN_BYTES / needle.length);
    const before = scanFile(memfd, needle);
    assert.ok(before.count >= linesWritten * 0.99, `the memfd holds ${before.count} pattern lines, the guest wrote ${linesWritten}`);
    assert.equal(before.allocatedBytes, Number(MEMORY_BYTES), "the memfd is not fully allocated");

    // The launcher dies: nothing of the guest's memory is touched.
    launcher.child.kill("SIGKILL");
    await launcher.exited;
    await new Promise((resolve) => setTimeout(resolve, 300));
    launcher.write("check\n");
    const checked = (await launcher.waitFor(new RegExp(`${GUEST_CHECK} ([0-9a-f]{32})`), STEP_MS))[1]!;
    assert.equal(checked, written, "the guest read back other memory than it wrote");
    const afterKill = await client.getArena(arena.arenaId).catch(() => undefined);
    assert.equal(afterKill?.leasedUnitCount, 128, "the launcher's death released the guest's units");
    assert.ok(scanFile(memfd, needle).count >= before.count, "the pattern is gone from the memfd");

    // The guest powers off; QEMU exits; its units come back.
    launcher.write("poweroff\n");
    const deadline = Date.now() + STEP_MS;
    while ((await client.getPoolStatus()).arenaCount !== 0) {
      assert.ok(Date.now() < deadline, "QEMU's arena outlived QEMU");
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const status = await client.getPoolStatus();
    assert.equal(status.leasedUnitCount, 0);
    assert.equal(status.freeUnitCount, status.capacityUnitCount);
  });
});
