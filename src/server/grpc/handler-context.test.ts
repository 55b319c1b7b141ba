/**
 * The one wrapper every call goes through (handler-context.ts): calls start through the
 * admission queue — a burst from one uid spread over loop turns, another uid's call not left
 * behind it, a call cancelled while it waited never started — and a call whose own work holds
 * the loop over CALL_LOOP_HOLD_WARN_MS is logged with its method and part (issue 12).
 */
import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { test } from "node:test";
import { pino } from "pino";
import { ConnectionCallers } from "./connection-callers.ts";
import { CALL_LOOP_HOLD_MESSAGE, CALL_LOOP_HOLD_WARN_MS, unaryHandler, type HandlerContext } from "./handler-context.ts";
import { TurnQueue } from "./turn-queue.ts";
import { busyFor } from "../testing/busy-for.ts";
import { FakeSocket, testCaller } from "../testing/tagged-connection.ts";


/** A HandlerContext whose log lines are kept, and one registered connection per uid. */
function harness(uids: readonly number[]) {
  const lines: Record<string, unknown>[] = [];
  const logger = pino({ level: "warn" }, new Writable({ write(chunk: Buffer, _encoding, done) { lines.push(JSON.parse(chunk.toString("utf8")) as Record<string, unknown>); done(); } }));
  const callers = new ConnectionCallers();
  const peers = new Map(uids.map((uid) => [uid, callers.register(new FakeSocket(), testCaller(uid))]));
  const context = { service: undefined, tokens: undefined, callers, admission: new TurnQueue<number>(1), metrics: undefined, logger, transport: undefined } as unknown as HandlerContext<unknown>;
  /** A grpc-js unary call on `uid`'s connection, and the answer its callback gets. */
  const call = (uid: number) => {
    const fake = { cancelled: false, request: {}, getPeer: () => peers.get(uid)!, sendMetadata: () => undefined };
    let resolveAnswer!: (answer: unknown) => void;
    const answered = new Promise((resolve) => (resolveAnswer = resolve));
    return { fake, answered, callback: (error: unknown, response?: unknown) => resolveAnswer(error ?? response) };
  };
  return { lines, context, call };
}

test("a call whose start holds the loop over the bound is logged with its method; a quick one is not", async () => {
  const { lines, context, call } = harness([1001]);
  const slow = unaryHandler(context, "Slow", () => {
    busyFor(CALL_LOOP_HOLD_WARN_MS + 5);
    return { response: "slow" };
  });
  const quick = unaryHandler(context, "Quick", () => ({ response: "quick" }));
  for (const [handler, name] of [[slow, "slow"], [quick, "quick"]] as const) {
    const c = call(1001);
    handler(c.fake as never, c.callback);
    assert.equal(await c.answered, name);
    await new Promise((resolve) => setImmediate(resolve));
  }
  const held = lines.filter((l) => l["msg"] === CALL_LOOP_HOLD_MESSAGE);
  assert.equal(held.length, 1, JSON.stringify(lines));
  assert.equal(held[0]!["method"], "Slow");
  assert.equal(held[0]!["part"], "start");
  assert.ok(Number(held[0]!["heldMs"]) > CALL_LOOP_HOLD_WARN_MS);
});

test("a slow answer is logged once: as the answer when it came later, as the start when it was ready at once", async () => {
  const { lines, context, call } = harness([1001]);
  const later = unaryHandler(context, "Later", async () => {
    await new Promise((resolve) => setImmediate(resolve));
    return { response: "later" };
  });
  const now = unaryHandler(context, "Now", () => ({ response: "now" }));
  for (const [handler, name] of [[later, "later"], [now, "now"]] as const) {
    const c = call(1001);
    // The answer's part includes handing it to grpc-js, which encodes and writes it: a slow one here.
    handler(c.fake as never, (error: unknown, response?: unknown) => {
      busyFor(CALL_LOOP_HOLD_WARN_MS + 5);
      c.callback(error, response);
    });
    assert.equal(await c.answered, name);
    await new Promise((resolve) => setImmediate(resolve));
  }
  const held = lines.filter((l) => l["msg"] === CALL_LOOP_HOLD_MESSAGE);
  assert.deepEqual(held.map((l) => [l["method"], l["part"]]), [["Later", "answer"], ["Now", "start"]]);
});

test("a burst of one uid's calls is spread over loop turns, and another uid's call is not left behind it", async () => {
  const { context, call } = harness([1001, 1002]);
  const order: string[] = [];
  const handler = unaryHandler(context, "Work", (caller) => {
    busyFor(1);
    order.push(String(caller.uid));
    return { response: "ok" };
  });
  const answers: Promise<unknown>[] = [];
  for (let i = 0; i < 40; i++) {
    const c = call(1001);
    handler(c.fake as never, c.callback);
    answers.push(c.answered);
  }
  const other = call(1002);
  handler(other.fake as never, other.callback);
  const startedWhenTimerFired = await new Promise<number>((resolve) => setTimeout(() => resolve(order.length), 0));
  await Promise.all([...answers, other.answered]);
  assert.ok(startedWhenTimerFired < 20, `${startedWhenTimerFired} of 41 calls of 1 ms started before a due timer`);
  const otherAt = order.indexOf("1002");
  assert.ok(otherAt >= 0 && otherAt < 10, `uid 1002's call started ${otherAt + 1}th of ${order.length}, behind uid 1001's burst`);
});

test("a call cancelled while it waits for its turn is never started", async () => {
  const { context, call } = harness([1001]);
  let started = 0;
  const handler = unaryHandler(context, "Work", () => {
    started++;
    busyFor(3);
    return { response: "ok" };
  });
  const first = call(1001);
  const second = call(1001);
  handler(first.fake as never, first.callback);
  handler(second.fake as never, second.callback);
  second.fake.cancelled = true;
  await first.answered;
  await new Promise((resolve) => setTimeout(resolve, 20));
  assert.equal(started, 1);
});
