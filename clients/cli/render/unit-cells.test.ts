import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { EVERY_STATE_ARENA, run, WIDE_ARENA } from "../testing/sample-maps.ts";
import { unitCells } from "./unit-cells.ts";

describe("unitCells", () => {
  test("an arena that fits gets one cell per unit, in the run's state", () => {
    const { unitsPerCell, cells } = unitCells(EVERY_STATE_ARENA, 64);
    assert.equal(unitsPerCell, 1);
    assert.deepEqual(
      cells.map((c) => c.state),
      ["leased", "leased", "split", "deferred", "discarded", "claimed", "free", "free"],
    );
  });

  test("a wide arena groups units so that at most maxCells cells remain, the last one shorter", () => {
    const arena = { arenaId: "a", unitCount: 10, runs: [run(0, 10, "free")], largestFreeRunUnitCount: 10 };
    const { unitsPerCell, cells } = unitCells(arena, 4);
    assert.equal(unitsPerCell, 3);
    assert.deepEqual(
      cells.map((c) => [c.firstUnit, c.unitCount]),
      [
        [0, 3],
        [3, 3],
        [6, 3],
        [9, 1],
      ],
    );
  });

  test("a grouped cell shows its most fragmented unit: one split unit is not hidden among free ones", () => {
    const { unitsPerCell, cells } = unitCells(WIDE_ARENA, 1024);
    assert.equal(unitsPerCell, 2);
    assert.equal(cells[499]!.state, "leased"); // units 998, 999
    assert.equal(cells[500]!.state, "split"); // units 1000 (free), 1001 (split)
    assert.equal(cells[501]!.state, "free");
    assert.equal(cells.filter((c) => c.state === "split").length, 1);
  });

  test("a cell is free only when every unit in it is free", () => {
    const arena = { arenaId: "a", unitCount: 4, runs: [run(0, 3, "free"), run(3, 1, "leased")], largestFreeRunUnitCount: 3 };
    assert.deepEqual(
      unitCells(arena, 2).cells.map((c) => c.state),
      ["free", "leased"],
    );
  });
});
