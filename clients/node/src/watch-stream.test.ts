import assert from "node:assert/strict";
import { EventEmitter } from "node:events";
import { describe, test } from "node:test";
import type { ClientReadableStream, ServiceError } from "@grpc/grpc-js";
import { Metadata, status } from "@grpc/grpc-js";
import type { WatchResponse__Output } from "@gmempool/contract/generated/gmempool/v1/WatchResponse";
import { CancelledError, errorForStatus, ExhaustedError, InternalError, UnavailableError } from "./pool-errors.ts";
import { GrpcWatchStream, HIGH_WATER_EVENTS } from "./watch-stream.ts";

/** What GrpcWatchStream uses of a grpc-js server stream, recording pause / resume / cancel. */
class FakeCall extends EventEmitter {
  paused = false;
  cancelled = false;
  pause(): this {
    this.paused = true;
    return this;
  }
  resume(): this {
    this.paused = false;
    return this;
  }
  cancel(): void {
    if (this.cancelled) return;
    this.cancelled = true;
    // grpc-js reports a cancelled call as an error with status CANCELLED.
    queueMicrotask(() => this.emit("error", serviceError(status.CANCELLED, "Cancelled on client")));
  }
}

function serviceError(code: status, details: string): ServiceError {
  return Object.assign(new Error(`${code} ${details}`), { code, details, metadata: new Metadata() });
}

function released(sequence: number): WatchResponse__Output {
  return { sequence: String(sequence), time: null, event: "leaseReleased", leaseReleased: { leaseId: `lease-${sequence}`, arenaId: "arena-1", releasedUnitCount: 1, reason: "RELEASE_REASON_CLIENT" } };
}

function streamOver(call: FakeCall, signal?: AbortSignal): GrpcWatchStream {
  return new GrpcWatchStream(call as unknown as ClientReadableStream<WatchResponse__Output>, {
    signal,
    convertError: (error) => errorForStatus(error.code, error.details, { operation: "Watch" }),
  });
}

describe("GrpcWatchStream", () => {
  test("events come out in arrival order, whether next() waits or they were queued", async () => {
    const call = new FakeCall();
    const stream = streamOver(call);
    const waiting = stream.next();
    call.emit("data", released(1));
    call.emit("data", released(2));
    call.emit("data", released(3));
    const sequences = [(await waiting).value?.sequence, (await stream.next()).value?.sequence, (await stream.next()).value?.sequence];
    assert.deepEqual(sequences, [1n, 2n, 3n]);
    stream.cancel();
  });

  test("an error ending the stream is thrown once, after the events queued before it; then done", async () => {
    const call = new FakeCall();
    const stream = streamOver(call);
    call.emit("data", released(1));
    call.emit("error", serviceError(status.RESOURCE_EXHAUSTED, "fell behind: last event sent 1"));
    assert.equal((await stream.next()).value?.sequence, 1n);
    await assert.rejects(stream.next(), (e) => e instanceof ExhaustedError && e.message === "Watch: fell behind: last event sent 1");
    assert.deepEqual(await stream.next(), { value: undefined, done: true });
  });

  test("a daemon that drains ends a waiting next() with UnavailableError", async () => {
    const call = new FakeCall();
    const stream = streamOver(call);
    const waiting = stream.next();
    call.emit("error", serviceError(status.UNAVAILABLE, "the daemon is draining"));
    await assert.rejects(waiting, UnavailableError);
  });

  test("the daemon ending the stream with OK is done", async () => {
    const call = new FakeCall();
    const stream = streamOver(call);
    const waiting = stream.next();
    call.emit("end");
    assert.deepEqual(await waiting, { value: undefined, done: true });
  });

  test("cancel() cancels the call and a pending next() resolves as done, not as an error", async () => {
    const call = new FakeCall();
    const stream = streamOver(call);
    const waiting = stream.next();
    stream.cancel();
    assert.equal(call.cancelled, true);
    assert.deepEqual(await waiting, { value: undefined, done: true });
    assert.deepEqual(await stream.next(), { value: undefined, done: true });
  });

  test("break out of for-await cancels the call", async () => {
    const call = new FakeCall();
    const stream = streamOver(call);
    call.emit("data", released(1));
    call.emit("data", released(2));
    for await (const event of stream) {
      assert.equal(event.sequence, 1n);
      break;
    }
    assert.equal(call.cancelled, true);
    assert.deepEqual(await stream.next(), { value: undefined, done: true });
  });

  test("an AbortSignal ends the stream (done), aborted before or after it started", async () => {
    const before = new FakeCall();
    const early = streamOver(before, AbortSignal.abort());
    assert.equal(before.cancelled, true);
    assert.deepEqual(await early.next(), { value: undefined, done: true });

    const controller = new AbortController();
    const call = new FakeCall();
    const stream = streamOver(call, controller.signal);
    const waiting = stream.next();
    controller.abort();
    assert.deepEqual(await waiting, { value: undefined, done: true });
    assert.equal(call.cancelled, true);
  });

  test("a consumer that falls behind pauses the gRPC stream (flow control), and catching up resumes it; nothing is dropped", async () => {
    const call = new FakeCall();
    const stream = streamOver(call);
    for (let i = 1; i <= HIGH_WATER_EVENTS; i++) call.emit("data", released(i));
    assert.equal(call.paused, true);
    const seen: bigint[] = [];
    while (seen.length < HIGH_WATER_EVENTS / 2 + 1) seen.push((await stream.next()).value!.sequence);
    assert.equal(call.paused, false);
    while (seen.length < HIGH_WATER_EVENTS) seen.push((await stream.next()).value!.sequence);
    assert.deepEqual(
      seen,
      Array.from({ length: HIGH_WATER_EVENTS }, (_, i) => BigInt(i + 1)),
    );
    stream.cancel();
  });

  test("an event this client cannot decode ends the stream with InternalError and cancels the call", async () => {
    const call = new FakeCall();
    const stream = streamOver(call);
    call.emit("data", { ...released(1), leaseReleased: { ...released(1).leaseReleased!, reason: "RELEASE_REASON_FROM_THE_FUTURE" } });
    await assert.rejects(stream.next(), (e) => e instanceof InternalError && /RELEASE_REASON_FROM_THE_FUTURE/.test(e.message));
    assert.equal(call.cancelled, true);
  });

  test("closing the client shows as CancelledError when convertError says so", async () => {
    const call = new FakeCall();
    const stream = new GrpcWatchStream(call as unknown as ClientReadableStream<WatchResponse__Output>, {
      convertError: () => new CancelledError("the client was closed", { operation: "Watch" }),
    });
    const waiting = stream.next();
    call.cancel(); // as GrpcChannel.close() does
    await assert.rejects(waiting, CancelledError);
  });
});
