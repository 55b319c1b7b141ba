/**
 * The real daemon (`gmempool serve`) applies `limits.streams_per_connection` to its API socket
 * (SETTINGS_MAX_CONCURRENT_STREAMS, as a raw HTTP/2 client reads it) and
 * `metrics.event_loop_resolution` to its loop-delay metrics: at 1 ms an idle loop's median
 * delay reads ~1 ms, where prom-client's default 10 ms timer could never read below 10 ms.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { RawHttp2Connection } from "../server/testing/raw-http2-connection.ts";
import { sampleValue, scrapeMetrics } from "../server/testing/scrape-metrics.ts";
import { DaemonProcess } from "./testing/daemon-process.ts";
import { waitFor } from "./testing/e2e-support.ts";

const CONFIG = ['[pool]\ncapacity = "64MiB"\nreserve = "none"', "[journal]\nfsync = false", "[limits]\nstreams_per_connection = 20", '[metrics]\nevent_loop_resolution = "1ms"'].join("\n");

describe("gmempool serve: stream limit and loop-delay resolution from the config", () => {
  test("api.sock announces streams_per_connection; the loop delay is sampled at event_loop_resolution", async () => {
    const daemon = await DaemonProcess.start({ config: CONFIG });
    try {
      const raw = await RawHttp2Connection.connect(daemon.paths.apiSocket, { ackSettings: true });
      try {
        await raw.until((frames) => frames.some((f) => f.type === "settings"));
        assert.deepEqual(raw.frames.find((f) => f.type === "settings"), { type: "settings", maxConcurrentStreams: 20 });
      } finally {
        raw.close();
      }
      // Idle once its start-up work off the serving path (reflection, codecs) is done. A scrape
      // resets the histogram; the next one covers an idle stretch of ~200 timer periods.
      await waitFor(() => Promise.resolve(daemon.log.some((line) => line.includes('"codecs warmed up"'))), 30_000);
      await scrapeMetrics({ socketPath: daemon.paths.metricsSocket });
      await new Promise((resolve) => setTimeout(resolve, 200));
      const { text } = await scrapeMetrics({ socketPath: daemon.paths.metricsSocket });
      const p50 = sampleValue(text, "gmempool_nodejs_eventloop_lag_p50_seconds");
      assert.ok(p50 > 0 && p50 < 0.008, `p50 ${p50} s`);
    } finally {
      await daemon.stop();
      daemon.removeDir();
    }
  });
});
