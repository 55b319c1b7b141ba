/**
 * The metrics endpoint's listeners (issue 10): `metrics.address` serves over TCP what
 * metrics.sock serves, and is closed at shutdown; without it there is no TCP listener.
 */
import assert from "node:assert/strict";
import { connect } from "node:net";
import { describe, test } from "node:test";
import { formatTcpAddress, isLoopback } from "./metrics-endpoint.ts";
import { scrapeMetrics } from "./testing/scrape-metrics.ts";
import { TransportHarness } from "./testing/transport-harness.ts";


/** Without the sample values: two scrapes a moment apart differ in latencies and lag, not in series. */
function seriesOf(text: string): string[] {
  return text.split("\n").map((line) => line.replace(/ [^ ]+$/, ""));
}

describe("metrics endpoint", () => {
  test("with metrics.address: the TCP listener serves what metrics.sock serves, and is closed at shutdown", async () => {
    const h = await TransportHarness.start({ metricsAddress: { host: "127.0.0.1", port: 0 } });
    let port: number;
    try {
      const bound = h.process.server.metricsAddress;
      assert.equal(bound?.host, "127.0.0.1");
      port = bound.port;
      assert.ok(port > 0);
      const overTcp = await scrapeMetrics({ host: "127.0.0.1", port });
      const overUnix = await scrapeMetrics({ socketPath: h.paths.metricsSocket });
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
      assert.equal((await scrapeMetrics({ socketPath: h.paths.metricsSocket })).status, 200);
    } finally {
      await h.stop();
    }
  });

  test("addresses are spelled as in the config, and loopback is 127/8 or ::1", () => {
    assert.equal(formatTcpAddress({ host: "127.0.0.1", port: 9464 }), "127.0.0.1:9464");
    assert.equal(formatTcpAddress({ host: "::1", port: 9464 }), "[::1]:9464");
    for (const host of ["127.0.0.1", "127.1.2.3", "::1", "::ffff:127.0.0.1"]) assert.equal(isLoopback({ host, port: 1 }), true, host);
    for (const host of ["0.0.0.0", "::", "10.0.0.1", "128.0.0.1", "::2"]) assert.equal(isLoopback({ host, port: 1 }), false, host);
  });
});
