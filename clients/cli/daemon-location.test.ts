import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { locateDaemon } from "./daemon-location.ts";

const io = (env: Record<string, string>, uid = 1000) => ({ env, cwd: "/work", uid });

describe("locateDaemon", () => {
  test("--runtime-dir first, relative to the working directory", () => {
    assert.deepEqual(locateDaemon("rt", io({ GMEMPOOL_RUNTIME_DIR: "/env" })), { runtimeDir: "/work/rt", apiSocket: "/work/rt/api.sock", source: "--runtime-dir" });
  });

  test("then GMEMPOOL_RUNTIME_DIR", () => {
    assert.deepEqual(locateDaemon(undefined, io({ GMEMPOOL_RUNTIME_DIR: "/env" })), { runtimeDir: "/env", apiSocket: "/env/api.sock", source: "$GMEMPOOL_RUNTIME_DIR" });
  });

  test("then the daemon's default: /run/gmempool as root, $XDG_RUNTIME_DIR/gmempool, ./run", () => {
    assert.equal(locateDaemon(undefined, io({}, 0)).runtimeDir, "/run/gmempool");
    assert.equal(locateDaemon(undefined, io({ XDG_RUNTIME_DIR: "/run/user/1000" })).runtimeDir, "/run/user/1000/gmempool");
    assert.deepEqual(locateDaemon(undefined, io({})), { runtimeDir: "/work/run", apiSocket: "/work/run/api.sock", source: "the default" });
  });

  test("an empty flag or variable counts as not given", () => {
    assert.equal(locateDaemon("", io({ GMEMPOOL_RUNTIME_DIR: "" })).source, "the default");
  });
});
