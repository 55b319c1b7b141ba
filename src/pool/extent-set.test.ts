import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { ExtentSet } from "./extent-set.ts";

function runsOf(set: ExtentSet): [number, number][] {
  return [...set.runs()];
}

describe("ExtentSet", () => {
  test("adding adjacent ranges merges them into one run", () => {
    const set = new ExtentSet();
    set.add(0, 4);
    set.add(8, 12);
    set.add(4, 8);
    assert.deepEqual(runsOf(set), [[0, 12]]);
    assert.equal(set.size, 12);
    set.assertInvariants();
  });

  test("adding a range that joins only the previous or only the next run extends it", () => {
    const set = new ExtentSet();
    set.add(0, 2);
    set.add(10, 12);
    set.add(2, 4);
    set.add(8, 10);
    assert.deepEqual(runsOf(set), [[0, 4], [8, 12]]);
    set.add(5, 6);
    assert.deepEqual(runsOf(set), [[0, 4], [5, 6], [8, 12]]);
    set.assertInvariants();
  });

  test("adding an overlapping range throws instead of double counting", () => {
    const set = new ExtentSet();
    set.add(0, 4);
    assert.throws(() => set.add(3, 5), /overlaps/);
    assert.equal(set.size, 4);
  });

  test("removing from the middle splits a run; from an end trims it; the whole run deletes it", () => {
    const set = new ExtentSet();
    set.add(0, 10);
    set.remove(3, 5);
    assert.deepEqual(runsOf(set), [[0, 3], [5, 10]]);
    set.remove(0, 1);
    set.remove(8, 10);
    assert.deepEqual(runsOf(set), [[1, 3], [5, 8]]);
    set.remove(1, 3);
    assert.deepEqual(runsOf(set), [[5, 8]]);
    assert.equal(set.size, 3);
    set.assertInvariants();
  });

  test("removing what is not wholly in the set throws", () => {
    const set = new ExtentSet();
    set.add(0, 4);
    assert.throws(() => set.remove(2, 6), /not wholly/);
    assert.throws(() => set.remove(10, 11), /not wholly/);
  });

  test("empty ranges are no-ops", () => {
    const set = new ExtentSet();
    set.add(3, 3);
    set.remove(3, 3);
    assert.equal(set.size, 0);
    assert.equal(set.containsRange(5, 5), true);
    assert.equal(set.intersects(5, 5), false);
    assert.deepEqual([...set.runsInRange(4, 4)], []);
  });

  test("queries: containsRange, has, intersects, countInRange, runsInRange", () => {
    const set = new ExtentSet();
    set.add(2, 5);
    set.add(8, 10);
    assert.equal(set.containsRange(2, 5), true);
    assert.equal(set.containsRange(2, 6), false);
    assert.equal(set.has(9), true);
    assert.equal(set.has(6), false);
    assert.equal(set.intersects(5, 8), false);
    assert.equal(set.intersects(4, 9), true);
    assert.equal(set.intersects(0, 2), false);
    assert.equal(set.countInRange(0, 100), 5);
    assert.equal(set.countInRange(3, 9), 3);
    assert.deepEqual([...set.runsInRange(3, 9)], [[3, 5], [8, 9]]);
    assert.equal(set.runCount, 2);
  });

  test("firstFit takes the lowest run long enough; bestFit the shortest", () => {
    const set = new ExtentSet();
    set.add(0, 5);
    set.add(10, 13);
    set.add(20, 30);
    assert.equal(set.firstFit(3), 0);
    assert.equal(set.bestFit(3), 10);
    assert.equal(set.bestFit(6), 20);
    assert.equal(set.bestFit(4), 0);
    assert.equal(set.firstFit(11), -1);
    assert.equal(set.bestFit(11), -1);
    assert.equal(set.largestRun(), 10);
    assert.equal(new ExtentSet().largestRun(), 0);
  });

  test("takeAny takes from the top or the bottom across runs", () => {
    const set = new ExtentSet();
    set.add(0, 2);
    set.add(5, 8);
    const top = set.clone();
    assert.deepEqual(top.takeAny(4, true), [[5, 8], [1, 2]]);
    assert.deepEqual(runsOf(top), [[0, 1]]);
    assert.deepEqual(set.takeAny(3, false), [[0, 2], [5, 6]]);
    assert.deepEqual(runsOf(set), [[6, 8]]);
    assert.throws(() => set.takeAny(3, false), /2 present/);
  });

  test("assertInvariants detects a corrupted count", () => {
    const set = new ExtentSet();
    set.add(0, 2);
    (set as unknown as { count: number }).count = 7;
    assert.throws(() => set.assertInvariants(), /size 7/);
  });

  test("assertInvariants detects inverted and touching runs", () => {
    const inverted = new ExtentSet();
    (inverted as unknown as { starts: number[]; ends: number[] }).starts.push(4);
    (inverted as unknown as { starts: number[]; ends: number[] }).ends.push(2);
    assert.throws(() => inverted.assertInvariants(), /inverted/);
    const touching = new ExtentSet();
    const raw = touching as unknown as { starts: number[]; ends: number[]; count: number };
    raw.starts.push(0, 2);
    raw.ends.push(2, 4);
    raw.count = 4;
    assert.throws(() => touching.assertInvariants(), /touch/);
  });
});
