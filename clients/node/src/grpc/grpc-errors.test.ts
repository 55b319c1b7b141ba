import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { Metadata, status, type ServiceError } from "@grpc/grpc-js";
import { FailedPreconditionError, InternalError, UnavailableError } from "../pool-errors.ts";
import { ERROR_OFFSET_METADATA_KEY } from "@gmempool/contract";
import { errorFromGrpc } from "./grpc-errors.ts";

function serviceError(code: status, details: string, metadata = new Metadata()): ServiceError {
  return Object.assign(new Error(`${code} ${details}`), { code, details, metadata });
}

describe("errorFromGrpc", () => {
  test("the status picks the class; the daemon's message and the operation make the message", () => {
    const error = errorFromGrpc(serviceError(status.FAILED_PRECONDITION, 'arena "a" is DETACHED'), "Allocate", "/run/gmempool/api.sock");
    assert.ok(error instanceof FailedPreconditionError);
    assert.equal(error.message, 'Allocate: arena "a" is DETACHED');
    assert.equal(error.details, 'arena "a" is DETACHED');
  });

  test("gmempool-error-offset-bytes becomes errorOffsetBytes (a daemon's UNAVAILABLE: reachable)", () => {
    const metadata = new Metadata();
    metadata.set(ERROR_OFFSET_METADATA_KEY, "8192");
    const error = errorFromGrpc(serviceError(status.UNAVAILABLE, "page at 0x2000 stayed pinned", metadata), "Convert", "/s");
    assert.ok(error instanceof UnavailableError);
    assert.equal(error.errorOffsetBytes, 8192n);
    assert.equal(error.unreachable, false);
  });

  test("grpc-js's own UNAVAILABLE (no connection) is unreachable and names the socket", () => {
    const error = errorFromGrpc(serviceError(status.UNAVAILABLE, "No connection established. Last error: Error: connect ECONNREFUSED /run/x/api.sock. Resolution note: "), "GetPoolStatus", "/run/x/api.sock");
    assert.ok(error instanceof UnavailableError);
    assert.equal(error.unreachable, true);
    assert.equal(error.message, "GetPoolStatus: no gmempool daemon answers at /run/x/api.sock (connect: ECONNREFUSED)");
    const dropped = errorFromGrpc(serviceError(status.UNAVAILABLE, "Connection dropped"), "Allocate", "/s");
    assert.ok(dropped instanceof UnavailableError && dropped.unreachable);
  });

  test("anything that is not a gRPC error is an InternalError", () => {
    const error = errorFromGrpc(new TypeError("boom"), "Allocate", "/s");
    assert.ok(error instanceof InternalError);
    assert.equal(error.message, "Allocate: boom");
  });
});
