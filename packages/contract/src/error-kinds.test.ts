import assert from "node:assert/strict";
import { status } from "@grpc/grpc-js";
import { describe, test } from "node:test";
import { ERROR_KINDS, errorKindOfStatus, GRPC_STATUS_OF_KIND } from "./error-kinds.ts";

describe("the error vocabulary's status codes", () => {
  test("each kind has its own gRPC status, named as docs/api.md names it", () => {
    const names = Object.fromEntries(ERROR_KINDS.map((k) => [k, status[GRPC_STATUS_OF_KIND[k]]]));
    assert.deepEqual(names, {
      "invalid-argument": "INVALID_ARGUMENT",
      "not-found": "NOT_FOUND",
      "permission-denied": "PERMISSION_DENIED",
      exhausted: "RESOURCE_EXHAUSTED",
      "failed-precondition": "FAILED_PRECONDITION",
      conflict: "ABORTED",
      unavailable: "UNAVAILABLE",
      unimplemented: "UNIMPLEMENTED",
      internal: "INTERNAL",
    });
  });

  test("a status maps back to its kind; codes the API does not use map to none", () => {
    for (const kind of ERROR_KINDS) assert.equal(errorKindOfStatus(GRPC_STATUS_OF_KIND[kind]), kind);
    assert.equal(new Set(ERROR_KINDS.map((k) => GRPC_STATUS_OF_KIND[k])).size, ERROR_KINDS.length, "no two kinds share a status");
    for (const code of [0, 1, 2, 4, 6, 11, 15, 16, 99]) assert.equal(errorKindOfStatus(code), undefined, String(code));
  });
});
