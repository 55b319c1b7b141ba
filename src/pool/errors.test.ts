import assert from "node:assert/strict";
import { test } from "node:test";
import { ERROR_KINDS as CONTRACT_ERROR_KINDS } from "@gmempool/contract";
import { ERROR_KINDS, GmempoolError, NotFoundError } from "./errors.ts";

test("the core's error kinds are the wire contract's (the core imports nothing, so it keeps a copy)", () => {
  assert.deepEqual([...ERROR_KINDS], [...CONTRACT_ERROR_KINDS]);
});

test("wrapping keeps the kind and the fields; the cause is the wrapped error", () => {
  const inner = new NotFoundError('lease "l-1" does not exist', { resource: "lease", id: "l-1" });
  const outer = inner.rephrase(`release: ${inner.message}`, { field: "lease_id" });
  assert.ok(outer instanceof GmempoolError);
  assert.equal(outer.kind, "not-found");
  assert.deepEqual({ ...outer.fields }, { resource: "lease", id: "l-1", field: "lease_id" });
  assert.equal(outer.message, 'release: lease "l-1" does not exist');
  assert.equal(outer.cause, inner);
});
