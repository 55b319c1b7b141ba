import * as protoLoader from "@grpc/proto-loader";
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { POOL_EVENT_KINDS } from "../vocabulary.ts";
import { PROTO_FILES, protoLoaderOptions } from "../proto-options.ts";
import { DISCARD_POLICY, ENUM_TABLES, MEMFD_BACKING, POOL_EVENT_KIND } from "./enum-tables.ts";
import { WireValueError } from "./wire-value-error.ts";

const definition = protoLoader.loadSync([...PROTO_FILES], protoLoaderOptions());

const isWireError = (direction: "encode" | "decode", message: string) => (e: unknown) => e instanceof WireValueError && e.direction === direction && e.message === message;

describe("enum tables", () => {
  test("every table names the proto enum's values in number order", () => {
    for (const table of ENUM_TABLES) {
      const e = definition[`gmempool.v1.${table.protoType}`] as { type: { value: { name: string; number: number }[] } } | undefined;
      assert.ok(e !== undefined, table.protoType);
      const names = [...e.type.value].sort((a, b) => a.number - b.number).map((v) => v.name);
      assert.deepEqual(table.names(), names, table.protoType);
    }
  });

  test("the Watch filter's kinds are the table's, in the proto's order", () => {
    assert.deepEqual(POOL_EVENT_KIND.values(), [...POOL_EVENT_KINDS]);
  });

  test("UNSPECIFIED decodes to undefined (the receiver judges it); names and numbers decode; others are refused naming the field", () => {
    assert.equal(MEMFD_BACKING.decode("MEMFD_BACKING_UNSPECIFIED", "backing"), undefined);
    assert.equal(MEMFD_BACKING.decode(0, "backing"), undefined);
    assert.equal(MEMFD_BACKING.decode("MEMFD_BACKING_HUGETLB", "backing"), "hugetlb");
    assert.equal(MEMFD_BACKING.decode(1, "backing"), "shmem");
    assert.throws(() => MEMFD_BACKING.decode(7, "backing"), isWireError("decode", "backing 7 is not a MemfdBacking"));
    assert.throws(() => MEMFD_BACKING.decode("MEMFD_BACKING_TMPFS", "backing"), isWireError("decode", 'backing "MEMFD_BACKING_TMPFS" is not a MemfdBacking'));
  });

  test("a field a resource cannot leave unset refuses UNSPECIFIED", () => {
    assert.equal(DISCARD_POLICY.decodeRequired("DISCARD_POLICY_DEFER", "Policy.discard_policy"), "defer");
    assert.throws(() => DISCARD_POLICY.decodeRequired("DISCARD_POLICY_UNSPECIFIED", "Policy.discard_policy"), isWireError("decode", "Policy.discard_policy is DISCARD_POLICY_UNSPECIFIED"));
  });

  test("encoding checks the spelling at run time (a JavaScript caller can pass any string); undefined is UNSPECIFIED where allowed", () => {
    assert.equal(DISCARD_POLICY.encode("zero"), "DISCARD_POLICY_ZERO");
    assert.equal(DISCARD_POLICY.encodeOptional(undefined), "DISCARD_POLICY_UNSPECIFIED");
    assert.throws(() => DISCARD_POLICY.encode("sometimes" as "zero", "discardPolicy"), isWireError("encode", "sometimes is not a DiscardPolicy (one of reject, zero, defer)"));
    assert.throws(() => DISCARD_POLICY.encode("toString" as "zero"), WireValueError, "not an inherited property either");
  });
});
