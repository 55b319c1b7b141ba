import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { PLAIN_HEATMAP } from "../render/frag-heatmap.ts";
import { DEFAULT_SCREEN } from "../render/frag-screen-fit.ts";
import { memoryIo } from "../testing/memory-io.ts";
import { heatmapOptionsFor, parseScreen } from "./frag.ts";

describe("heatmapOptionsFor", () => {
  test("piped output is plain and fitted to 80x24, whoever runs it; --full piped is the fixed plain layout", () => {
    assert.deepEqual(heatmapOptionsFor(memoryIo()), { ...PLAIN_HEATMAP, screen: DEFAULT_SCREEN });
    assert.deepEqual(heatmapOptionsFor(memoryIo(), { full: true }), PLAIN_HEATMAP);
  });

  test("a terminal's size is the screen, --screen overrides it, --full fits nothing", () => {
    assert.deepEqual(heatmapOptionsFor(memoryIo({ isTTY: true, columns: 100, rows: 40 })).screen, { columns: 100, rows: 40 });
    assert.deepEqual(heatmapOptionsFor(memoryIo({ isTTY: true, columns: 100, rows: 40 }), { screen: { columns: 60, rows: 20 } }).screen, { columns: 60, rows: 20 });
    assert.deepEqual(heatmapOptionsFor(memoryIo(), { screen: { columns: 120, rows: 50 } }).cellsPerRow, 104);
    assert.equal(heatmapOptionsFor(memoryIo({ isTTY: true }), { full: true }).screen, undefined);
  });

  test("--screen takes COLUMNSxROWS and refuses what no map fits, naming the value", () => {
    assert.deepEqual(parseScreen("120x40"), { columns: 120, rows: 40 });
    assert.throws(() => parseScreen("30x24"), /--screen must be COLUMNSxROWS, at least 40x8, not "30x24"/);
    assert.throws(() => parseScreen("80"), /not "80"/);
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
