/**
 * What metrics.sock tells whoever can reach it (issue 12, item 9; DESIGN.md invariant 5: one
 * owner learns nothing of another's): by default pool-wide figures only — no arena id, no
 * owner identity; per-arena series only when the operator opts in (`metrics.per_arena`). And
 * the TCP listener (`metrics.address`, issue 10): the same text, closed at shutdown.
 */
import assert from "node:assert/strict";
import { get, type RequestOptions } from "node:http";
import { connect } from "node:net";
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

/** GET /metrics over `target` (a unix socket or a TCP address): status and body. */
async function scrape(target: RequestOptions): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    get({ ...target, path: "/metrics" }, (response) => {
      let text = "";
      response.setEncoding("utf8").on("data", (chunk: string) => (text += chunk));
      response.on("end", () => resolve({ status: response.statusCode ?? 0, text })).on("error", reject);
    }).on("error", reject);
  });
}

/** Without the sample values: two scrapes a moment apart differ in latencies and lag, not in series. */
function seriesOf(text: string): string[] {
  return text.split("\n").map((line) => line.replace(/ [^ ]+$/, ""));
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

  test("with metrics.address: the TCP listener serves what metrics.sock serves, and is closed at shutdown", async () => {
    const h = await TransportHarness.start({ metricsAddress: { host: "127.0.0.1", port: 0 } });
    let port: number;
    try {
      const bound = h.process.server.metricsAddress;
      assert.equal(bound?.host, "127.0.0.1");
      port = bound.port;
      assert.ok(port > 0);
      const overTcp = await scrape({ host: "127.0.0.1", port });
      const overUnix = await scrape({ socketPath: h.paths.metricsSocket });
      assert.equal(overTcp.status, 200);
      assert.match(overTcp.text, /^gmempool_pool_units\{state="free"\} 64$/m);
      assert.deepEqual(seriesOf(overTcp.text), seriesOf(overUnix.text));
    } finally {
      await h.stop();
    }
    const refused = await new Promise<string>((resolve) => {
      const socket = connect({ host: "127.0.0.1", port }, () => {
        socket.destroy();
        resolve("connected");
      }).on("error", (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
    });
    assert.equal(refused, "ECONNREFUSED");
  });

  test("without metrics.address: no TCP listener", async () => {
    const h = await TransportHarness.start();
    try {
      assert.equal(h.process.server.metricsAddress, undefined);
      assert.equal((await scrape({ socketPath: h.paths.metricsSocket })).status, 200);
    } finally {
      await h.stop();
    }
  });
});
