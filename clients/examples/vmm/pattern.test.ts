import assert from "node:assert/strict";
import { test } from "node:test";
import { describeMismatch, firstMismatch, patternBytes } from "./pattern.ts";

test("byte i of the pattern with seed s is (s + i) mod 256, wrapping past 0xff", () => {
  assert.deepEqual(patternBytes(0xfe, 4), new Uint8Array([0xfe, 0xff, 0x00, 0x01]));
  assert.equal(patternBytes(7, 4096).length, 4096);
});

test("the first wrong byte is found and described; a matching region is described as such", () => {
  const bytes = patternBytes(0x42, 100);
  assert.equal(firstMismatch(bytes, 0x42), undefined);
  assert.equal(describeMismatch(bytes, 0x42), "100 bytes match (seed 0x42)");
  bytes[17] = 0;
  bytes[50] = 0;
  assert.deepEqual(firstMismatch(bytes, 0x42), { index: 17, expected: 0x53, actual: 0 });
  assert.equal(describeMismatch(bytes, 0x42), "byte 17: 0x0, expected 0x53");
  assert.notEqual(firstMismatch(patternBytes(0x42, 10), 0x43), undefined, "another seed is another pattern");
});
