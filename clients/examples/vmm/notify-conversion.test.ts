/**
 * The conversion step on FakePoolClient (an in-memory Pool): it runs for real only in KVM mode,
 * which this test does not need — a stand-in guest_memfd is enough for the daemon's side.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { FakePoolClient } from "../../node/src/testing.ts";
import { InternalError } from "../../node/src/pool-errors.ts";
import type { Arena } from "../../node/src/resources.ts";
import { CleanupStack } from "./cleanup-stack.ts";
import { KVM_MEMORY_ATTRIBUTE_PRIVATE, libc } from "@gmempool/sys";
import { planMemory } from "./memory-plan.ts";
import { convertRoundTrip } from "./notify-conversion.ts";
import { StepLog } from "./step-log.ts";
import type { VmmContext } from "./vmm-context.ts";
import { newSummary } from "./vmm-summary.ts";

const MEMORY = 16n << 20n;

async function withFake(kind: "guest_memfd" | "memfd", body: (ctx: VmmContext, fake: FakePoolClient, arena: Arena, lines: string[]) => Promise<void>): Promise<void> {
  const fake = new FakePoolClient();
  const lines: string[] = [];
  const ctx: VmmContext = { pool: fake, log: new StepLog((line) => lines.push(line)), summary: newSummary("kvm", "test", undefined, MEMORY), cleanup: new CleanupStack(), plan: planMemory(MEMORY), name: "t" };
  const fds: number[] = [];
  try {
    let arena: Arena;
    if (kind === "guest_memfd") {
      const gmem = FakePoolClient.createStandInGuestMemfd(MEMORY);
      fds.push(gmem);
      arena = await fake.registerGuestMemfdArena(gmem, { sizeBytes: MEMORY, initialVisibility: "shared" });
    } else {
      const created = await fake.createMemfdArena({ sizeBytes: MEMORY });
      fds.push(created.memfd);
      arena = created.arena;
    }
    await body(ctx, fake, arena, lines);
  } finally {
    fake.close();
    for (const fd of fds) libc.close(fd);
  }
}

test("on a guest_memfd arena, to private and back in notify mode: two passing checks, the daemon's record followed, the VM's missing private memory said", async () => {
  await withFake("guest_memfd", async (ctx, fake, arena, lines) => {
    const boot = await fake.allocate(arena.arenaId, { unitCount: ctx.plan.boot.unitCount, offsetBytes: 0n, label: "boot" });
    await convertRoundTrip(ctx, await fake.getCapabilities(), arena, boot, 0);
    assert.deepEqual(ctx.log.checks.map((c) => [c.name, c.ok]), [["convert-to-private", true], ["convert-to-shared", true]]);
    assert.deepEqual(ctx.summary.conversions.map((c) => [c.toVisibility, c.result?.convertedBytes]), [["private", 16384n], ["shared", 16384n]]);
    assert.match(lines.join("\n"), /KVM_CAP_MEMORY_ATTRIBUTES = 0 on this VM: no private memory/);
    assert.equal((await fake.getLease(boot.leaseId)).privateBytes, 0n);
  });
});

test("a VM with private memory is told apart (the example names the ioctl it would need)", async () => {
  await withFake("guest_memfd", async (ctx, fake, arena, lines) => {
    const boot = await fake.allocate(arena.arenaId, { unitCount: ctx.plan.boot.unitCount, offsetBytes: 0n });
    await convertRoundTrip(ctx, await fake.getCapabilities(), arena, boot, Number(KVM_MEMORY_ATTRIBUTE_PRIVATE));
    assert.match(lines.join("\n"), /KVM_CAP_MEMORY_ATTRIBUTES = 8: this VM could have private memory; a VMM for it issues KVM_SET_MEMORY_ATTRIBUTES first/);
  });
});

test("a refusal (Convert on an arena without private memory) is reported with the daemon's words, no check fails, and the step ends", async () => {
  await withFake("memfd", async (ctx, fake, arena) => {
    const boot = await fake.allocate(arena.arenaId, { unitCount: ctx.plan.boot.unitCount, offsetBytes: 0n });
    await convertRoundTrip(ctx, await fake.getCapabilities(), arena, boot, 0);
    assert.deepEqual(ctx.log.checks, []);
    assert.equal(ctx.summary.conversions.length, 1);
    assert.equal(ctx.summary.conversions[0]?.refused?.kind, "failed-precondition");
    assert.match(ctx.summary.conversions[0].refused.message, /memfd/);
  });
});

test("any other error (the daemon failing) is not a refusal: it ends the run", async () => {
  await withFake("guest_memfd", async (ctx, fake, arena) => {
    const boot = await fake.allocate(arena.arenaId, { unitCount: ctx.plan.boot.unitCount, offsetBytes: 0n });
    // (An UnavailableError would be waited out and retried by the client within its deadline.)
    fake.failNext("convert", new InternalError("the journal could not be written"));
    await assert.rejects(convertRoundTrip(ctx, await fake.getCapabilities(), arena, boot, 0), InternalError);
  });
});
