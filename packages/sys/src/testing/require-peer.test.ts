import assert from "node:assert/strict";
import { test } from "node:test";
import { findExecutable } from "./require-peer.ts";

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
