/**
 * Per-uid and per-gid quotas (config `[[quotas]]`; issue 12 "a tenant may not take the whole
 * pool"): enforced at Allocate and arena creation with RESOURCE_EXHAUSTED naming the quota,
 * nothing changed by a refusal, reported in GetPoolStatus to whom they bind, and never binding
 * the admin.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { Fd } from "@gmempool/sys";
import { parseConfig } from "./config.ts";
import { daemon, deliverTo, rejects } from "./testing/manager-test-kit.ts";
import type { FakeDaemon, FakeVmm } from "./testing/fake-daemon.ts";

const UNIT = 2n * 1024n * 1024n;

async function quotaDaemon(toml: string): Promise<FakeDaemon> {
  const { quotas } = parseConfig(toml);
  return daemon({ capacityUnits: 64, reserveMode: "none", configure: (c) => ({ ...c, quotas }) });
}

async function memfdArena(d: FakeDaemon, vmm: FakeVmm, units: number): Promise<string> {
  const received: Fd[] = [];
  const { arena } = await d.manager.createMemfdArena(vmm.caller(), { requestId: "", sizeBytes: BigInt(units) * UNIT, backing: "shmem", name: "", deliver: deliverTo(vmm, received) });
  return arena.arenaId;
}

describe("tenant quotas", () => {
  test("a uid's units are counted over all its processes and arenas; past the quota Allocate is RESOURCE_EXHAUSTED naming it, and nothing changes", async () => {
    const d = await quotaDaemon(`[[quotas]]\nuid = 1001\nmemory = "20MiB"`);
    const first = d.vmm({ uid: 1001 });
    const second = d.vmm({ uid: 1001 });
    const a = await memfdArena(d, first, 16);
    const b = await memfdArena(d, second, 16);
    await d.manager.allocate(first.caller(), { requestId: "", arenaId: a, unitCount: 6, label: "" });
    await d.manager.allocate(second.caller(), { requestId: "", arenaId: b, unitCount: 3, label: "" });
    const before = d.observableState();
    await rejects(d.manager.allocate(second.caller(), { requestId: "", arenaId: b, unitCount: 2, label: "" }), "exhausted", /^uid 1001's quota of 10 units is reached: 9 leased, 2 requested$/);
    assert.deepEqual(d.observableState(), before);
    // Exactly to the limit is allowed; another uid is not bound.
    await d.manager.allocate(second.caller(), { requestId: "", arenaId: b, unitCount: 1, label: "" });
    const other = d.vmm({ uid: 1002 });
    await d.manager.allocate(other.caller(), { requestId: "", arenaId: await memfdArena(d, other, 32), unitCount: 30, label: "" });
    d.assertConservation();
  });

  test("released units count no more; concurrent Allocates cannot both take the last units", async () => {
    const d = await quotaDaemon(`[[quotas]]\nuid = 1001\nmemory = "8MiB"`);
    const vmm = d.vmm({ uid: 1001 });
    const arena = await memfdArena(d, vmm, 16);
    const { lease } = await d.manager.allocate(vmm.caller(), { requestId: "", arenaId: arena, unitCount: 4, label: "" });
    await rejects(d.manager.allocate(vmm.caller(), { requestId: "", arenaId: arena, unitCount: 1, label: "" }), "exhausted", /quota of 4 units/);
    await d.manager.release(vmm.caller(), { requestId: "", leaseId: lease.leaseId });
    const racing = await Promise.allSettled([1, 2, 3].map(() => d.manager.allocate(vmm.caller(), { requestId: "", arenaId: arena, unitCount: 2, label: "" })));
    assert.deepEqual(racing.map((r) => r.status), ["fulfilled", "fulfilled", "rejected"]);
    assert.equal(d.manager.getQuotaUsage(vmm.caller())[0]!.leasedUnitCount, 4);
    d.assertConservation();
  });

  test("a gid's arenas are counted over its processes, in-flight creations included; the admin is bound by none", async () => {
    const d = await quotaDaemon(`[[quotas]]\ngid = 993\narenas = 2`);
    const a = d.vmm({ uid: 1001, gid: 993 });
    const b = d.vmm({ uid: 1002, gid: 993 });
    // Two creations race past the check: the third of the group must still be refused.
    const racing = await Promise.allSettled([memfdArena(d, a, 1), memfdArena(d, b, 1), memfdArena(d, b, 1)]);
    assert.deepEqual(racing.map((r) => r.status).sort(), ["fulfilled", "fulfilled", "rejected"]);
    const refused = racing.find((r): r is PromiseRejectedResult => r.status === "rejected");
    assert.match(String(refused?.reason), /gid 993's quota of 2 arenas is reached: 2 held/);
    assert.equal(d.manager.getPoolStatus(a.caller()).arenaCount, 2);
    // Another group, and the admin (whatever its gid), are not bound.
    await memfdArena(d, d.vmm({ uid: 1003, gid: 994 }), 1);
    const admin = d.manager.identify(d.kernel.credentials);
    assert.equal(admin.isAdmin, true);
    assert.deepEqual(d.manager.getQuotaUsage(admin).map((q) => [q.subject, q.id, q.arenaLimit, q.arenaCount]), [["gid", 993, 2, 2]]);
  });

  test("GetPoolStatus shows a tenant only the quotas that bind it, an admin every quota", async () => {
    const d = await quotaDaemon(`[[quotas]]\nuid = 1001\nmemory = "1GiB"\narenas = 4\n[[quotas]]\ngid = 993\narenas = 8\n[[quotas]]\nuid = 1002\nmemory = "2MiB"`);
    const tenant = d.vmm({ uid: 1001, gid: 993 });
    await d.manager.allocate(tenant.caller(), { requestId: "", arenaId: await memfdArena(d, tenant, 4), unitCount: 3, label: "" });
    assert.deepEqual(d.manager.getQuotaUsage(tenant.caller()), [
      { subject: "uid", id: 1001, unitLimit: 512, arenaLimit: 4, leasedUnitCount: 3, arenaCount: 1 },
      { subject: "gid", id: 993, unitLimit: undefined, arenaLimit: 8, leasedUnitCount: 3, arenaCount: 1 },
    ]);
    assert.deepEqual(d.manager.getQuotaUsage(d.vmm({ uid: 1005 }).caller()), []);
    assert.equal(d.manager.getQuotaUsage(d.manager.identify(d.kernel.credentials)).length, 3);
  });

  test("quotas survive a crash: usage is read from the recovered books", async () => {
    const d = await quotaDaemon(`[[quotas]]\nuid = 1001\nmemory = "8MiB"`);
    const vmm = d.vmm({ uid: 1001 });
    const arena = await memfdArena(d, vmm, 8);
    await d.manager.allocate(vmm.caller(), { requestId: "", arenaId: arena, unitCount: 4, label: "" });
    const restarted = await d.crashAndRestart();
    assert.equal(restarted.manager.getQuotaUsage(vmm.caller(restarted))[0]!.leasedUnitCount, 4);
  });
});

describe("quota configuration", () => {
  test("each [[quotas]] names one subject and at least one limit; memory is whole units; one quota per subject", () => {
    assert.deepEqual(parseConfig(`[[quotas]]\nuid = 7\nmemory = "4MiB"\n[[quotas]]\ngid = 8\narenas = 0`).quotas, [
      { subject: "uid", id: 7, units: 2, arenas: undefined },
      { subject: "gid", id: 8, units: undefined, arenas: 0 },
    ]);
    assert.throws(() => parseConfig(`[[quotas]]\nuid = 7\ngid = 8\narenas = 1`), /quotas\[0\]: names exactly one of uid or gid/);
    assert.throws(() => parseConfig(`[[quotas]]\narenas = 1`), /quotas\[0\]: names exactly one of uid or gid/);
    assert.throws(() => parseConfig(`[[quotas]]\nuid = 7`), /quotas\[0\]: sets neither memory nor arenas/);
    assert.throws(() => parseConfig(`[[quotas]]\nuid = 7\nmemory = "3MiB"`), /quotas\[0\].memory: 3145728 bytes is not a multiple of 2 MiB/);
    assert.throws(() => parseConfig(`[[quotas]]\nuid = 7\narenas = 1\n[[quotas]]\nuid = 7\narenas = 2`), /quotas\[1\]: a second quota for uid = 7/);
    assert.throws(() => parseConfig(`[[quotas]]\nuid = 7\narenas = 1\nunits = 3`), /quotas\[0\].units: unknown key/);
    assert.throws(() => parseConfig(`quotas = 3`), /quotas: must be an array of tables/);
  });

  test("the per-uid fd-token limit is configurable and at least the per-connection one", () => {
    const c = parseConfig(`[limits]\nfd_tokens_per_connection = 4\nfd_tokens_per_uid = 12`);
    assert.deepEqual([c.limits.fdTokensPerConnection, c.limits.fdTokensPerUid], [4, 12]);
    assert.throws(() => parseConfig(`[limits]\nfd_tokens_per_connection = 32\nfd_tokens_per_uid = 16`), /limits.fd_tokens_per_uid: 16 is below limits.fd_tokens_per_connection \(32\)/);
  });
});

describe("quotas across a handover", () => {
  test("an arena handed to a process of another gid counts for that gid: over its quota the handover is refused and nothing moves", async () => {
    const d = await quotaDaemon(`[[quotas]]\ngid = 994\nmemory = "4MiB"\narenas = 1`);
    const launcher = d.vmm({ uid: 1001, gid: 993 });
    const vmm = d.vmm({ uid: 1001, gid: 994 });
    const big = await memfdArena(d, launcher, 4);
    await d.manager.allocate(launcher.caller(), { requestId: "", arenaId: big, unitCount: 3, label: "" });
    const pidfd = launcher.kernel.openPidfd(vmm.pid);
    try {
      const before = d.observableState();
      await rejects(launcher.withSentFd(pidfd, (fd) => d.manager.handOverArena(launcher.caller(), { requestId: "", arenaId: big, ownerPidfd: fd })), "exhausted", /^gid 994's quota of 2 units is reached: 0 leased, 3 requested$/);
      assert.deepEqual(d.observableState(), before);
      // Within the quota it moves, and then counts for gid 994.
      const small = await memfdArena(d, launcher, 2);
      await d.manager.allocate(launcher.caller(), { requestId: "", arenaId: small, unitCount: 2, label: "" });
      await launcher.withSentFd(pidfd, (fd) => d.manager.handOverArena(launcher.caller(), { requestId: "", arenaId: small, ownerPidfd: fd }));
      assert.deepEqual(d.manager.getQuotaUsage(vmm.caller()).map((q) => [q.leasedUnitCount, q.arenaCount]), [[2, 1]]);
      d.assertConservation();
    } finally {
      launcher.kernel.close(pidfd);
    }
  });
});
