import assert from "node:assert/strict";
import { test } from "node:test";
import { GmempoolError, NotFoundError } from "./errors.ts";

test("wrapping keeps the kind and the fields; the cause is the wrapped error", () => {
  const inner = new NotFoundError('lease "l-1" does not exist', { resource: "lease", id: "l-1" });
  const outer = inner.rephrase(`release: ${inner.message}`, { field: "lease_id" });
  assert.ok(outer instanceof GmempoolError);
  assert.equal(outer.kind, "not-found");
  assert.deepEqual({ ...outer.fields }, { resource: "lease", id: "l-1", field: "lease_id" });
  assert.equal(outer.message, 'release: lease "l-1" does not exist');
  assert.equal(outer.cause, inner);
});
