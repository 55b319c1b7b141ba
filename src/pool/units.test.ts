import assert from "node:assert/strict";
import { test } from "node:test";
import { bytes, formatBytes, pages, pagesToBytes, units, unitsToBytes } from "./units.ts";

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
