import assert from "node:assert/strict";
import { test } from "node:test";
import { PAGE_BYTES as CONTRACT_PAGE_BYTES, UNIT_BYTES as CONTRACT_UNIT_BYTES } from "@gmempool/contract";
import { bytes, formatBytes, PAGE_BYTES, pages, PAGES_PER_UNIT, pagesToBytes, UNIT_BYTES, units, unitsToBytes } from "./units.ts";

test("conversions keep units, pages and bytes apart and exact", () => {
  assert.equal(unitsToBytes(units(3)), 3 * 2 * 1024 * 1024);
  assert.equal(pagesToBytes(pages(3)), 3 * 4096);
  assert.equal(bytes(5), 5);
});

test("formatBytes picks the largest exact binary unit", () => {
  assert.equal(formatBytes(1024 * 1024 * 1024), "1 GiB");
  assert.equal(formatBytes(3 * 1024 * 1024), "3 MiB");
  assert.equal(formatBytes(8192), "8 KiB");
  assert.equal(formatBytes(100), "100 B");
  assert.equal(formatBytes(0), "0 B");
});

// The core keeps its own branded number copies of the API's sizes because it imports nothing
// outside itself (the lint layer rule); a test may, and holds the two definitions equal.
test("the core's UNIT_BYTES, PAGE_BYTES and PAGES_PER_UNIT are the wire contract's", () => {
  assert.equal(BigInt(UNIT_BYTES), CONTRACT_UNIT_BYTES);
  assert.equal(BigInt(PAGE_BYTES), CONTRACT_PAGE_BYTES);
  assert.equal(BigInt(PAGES_PER_UNIT), CONTRACT_UNIT_BYTES / CONTRACT_PAGE_BYTES);
});
