import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { status } from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { ERROR_KINDS, GRPC_STATUS_OF_KIND } from "@gmempool/contract";
import { GmempoolError } from "../pool/errors.ts";
import { ERROR_OFFSET_METADATA_KEY } from "@gmempool/contract";
import { statusForError, statusForErrorKind } from "./error-status.ts";
import { PROTO_FILES, protoLoaderOptions } from "@gmempool/contract";
import { ENUM_CODECS, MEMFD_BACKING, bytesFromProto, durationToProto, timestampToProto } from "./proto-codec.ts";

const definition = protoLoader.loadSync([...PROTO_FILES], protoLoaderOptions());

describe("proto codec", () => {
  test("every enum codec names the proto's values in number order", () => {
    for (const codec of ENUM_CODECS) {
      const e = definition[`gmempool.v1.${codec.protoType}`] as { type: { value: { name: string; number: number }[] } } | undefined;
      assert.ok(e !== undefined, codec.protoType);
      const names = [...e.type.value].sort((a, b) => a.number - b.number).map((v) => v.name);
      assert.deepEqual(codec.names(), names, codec.protoType);
    }
  });

  test("UNSPECIFIED decodes to undefined; names and numbers decode; others are invalid-argument", () => {
    assert.equal(MEMFD_BACKING.decode("MEMFD_BACKING_UNSPECIFIED", "backing"), undefined);
    assert.equal(MEMFD_BACKING.decode(0, "backing"), undefined);
    assert.equal(MEMFD_BACKING.decode("MEMFD_BACKING_HUGETLB", "backing"), "hugetlb");
    assert.equal(MEMFD_BACKING.decode(1, "backing"), "shmem");
    assert.throws(() => MEMFD_BACKING.decode(7, "backing"), (e: unknown) => e instanceof GmempoolError && e.kind === "invalid-argument" && e.message === "backing 7 is not a MemfdBacking");
  });

  test("64-bit values stay exact; non-numbers are invalid-argument", () => {
    assert.equal(bytesFromProto("18446744073709551615", "length_bytes"), (1n << 64n) - 1n);
    assert.throws(() => bytesFromProto("-1", "length_bytes"), /length_bytes is not an unsigned integer/);
    assert.deepEqual(timestampToProto(new Date(1500)), { seconds: "1", nanos: 500_000_000 });
    assert.deepEqual(durationToProto(10_000), { seconds: "10", nanos: 0 });
  });
});

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
});
