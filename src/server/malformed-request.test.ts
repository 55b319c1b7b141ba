/**
 * Request bytes that do not decode as their protobuf message are the caller's bad argument:
 * INVALID_ARGUMENT naming the method and the message type, counted under that code, and the
 * daemon's state unchanged — never grpc-js's INTERNAL "Error deserializing request" (issue 12,
 * item 4: 7,005 of 30,000 fuzzed requests answered INTERNAL).
 */
import assert from "node:assert/strict";
import * as grpc from "@grpc/grpc-js";
import { after, before, describe, test } from "node:test";
import { gmempoolPackageDefinition } from "@gmempool/contract";
import type { MethodDefinition } from "@grpc/proto-loader";
import { TransportHarness, type TransportPeer } from "./testing/transport-harness.ts";

/**
 * Bytes no message of the API decodes: field 1 with a length (or value) varint cut short, as
 * length-delimited and as varint. (protobufjs reads field 1 as its declared type whatever the
 * wire type says, so only truncation fails every message.)
 */
const MALFORMED: readonly Buffer[] = [Buffer.from([0x0a, 0xff]), Buffer.from([0x08, 0xff])];

function methods(): { service: string; name: string; method: MethodDefinition<unknown, unknown> }[] {
  const definition = gmempoolPackageDefinition();
  return ["gmempool.v1.Pool", "gmempool.v1.Admin"].flatMap((service) => {
    const d = definition[service];
    if (d === undefined || "format" in d) throw new Error(`${service} is not a service`);
    return Object.entries(d).map(([name, method]) => ({ service, name, method: method as MethodDefinition<unknown, unknown> }));
  });
}

function rawCall(client: grpc.Client, method: MethodDefinition<unknown, unknown>, bytes: Buffer): Promise<grpc.ServiceError | undefined> {
  return new Promise((resolve) => {
    const identity = (b: Buffer): Buffer => b;
    if (method.responseStream) {
      const stream = client.makeServerStreamRequest(method.path, identity, identity, bytes);
      stream.on("data", () => undefined);
      stream.on("error", (error: grpc.ServiceError) => resolve(error));
      stream.on("end", () => resolve(undefined));
      return;
    }
    client.makeUnaryRequest(method.path, identity, identity, bytes, (error) => resolve(error ?? undefined));
  });
}

describe("malformed request bytes", () => {
  let h: TransportHarness;
  let peer: TransportPeer;
  let raw: grpc.Client;
  before(async () => {
    h = await TransportHarness.start();
    peer = await h.peer();
    raw = new grpc.Client(`unix://${peer.apiSocket}`, grpc.credentials.createInsecure());
  });
  after(async () => {
    raw.close();
    await h.stop();
  });

  test("every method answers INVALID_ARGUMENT naming itself and its request type, and nothing changes", async () => {
    const before = h.daemon.observableState();
    const all = methods();
    assert.ok(all.length > 20, `${all.length} methods`);
    for (const { name, method } of all) {
      for (const bytes of MALFORMED) {
        const error = await rawCall(raw, method, bytes);
        assert.ok(error !== undefined, `${name} accepted ${bytes.toString("hex")}`);
        assert.equal(error.code, grpc.status.INVALID_ARGUMENT, `${name}: ${error.code} ${error.details}`);
        const requestType = (method.requestType as unknown as { type: { name: string } }).type.name;
        assert.match(error.details, new RegExp(`${name}.*${requestType}|${requestType}.*${name}`), error.details);
      }
    }
    assert.deepEqual(h.daemon.observableState(), before);
  });

  test("the calls are counted under INVALID_ARGUMENT, none under INTERNAL", async () => {
    const metrics = await h.process.server.metrics.registry.getSingleMetricAsString("gmempool_rpc_duration_seconds");
    assert.match(metrics, /code="INVALID_ARGUMENT"/);
    assert.doesNotMatch(metrics, /code="INTERNAL"/);
  });
});
