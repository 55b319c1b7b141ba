import assert from "node:assert/strict";
import { test } from "node:test";
import { findExecutable, peerSkipReason } from "./require-peer.ts";

test("a program is found on PATH or by absolute path, and a missing one is not", () => {
  assert.equal(findExecutable(process.execPath), process.execPath);
  assert.equal(findExecutable("/nonexistent/prometheus"), undefined);
  const saved = process.env["PATH"];
  try {
    process.env["PATH"] = "/nonexistent:/bin";
    assert.equal(findExecutable("sh"), "/bin/sh");
    assert.equal(findExecutable("no-such-program-gmempool"), undefined);
  } finally {
    process.env["PATH"] = saved;
  }
});

test("a probe's finding is the skip reason, and the probe runs only once the programs are found", () => {
  const saved = process.env["GMEMPOOL_REQUIRE_PEERS"];
  // Under .ci/run a reason would register a failing test; here only the reason is checked.
  delete process.env["GMEMPOOL_REQUIRE_PEERS"];
  try {
    assert.equal(peerSkipReason([process.execPath], ["python3-grpcio"], () => "python3 module grpc"), "python3 module grpc not found (Debian: apt-get install python3-grpcio)");
    assert.equal(peerSkipReason([process.execPath], [], () => undefined), undefined);
    const unreached = (): string => assert.fail("the probe ran though a program is missing");
    assert.equal(peerSkipReason(["/nonexistent/python3"], [], unreached), "/nonexistent/python3 not found");
  } finally {
    if (saved !== undefined) process.env["GMEMPOOL_REQUIRE_PEERS"] = saved;
  }
});
