import assert from "node:assert/strict";
import { test } from "node:test";
import { ALL_ONES, popcount32, wordMask } from "./page-bitmap.ts";

test("popcount32 counts the set bits of unsigned words", () => {
  assert.equal(popcount32(0), 0);
  assert.equal(popcount32(ALL_ONES), 32);
  assert.equal(popcount32(0x80000001), 2);
  assert.equal(popcount32(0x0f0f0f0f), 16);
});

test("wordMask covers exactly the pages of the range that fall in the word", () => {
  assert.equal(wordMask(0, 0, 512), ALL_ONES);
  assert.equal(wordMask(0, 1, 3), 0b110);
  assert.equal(wordMask(1, 0, 32), 0);
  assert.equal(wordMask(1, 33, 64), (ALL_ONES << 1) >>> 0);
  assert.equal(wordMask(15, 511, 512), 0x80000000);
});
