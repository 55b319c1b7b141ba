// Real peers (issue 10): Debian's promtool and Prometheus 2.42 against the spawned daemon
// (`gmempool serve`, reserve none, one shmem memfd arena with a lease, metrics.per_arena on so
// that every series has samples) over its TCP metrics listener (`[metrics] address`). Skipped
// with the reason where `prometheus` / `promtool` are missing; a failure under
// GMEMPOOL_REQUIRE_PEERS=1 (.ci/run installs them).
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { after, before, describe, test } from "node:test";
import { peerSkipReason } from "@gmempool/sys/testing/peer";
import type { Fd } from "@gmempool/sys";
import { LinuxKernel } from "../kvm/linux-kernel.ts";
import { DaemonProcess } from "./testing/daemon-process.ts";
import { createArena } from "./testing/e2e-arena.ts";
import { freeTcpPort } from "./testing/free-tcp-port.ts";
import { PrometheusProcess } from "./testing/prometheus-process.ts";
import { FdChannelClient, TestClient } from "./testing/test-client.ts";

const skip = peerSkipReason(["prometheus", "promtool"], ["prometheus"]);

/** Families that may rightly have no sample here (promtool lints only families with samples). */
const MAY_BE_EMPTY = new Set([
  "gmempool_rpc_internal_errors_total", // counted only when a call answers INTERNAL
  "gmempool_nodejs_active_requests", // libuv requests (fs, dns) in flight at the scrape: often none
  "gmempool_nodejs_gc_duration_seconds", // observed per collection: none before V8's first GC (the bundled daemon can serve before one)
]);

async function promtoolCheckMetrics(text: string): Promise<{ code: number | null; output: string }> {
  const child = spawn("promtool", ["check", "metrics"], { stdio: ["pipe", "pipe", "pipe"] });
  let output = "";
  for (const stream of [child.stdout, child.stderr]) stream.on("data", (chunk: Buffer) => (output += chunk.toString("utf8")));
  child.stdin.end(text);
  const [code] = (await once(child, "exit")) as [number | null];
  return { code, output };
}

describe("real peers: promtool and Prometheus scrape the daemon's metrics.address", { skip }, () => {
  let daemon: DaemonProcess | undefined;
  let prometheus: PrometheusProcess | undefined;
  let admin: TestClient | undefined;
  let channel: FdChannelClient | undefined;
  let kernel: LinuxKernel | undefined;
  const fds: Fd[] = [];
  let address = "";
  /** When the lease was acknowledged (ms since the epoch): a scrape started after it shows it. */
  let allocatedAt = 0;

  before(async () => {
    address = `127.0.0.1:${await freeTcpPort()}`;
    // Prometheus 2.42 applies discovered targets on a 5 s tick (discovery and scrape managers):
    // started together with the daemon, that wait overlaps the daemon's start-up.
    const starting = PrometheusProcess.start({ targets: [address] });
    const serving = DaemonProcess.start({
      config: `[pool]\ncapacity = "64MiB"\nreserve = "none"\n[admin]\nuids = [${process.getuid?.() ?? 0}]\n[journal]\nfsync = false\n[metrics]\naddress = "${address}"\nper_arena = true\n`,
      logLevel: "info",
    });
    // Both are kept before either failure is rethrown, so that `after` stops whichever started.
    const [p, d] = await Promise.allSettled([starting, serving]);
    if (p.status === "fulfilled") prometheus = p.value;
    if (d.status === "fulfilled") daemon = d.value;
    if (p.status === "rejected") throw p.reason;
    if (d.status === "rejected") throw d.reason;
    kernel = new LinuxKernel();
    admin = new TestClient({ apiSocket: daemon!.paths.apiSocket, deadlineMs: 5000 });
    channel = await FdChannelClient.connect(kernel, daemon!.paths.fdSocket);
    const arena = await createArena(kernel, admin, channel, "memfd", 16, "scraped");
    fds.push(...arena.fds);
    await admin.call("Allocate", { arenaId: arena.arenaId, unitCount: 6 });
    allocatedAt = Date.now();
  });

  after(async () => {
    await prometheus?.stop();
    admin?.close();
    channel?.close();
    for (const fd of fds) kernel?.close(fd);
    kernel?.release();
    await daemon?.stop();
    daemon?.removeDir();
  });

  test("the daemon logs the bound metrics address", () => {
    const listening = daemon!.log.map((line) => JSON.parse(line) as { msg?: string; metricsAddress?: string }).find((entry) => entry.msg === "listening");
    assert.equal(listening?.metricsAddress, address);
  });

  test("promtool check metrics: the exposition over TCP, every series with samples, has no lint", async () => {
    const response = await fetch(`http://${address}/metrics`);
    assert.equal(response.status, 200);
    const text = await response.text();
    const families = [...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]!);
    const empty = families.filter((name) => !MAY_BE_EMPTY.has(name) && !new RegExp(`^${name}(_bucket|_sum|_count)?[{ ]`, "m").test(text));
    assert.deepEqual(empty, [], "families without samples are not linted");
    assert.ok(families.includes("gmempool_arena_units_by_arena"));
    assert.deepEqual(await promtoolCheckMetrics(text), { code: 0, output: "" });
  });

  test("Prometheus scrapes it: gmempool_pool_units by state through /api/v1/query equals GetPoolStatus", async () => {
    // Only samples of scrapes that started after the Allocate was answered (50 ms later: Prometheus
    // may nudge a scrape's timestamp by a few ms to align it with its interval).
    const samples = await prometheus!.waitForSamples(`gmempool_pool_units and on(state) (timestamp(gmempool_pool_units) > ${(allocatedAt + 50) / 1000})`, 3, 12_000);
    const byState = Object.fromEntries(samples.map((s): [string, number] => [s.metric["state"] ?? "", Number(s.value[1])]));
    const status = (await admin!.call("GetPoolStatus", {})).status!;
    assert.deepEqual(byState, { free: status.freeUnitCount, reserved: status.reservedUnitCount, claimed: status.claimedUnitCount, leased: status.leasedUnitCount });
    assert.equal(status.leasedUnitCount, 6);
    const [up] = await prometheus!.query(`up{instance="${address}"}`);
    assert.equal(up?.value[1], "1");
  });
});
