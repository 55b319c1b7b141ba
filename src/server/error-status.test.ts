import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { status } from "@grpc/grpc-js";
import { decodeUint64, ERROR_KINDS, ERROR_OFFSET_METADATA_KEY, GRPC_STATUS_OF_KIND, MEMFD_BACKING } from "@gmempool/contract";
import { GmempoolError } from "../pool/errors.ts";
import { statusForError, statusForErrorKind } from "./error-status.ts";

describe("error kind -> gRPC status", () => {
  test("every kind of the daemon goes out as the contract's status for it (their names: packages/contract/src/error-kinds.test.ts)", () => {
    assert.deepEqual(Object.keys(GRPC_STATUS_OF_KIND).sort(), [...ERROR_KINDS].sort());
    for (const kind of ERROR_KINDS) assert.equal(statusForErrorKind(kind), GRPC_STATUS_OF_KIND[kind], kind);
  });

  test("messages pass through; the error offset becomes trailing metadata; anything else is INTERNAL", () => {
    const s = statusForError(new GmempoolError("unavailable", "page at 0x3000 stayed pinned", { errorOffsetBytes: 0x3000n }));
    assert.equal(s.code, status.UNAVAILABLE);
    assert.equal(s.details, "page at 0x3000 stayed pinned");
    assert.deepEqual(s.metadata.get(ERROR_OFFSET_METADATA_KEY), ["12288"]);
    const bug = statusForError(new TypeError("x is undefined"));
    assert.equal(bug.code, status.INTERNAL);
    assert.equal(bug.details, "internal error: x is undefined");
    assert.equal("code" in new GmempoolError("internal", "m"), false, "no numeric .code on errors");
  });

  test("what the contract's codec cannot decode from a request is INVALID_ARGUMENT naming the field", () => {
    const failure = (f: () => unknown): unknown => {
      try {
        f();
      } catch (error) {
        return error;
      }
      assert.fail("did not throw");
    };
    const enumValue = statusForError(failure(() => MEMFD_BACKING.decode(7, "backing")));
    assert.equal(enumValue.code, status.INVALID_ARGUMENT);
    assert.equal(enumValue.details, "backing 7 is not a MemfdBacking");
    const bytes = statusForError(failure(() => decodeUint64("-1", "length_bytes")));
    assert.equal(bytes.code, status.INVALID_ARGUMENT);
    assert.match(bytes.details, /^length_bytes is not an unsigned integer/);
    // Encoding its own reply never fails in a daemon without bugs: INTERNAL.
    assert.equal(statusForError(failure(() => MEMFD_BACKING.encode("tmpfs" as "shmem"))).code, status.INTERNAL);
  });
});
