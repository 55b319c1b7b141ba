import assert from "node:assert/strict";
import { test } from "node:test";
import { daemonSockets, resolveRuntimeDir } from "./runtime-dir.ts";

test("runtime dir: --runtime-dir, then GMEMPOOL_RUNTIME_DIR, then /run/gmempool as root, then XDG_RUNTIME_DIR, then ./run", () => {
  const base = { env: {}, uid: 1000, cwd: "/home/u/gmempool" };
  assert.equal(resolveRuntimeDir({ ...base, explicit: "rt", env: { GMEMPOOL_RUNTIME_DIR: "/x" } }), "/home/u/gmempool/rt");
  assert.equal(resolveRuntimeDir({ ...base, explicit: "/abs", uid: 0 }), "/abs");
  assert.equal(resolveRuntimeDir({ ...base, explicit: "", env: { GMEMPOOL_RUNTIME_DIR: "rel" } }), "/home/u/gmempool/rel");
  assert.equal(resolveRuntimeDir({ ...base, env: { GMEMPOOL_RUNTIME_DIR: "/x", XDG_RUNTIME_DIR: "/run/user/1000" } }), "/x");
  assert.equal(resolveRuntimeDir({ ...base, uid: 0, env: { XDG_RUNTIME_DIR: "/run/user/0" } }), "/run/gmempool");
  assert.equal(resolveRuntimeDir({ ...base, env: { XDG_RUNTIME_DIR: "/run/user/1000" } }), "/run/user/1000/gmempool");
  assert.equal(resolveRuntimeDir({ ...base, env: { XDG_RUNTIME_DIR: "xdg" } }), "/home/u/gmempool/xdg/gmempool");
  assert.equal(resolveRuntimeDir(base), "/home/u/gmempool/run");
  assert.equal(resolveRuntimeDir({ ...base, uid: undefined }), "/home/u/gmempool/run");
  assert.equal(resolveRuntimeDir({ ...base, env: { GMEMPOOL_RUNTIME_DIR: "" } }), "/home/u/gmempool/run");
});

test("the daemon's sockets are api.sock, fd.sock and metrics.sock in its runtime directory", () => {
  assert.deepEqual(daemonSockets("/r"), { runtimeDir: "/r", apiSocket: "/r/api.sock", fdSocket: "/r/fd.sock", metricsSocket: "/r/metrics.sock" });
});
