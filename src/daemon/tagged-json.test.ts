import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { decodeTagged, encodeTagged } from "./tagged-json.ts";

test("bigints and Dates survive a round trip exactly, anywhere in the value; other single-key objects stay objects", () => {
  const leaf = fc.oneof(fc.bigInt(), fc.integer(), fc.string(), fc.boolean(), fc.constant(null), fc.date({ noInvalidDate: true }), fc.record({ $n: fc.integer() }, { noNullPrototype: true }), fc.record({ $d: fc.string() }, { noNullPrototype: true }));
  const value = fc.letrec((tie) => ({ node: fc.oneof({ depthSize: "small" }, leaf, fc.array(tie("node")), fc.dictionary(fc.string().filter((k) => k !== "__proto__"), tie("node"), { noNullPrototype: true })) })).node;
  fc.assert(
    fc.property(value, (v) => {
      assert.deepEqual(decodeTagged(encodeTagged(v)), v);
    }),
    { seed: 1, numRuns: 500 },
  );
  assert.deepEqual(decodeTagged(encodeTagged({ at: new Date(5), offsets: [1n, { deep: 2n ** 70n }] })), { at: new Date(5), offsets: [1n, { deep: 2n ** 70n }] });
});
