// The daemon places itself by src/main/runtime-dir.ts; clients find it by their own copy of the
// rule (clients/node/src/runtime-dir.ts: the client library imports nothing from src/). This
// test holds the two copies to the same answer for every step of the rule.
import assert from "node:assert/strict";
import { test } from "node:test";
import * as client from "../../clients/node/src/runtime-dir.ts";
import * as daemon from "./runtime-dir.ts";

const CASES: readonly daemon.RuntimeDirInputs[] = [
  { explicit: "rt", env: { GMEMPOOL_RUNTIME_DIR: "/x" }, uid: 1000, cwd: "/home/u" },
  { explicit: "/abs", env: {}, uid: 0, cwd: "/home/u" },
  { explicit: "", env: { GMEMPOOL_RUNTIME_DIR: "rel" }, uid: 1000, cwd: "/home/u" },
  { env: { GMEMPOOL_RUNTIME_DIR: "", XDG_RUNTIME_DIR: "/run/user/1000" }, uid: 1000, cwd: "/home/u" },
  { env: { XDG_RUNTIME_DIR: "/run/user/0" }, uid: 0, cwd: "/root" },
  { env: { XDG_RUNTIME_DIR: "xdg" }, uid: 1000, cwd: "/home/u" },
  { env: {}, uid: undefined, cwd: "/srv/gmempool" },
];

test("the client library's runtime-dir rule gives the daemon's answer in every case", () => {
  for (const inputs of CASES) assert.equal(client.resolveRuntimeDir(inputs), daemon.resolveRuntimeDir(inputs), JSON.stringify(inputs));
  assert.equal(client.RUNTIME_DIR_ENV, daemon.RUNTIME_DIR_ENV);
  const c = client.daemonSockets("/r");
  const d = daemon.runtimePaths("/r");
  assert.deepEqual([c.apiSocket, c.fdSocket], [d.apiSocket, d.fdSocket]);
});
