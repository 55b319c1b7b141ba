import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { PLAIN_HEATMAP } from "../render/frag-heatmap.ts";
import { memoryIo } from "../testing/memory-io.ts";
import { heatmapOptionsFor } from "./frag.ts";

describe("heatmapOptionsFor", () => {
  test("piped output gets the fixed plain layout, whatever the terminal", () => {
    assert.deepEqual(heatmapOptionsFor(memoryIo()), PLAIN_HEATMAP);
  });

  test("a terminal's grid fills its width in steps of 8 cells, between 16 and 128", () => {
    assert.equal(heatmapOptionsFor(memoryIo({ isTTY: true, columns: 100 })).cellsPerRow, 88);
    assert.equal(heatmapOptionsFor(memoryIo({ isTTY: true, columns: 30 })).cellsPerRow, 16);
    assert.equal(heatmapOptionsFor(memoryIo({ isTTY: true, columns: 400 })).cellsPerRow, 128);
  });

  test("colour on a terminal unless NO_COLOR is set to something", () => {
    assert.equal(heatmapOptionsFor(memoryIo({ isTTY: true })).color, true);
    assert.equal(heatmapOptionsFor(memoryIo({ isTTY: true, env: { NO_COLOR: "" } })).color, true);
    assert.equal(heatmapOptionsFor(memoryIo({ isTTY: true, env: { NO_COLOR: "1" } })).color, false);
  });
});
