import assert from "node:assert/strict";
import { test } from "node:test";
import { runtimePaths } from "./runtime-dir.ts";

test("the daemon's sockets are api.sock, fd.sock and metrics.sock in its runtime directory", () => {
  assert.deepEqual(runtimePaths("/r"), { dir: "/r", apiSocket: "/r/api.sock", fdSocket: "/r/fd.sock", metricsSocket: "/r/metrics.sock" });
});
