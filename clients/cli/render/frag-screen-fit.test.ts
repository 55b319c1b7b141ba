import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { planScreen } from "./frag-screen-fit.ts";

const arena = (naturalRows: number, hasLeases = true): { naturalRows: number; hasLeases: boolean } => ({ naturalRows, hasLeases });

describe("planScreen", () => {
  test("everything fits: every arena gets its natural rows", () => {
    assert.deepEqual(planScreen([arena(2), arena(3, false)], 24), { gridRows: [2, 3], omittedArenas: 0 });
  });

  test("rows left over go round-robin, so no arena takes them all", () => {
    // 24 - 5 fixed = 19 lines; 3 arenas x (heading + leases) = 6; 13 grid rows for 3 arenas.
    assert.deepEqual(planScreen([arena(16), arena(16), arena(16)], 24), { gridRows: [5, 4, 4], omittedArenas: 0 });
  });

  test("arenas past the screen are left out, last first, keeping a line to say so", () => {
    // 19 lines: 6 arenas x 3 = 18 + the omission line = 19.
    const plan = planScreen(Array.from({ length: 9 }, () => arena(16)), 24);
    assert.deepEqual(plan, { gridRows: [1, 1, 1, 1, 1, 1], omittedArenas: 3 });
  });

  test("the last arena needs no omission line, so it may use that line", () => {
    // 10 - 5 = 5 lines: an arena of 3 lines and one of 2 (no leases) exactly.
    assert.deepEqual(planScreen([arena(4), arena(1, false)], 10), { gridRows: [1, 1], omittedArenas: 0 });
  });

  test("a screen too small for any arena shows none and counts them", () => {
    assert.deepEqual(planScreen([arena(1), arena(1)], 6), { gridRows: [], omittedArenas: 2 });
  });
});
