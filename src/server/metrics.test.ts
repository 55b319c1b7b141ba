/**
 * What metrics.sock tells whoever can reach it (issue 12, item 9; DESIGN.md invariant 5: one
 * owner learns nothing of another's): by default pool-wide figures only — no arena id, no
 * owner identity; per-arena series only when the operator opts in (`metrics.per_arena`).
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { TransportHarness } from "./testing/transport-harness.ts";

async function metricsText(perArena: boolean): Promise<{ text: string; arenaIds: string[]; owners: string[] }> {
  const h = await TransportHarness.start({ metricsPerArena: perArena });
  try {
    const a = await h.peer({ uid: 1001 });
    const b = await h.peer({ uid: 1002 });
    const arenaIds: string[] = [];
    for (const peer of [a, b]) {
      const token = await peer.fd.receiveFdToken();
      const [created] = await Promise.all([peer.client.call("CreateMemfdArena", { memfdFdToken: token, sizeBytes: String(4n << 21n), backing: "MEMFD_BACKING_SHMEM" }), peer.fd.receive()]);
      arenaIds.push(created.arena!.arenaId);
      await peer.client.call("Allocate", { arenaId: created.arena!.arenaId, unitCount: 2 });
    }
    return { text: await h.process.server.metrics.registry.metrics(), arenaIds, owners: [a.caller().identity, b.caller().identity] };
  } finally {
    await h.stop();
  }
}

describe("metrics", () => {
  test("by default: pool-wide figures, no arena id or owner identity anywhere", async () => {
    const { text, arenaIds, owners } = await metricsText(false);
    for (const secret of [...arenaIds, ...owners]) assert.ok(!text.includes(secret), `metrics show ${secret}`);
    assert.doesNotMatch(text, /arena_id=|owner=/);
    assert.match(text, /gmempool_arena_units\{kind="leased"\} 4\b/);
    assert.match(text, /gmempool_arena_units\{kind="size"\} 8\b/);
  });

  test("with metrics.per_arena: one series per arena and owner, for a trusted reader", async () => {
    const { text, arenaIds, owners } = await metricsText(true);
    for (const [i, id] of arenaIds.entries()) assert.match(text, new RegExp(`gmempool_arena_units_by_arena\\{arena_id="${id}",owner="${owners[i]!}",kind="leased"\\} 2\\b`));
  });
});
