/**
 * LoopBusyMonitor tells the daemon's own work from waiting: a loop held by a spinning task reads
 * busy, a loop held as long by a thread that sleeps (as one the host does not schedule) reads late
 * but not busy, which the loop-delay metrics cannot tell apart.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { LoopBusyMonitor } from "./loop-busy-monitor.ts";
import { busyFor } from "./testing/busy-for.ts";

const RESOLUTION_MS = 1;
const HOLD_MS = 80;

/** The stretches the monitor reports while `hold` keeps the loop for HOLD_MS, and a few ticks after. */
async function stretchesDuring(hold: () => void): Promise<number[]> {
  const stretches: number[] = [];
  const monitor = new LoopBusyMonitor(RESOLUTION_MS, (ms) => stretches.push(ms));
  try {
    await new Promise((resolve) => setTimeout(resolve, 5));
    hold();
    await new Promise((resolve) => setTimeout(resolve, 10));
  } finally {
    monitor.close();
  }
  return stretches;
}

test("a task that spins holds the loop: the stretch is read as busy", async () => {
  const stretches = await stretchesDuring(() => busyFor(HOLD_MS));
  // Not the whole HOLD_MS: on a shared 2-core host the spinning thread may itself wait for a CPU.
  assert.ok(Math.max(...stretches) >= 20, `longest busy stretch ${Math.max(...stretches).toFixed(1)} ms after spinning ${HOLD_MS} ms`);
});

test("a thread that sleeps as long holds the loop too, but is not read as busy", async () => {
  const stretches = await stretchesDuring(() => {
    // Blocks the thread without using CPU, as a thread the scheduler leaves waiting would be.
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, HOLD_MS);
  });
  assert.ok(stretches.length > 0, "the monitor ticked");
  assert.ok(Math.max(...stretches) < 10, `longest busy stretch ${Math.max(...stretches).toFixed(1)} ms while the thread slept ${HOLD_MS} ms`);
});

test("close stops the monitor", async () => {
  let ticks = 0;
  const monitor = new LoopBusyMonitor(RESOLUTION_MS, () => ticks++);
  monitor.close();
  const after = ticks;
  await new Promise((resolve) => setTimeout(resolve, 10));
  assert.equal(ticks, after, "no tick after close");
});
