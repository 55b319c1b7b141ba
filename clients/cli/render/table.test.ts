import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { renderFields, renderTable } from "./table.ts";

describe("renderTable", () => {
  test("pads columns to the widest cell, right-aligns numbers with their header and trims line ends", () => {
    const text = renderTable([{ header: "ID" }, { header: "SIZE", align: "right" }, { header: "NAME" }], [
      ["a-1", "2 MiB", "boot"],
      ["a-22", "512 MiB", ""],
    ]);
    assert.equal(text, ["ID       SIZE  NAME", "a-1     2 MiB  boot", "a-22  512 MiB", ""].join("\n"));
  });

  test("a row with fewer cells than columns gets empty cells", () => {
    assert.equal(renderTable([{ header: "A" }, { header: "B" }], [["x"]]), "A  B\nx\n");
  });
});

describe("renderFields", () => {
  test("aligns the values after the longest name", () => {
    assert.equal(renderFields([["free", "1"], ["largest run", "2"]], "  "), "  free         1\n  largest run  2\n");
  });
});

describe("renderTable with an indent", () => {
  test("every line starts with it", () => {
    assert.equal(renderTable([{ header: "A" }, { header: "N", align: "right" }], [["x", "10"]], "  "), "  A   N\n  x  10\n");
  });
});
