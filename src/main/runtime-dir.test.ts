import assert from "node:assert/strict";
import { test } from "node:test";
import { resolveRuntimeDir, runtimePaths } from "./runtime-dir.ts";

test("runtime dir: --runtime-dir, then GMEMPOOL_RUNTIME_DIR, then /run/gmempool as root, then XDG_RUNTIME_DIR, then ./run", () => {
  const base = { env: {}, uid: 1000, cwd: "/home/u/gmempool" };
  assert.equal(resolveRuntimeDir({ ...base, explicit: "rt", env: { GMEMPOOL_RUNTIME_DIR: "/x" } }), "/home/u/gmempool/rt");
  assert.equal(resolveRuntimeDir({ ...base, env: { GMEMPOOL_RUNTIME_DIR: "/x", XDG_RUNTIME_DIR: "/run/user/1000" } }), "/x");
  assert.equal(resolveRuntimeDir({ ...base, uid: 0, env: { XDG_RUNTIME_DIR: "/run/user/0" } }), "/run/gmempool");
  assert.equal(resolveRuntimeDir({ ...base, env: { XDG_RUNTIME_DIR: "/run/user/1000" } }), "/run/user/1000/gmempool");
  assert.equal(resolveRuntimeDir(base), "/home/u/gmempool/run");
  assert.equal(resolveRuntimeDir({ ...base, env: { GMEMPOOL_RUNTIME_DIR: "" } }), "/home/u/gmempool/run");
  assert.deepEqual(runtimePaths("/r"), { dir: "/r", apiSocket: "/r/api.sock", fdSocket: "/r/fd.sock", metricsSocket: "/r/metrics.sock" });
});
