import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { InFlightLimit } from "./in-flight-limit.ts";

describe("InFlightLimit", () => {
  test("runs at most max tasks at once, in arrival order, and frees the slot of a failed task", async () => {
    const limit = new InFlightLimit(2);
    let running = 0;
    let peak = 0;
    const order: number[] = [];
    const task = (i: number) => async (): Promise<number> => {
      running++;
      peak = Math.max(peak, running);
      order.push(i);
      limit.assertInvariants();
      await new Promise((resolve) => setTimeout(resolve, 2));
      running--;
      if (i === 3) throw new Error("task 3 fails");
      return i;
    };
    const results = await Promise.allSettled([0, 1, 2, 3, 4, 5].map((i) => limit.run(task(i))));
    assert.equal(peak, 2);
    assert.deepEqual(order, [0, 1, 2, 3, 4, 5]);
    assert.equal(results[3]?.status, "rejected");
    assert.deepEqual(results.filter((r) => r.status === "fulfilled").map((r) => r.value), [0, 1, 2, 4, 5]);
    assert.equal(limit.running, 0);
    assert.equal(limit.waiting, 0);
  });

  test("refuses a limit that is not a positive integer", () => {
    assert.throws(() => new InFlightLimit(0), RangeError);
    assert.throws(() => new InFlightLimit(1.5), RangeError);
  });
});
