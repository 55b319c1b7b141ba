/**
 * TurnQueue: jobs in order, a higher rank first, and a burst run across loop turns — a timer due
 * meanwhile fires between slices instead of after the whole burst.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { TurnQueue } from "./turn-queue.ts";
import { busyFor } from "../testing/busy-for.ts";

/** Resolves once the queue has nothing left (polled each turn). */
async function drained(queue: TurnQueue<unknown>): Promise<void> {
  while (queue.size > 0) await new Promise((resolve) => setImmediate(resolve));
}


test("jobs run later, in order, rank 0 before rank 1 whenever both wait", async () => {
  const queue = new TurnQueue(2);
  const ran: string[] = [];
  queue.push(() => ran.push("refused a"), 1);
  queue.push(() => ran.push("a"));
  queue.push(() => ran.push("refused b"), 1);
  queue.push(() => ran.push("b"));
  assert.deepEqual(ran, [], "nothing runs inside push");
  await drained(queue);
  assert.deepEqual(ran, ["a", "b", "refused a", "refused b"]);
  assert.throws(() => queue.push(() => undefined, 2), /rank 2 is not below 2/);
});

test("a burst is run a budget at a time: a timer due during it fires before the burst ends", async () => {
  const queue = new TurnQueue(1, 2);
  let done = 0;
  const jobs = 50;
  for (let i = 0; i < jobs; i++) queue.push(() => {
    busyFor(1);
    done++;
  });
  const doneWhenTimerFired = await new Promise<number>((resolve) => setTimeout(() => resolve(done), 0));
  assert.ok(doneWhenTimerFired < jobs, `the timer waited for all ${jobs} jobs`);
  assert.ok(doneWhenTimerFired <= 10, `${doneWhenTimerFired} jobs of 1 ms ran before a due timer (budget 2 ms)`);
  await drained(queue);
  assert.equal(done, jobs);
});

test("within a rank the keys take turns; admit runs a job at once only while nothing waits and the turn has budget", async () => {
  const queue = new TurnQueue<string>(1, 2);
  const ran: string[] = [];
  queue.admit(() => ran.push("alone"), "a");
  assert.deepEqual(ran, ["alone"], "a job admitted alone runs inside admit");
  queue.admit(() => busyFor(3), "a");
  for (let i = 1; i <= 3; i++) queue.admit(() => ran.push(`a${i}`), "a");
  queue.admit(() => ran.push("b1"), "b");
  assert.deepEqual(ran, ["alone"], "past the budget, jobs wait");
  await drained(queue);
  assert.deepEqual(ran, ["alone", "a1", "b1", "a2", "a3"]);
});
