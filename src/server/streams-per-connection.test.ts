/**
 * limits.streams_per_connection: the API listeners' HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS
 * (issue 12, item 3: node's http2 session starts every stream of one socket read in one task,
 * so the limit bounds the work one read can cause). What each kind of client sees, over real
 * unix sockets and the real gRPC server: a grpc-js client (nghttp2 underneath) queues its calls
 * past the limit; a client that opens more anyway gets RST_STREAM REFUSED_STREAM for the extra
 * ones while it has not acknowledged the limit, and loses its connection (GOAWAY) once it has.
 * Other connections, the admin's included, never notice, and no stream is left behind.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { ClientReadableStream } from "@grpc/grpc-js";
import { until } from "../daemon/testing/manager-test-kit.ts";
import { TestClient } from "../main/testing/test-client.ts";
import { RawHttp2Connection, type ServerFrame } from "./testing/raw-http2-connection.ts";
import { TransportHarness } from "./testing/transport-harness.ts";

const LIMIT = 4;
const WATCH = "/gmempool.v1.Pool/Watch";
/** RFC 9113 §7. */
const REFUSED_STREAM = 0x7;

describe("limits.streams_per_connection", () => {
  let h: TransportHarness;
  let admin: TestClient;
  before(async () => {
    h = await TransportHarness.start({ maxStreamsPerConnection: LIMIT });
    // The main API socket's peer is the daemon's own process: uid 0, the admin.
    admin = new TestClient({ apiSocket: h.paths.apiSocket, deadlineMs: 10_000 });
  });
  after(async () => {
    admin.close();
    await h.stop();
  });

  /** Another tenant's call on its own connection and the admin's both answer while `hog` holds its streams. */
  async function othersAnswer(): Promise<void> {
    const other = await h.peer({ uid: 1002 });
    await other.client.call("GetPoolStatus", {});
    await admin.callAdmin("ListReservations", {});
    other.client.close();
  }

  async function nothingLeftOpen(): Promise<void> {
    await until(() => h.process.server.watches.size === 0, 5000);
    const { status } = await admin.call("GetPoolStatus", {});
    assert.equal(status?.freeUnitCount, status?.capacityUnitCount);
  }

  test("the server announces the limit in its SETTINGS", async () => {
    const peer = await h.peer({ uid: 1001 });
    const raw = await RawHttp2Connection.connect(peer.apiSocket, { ackSettings: true });
    try {
      await raw.until((frames) => frames.some((f) => f.type === "settings"));
      assert.deepEqual(raw.frames.find((f) => f.type === "settings"), { type: "settings", maxConcurrentStreams: LIMIT });
    } finally {
      raw.close();
    }
  });

  test("a grpc-js client queues its calls past the limit until a stream of its connection ends", async () => {
    const hog = await h.peer({ uid: 1001 });
    const streams: ClientReadableStream<unknown>[] = [];
    const answered = new Set<number>();
    for (let i = 0; i < LIMIT + 2; i++) {
      const stream = hog.client.pool.Watch({ arenaId: "", kinds: [], allOwners: false });
      stream.on("data", () => answered.add(i));
      stream.on("error", () => undefined);
      streams.push(stream);
    }
    await until(() => answered.size === LIMIT, 5000);
    await othersAnswer();
    assert.equal(h.process.server.watches.size, LIMIT, "the daemon serves only the first LIMIT streams of the connection");
    assert.deepEqual([...answered].sort(), [0, 1, 2, 3], "the last two wait in the client");
    streams[0]!.cancel();
    streams[1]!.cancel();
    await until(() => answered.has(LIMIT) && answered.has(LIMIT + 1), 5000);
    for (const s of streams) s.cancel();
    await nothingLeftOpen();
  });

  test("streams opened past an unacknowledged limit are refused (RST_STREAM REFUSED_STREAM) before any handler runs", async () => {
    const hog = await h.peer({ uid: 1001 });
    const raw = await RawHttp2Connection.connect(hog.apiSocket, { ackSettings: false });
    try {
      const ids = raw.open(WATCH, 2 * LIMIT);
      const answered = (frames: readonly ServerFrame[]): ServerFrame[] => frames.filter((f) => f.type === "headers" || f.type === "rst-stream");
      await raw.until((frames) => answered(frames).length === 2 * LIMIT);
      assert.deepEqual(
        raw.frames.filter((f) => f.type === "rst-stream"),
        ids.slice(LIMIT).map((streamId) => ({ type: "rst-stream", streamId, errorCode: REFUSED_STREAM })),
      );
      assert.deepEqual(
        raw.frames.flatMap((f) => (f.type === "headers" ? [f.streamId] : [])),
        ids.slice(0, LIMIT),
      );
      assert.equal(h.process.server.watches.size, LIMIT);
      await othersAnswer();
    } finally {
      raw.close();
    }
    await nothingLeftOpen();
  });

  test("past an acknowledged limit the connection ends (GOAWAY) with all its streams; other connections go on", async () => {
    const hog = await h.peer({ uid: 1001 });
    const raw = await RawHttp2Connection.connect(hog.apiSocket, { ackSettings: true });
    try {
      await raw.until((frames) => frames.some((f) => f.type === "settings"));
      await raw.ping();
      raw.open(WATCH, 2 * LIMIT);
      await raw.until((frames) => frames.some((f) => f.type === "goaway"));
      const goaway = raw.frames.find((f) => f.type === "goaway");
      // nghttp2 takes it as a connection error (RFC 9113 §5.1.2); node 20 then destroys the
      // session, whose GOAWAY says INTERNAL_ERROR (2) rather than PROTOCOL_ERROR (1).
      assert.ok(goaway?.type === "goaway" && (goaway.errorCode === 1 || goaway.errorCode === 2), JSON.stringify(goaway));
      await othersAnswer();
    } finally {
      raw.close();
    }
    await nothingLeftOpen();
  });
});
