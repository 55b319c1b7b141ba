import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { parseSize } from "./units.ts";

describe("parseSize", () => {
  test("binary units, with or without a space, any case; a bare number is bytes", () => {
    assert.equal(parseSize("4KiB"), 4096n);
    assert.equal(parseSize("2MiB"), 2n << 20n);
    assert.equal(parseSize("2 mib"), 2n << 20n);
    assert.equal(parseSize("1G"), 1n << 30n);
    assert.equal(parseSize("1GiB"), 1n << 30n);
    assert.equal(parseSize("3TiB"), 3n << 40n);
    assert.equal(parseSize("4096"), 4096n);
    assert.equal(parseSize("7B"), 7n);
  });

  test("sizes above 2^53 bytes stay exact", () => {
    assert.equal(parseSize("9007199254740993"), 9007199254740993n);
  });

  for (const text of ["", "MiB", "1.5GiB", "-2MiB", "2MB", "2 megs", "0x1000"]) {
    test(`"${text}" is not a size`, () => {
      assert.throws(() => parseSize(text), /is not a size/);
    });
  }
});
