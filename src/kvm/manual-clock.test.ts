import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { REAL_CLOCK } from "./clock.ts";
import { ManualClock } from "./manual-clock.ts";

describe("ManualClock", () => {
  test("time moves only on advance; due timers run in order of their time, then of their setting", () => {
    const clock = new ManualClock(1000);
    const fired: string[] = [];
    clock.setTimeout(() => fired.push(`b@${clock.now()}`), 20);
    clock.setTimeout(() => fired.push(`a@${clock.now()}`), 10);
    clock.setTimeout(() => fired.push(`c@${clock.now()}`), 20);
    assert.equal(clock.now(), 1000);
    clock.advance(9);
    assert.deepEqual(fired, []);
    clock.advance(11);
    assert.deepEqual(fired, ["a@1010", "b@1020", "c@1020"]);
    assert.equal(clock.now(), 1020);
    assert.equal(clock.pendingTimers, 0);
  });

  test("a cleared timer never runs; a timer set by a callback runs in the same advance if it falls due", () => {
    const clock = new ManualClock();
    const fired: number[] = [];
    const cleared = clock.setTimeout(() => fired.push(-1), 5);
    clock.clearTimeout(cleared);
    clock.clearTimeout(cleared);
    const start = clock.now();
    clock.setTimeout(() => {
      fired.push(clock.now() - start);
      clock.setTimeout(() => fired.push(clock.now() - start), 10);
    }, 10);
    clock.advance(25);
    assert.deepEqual(fired, [10, 20]);
    assert.equal(clock.now() - start, 25);
    assert.throws(() => clock.advance(-1), /only moves forward/);
  });

  test("the real clock's timers fire and can be cleared", async () => {
    assert.ok(Math.abs(REAL_CLOCK.now() - Date.now()) < 1000);
    const cleared = REAL_CLOCK.setTimeout(() => assert.fail("a cleared timer fired"), 1);
    REAL_CLOCK.clearTimeout(cleared);
    // The real clock's timers are unref'd: a ref'd timer keeps the test process alive meanwhile.
    const alive = setTimeout(() => undefined, 10_000);
    await new Promise<void>((resolve) => REAL_CLOCK.setTimeout(resolve, 1));
    clearTimeout(alive);
  });
});
