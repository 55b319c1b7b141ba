// The API as the daemon and the client library load it: the .proto files through
// @grpc/proto-loader with the options of proto-options.ts. Checks that the services have the RPCs the generated types
// promise, that the chosen options keep 64-bit byte values exact and give the documented
// shapes, and that every RPC's comment documents its status codes.
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";

import type { AdminDefinition } from "./generated/gmempool/v1/Admin.ts";
import type { PoolDefinition } from "./generated/gmempool/v1/Pool.ts";
import { PROTO_FILES, findProtoRoot, protoLoaderOptions } from "./proto-options.ts";

/** The keys of T without its index signatures (the generated definitions extend an indexed type). */
type KnownKeys<T> = keyof { [K in keyof T as string extends K ? never : number extends K ? never : K]: T[K] };

/** A compile-time check that two unions are equal; the test fails to type-check otherwise. */
type Equal<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;

const POOL_RPCS = [
  "Allocate",
  "Convert",
  "CreateArenaPair",
  "CreateMemfdArena",
  "DeleteArena",
  "Discard",
  "GetArena",
  "GetCapabilities",
  "GetFragmentationMap",
  "GetLease",
  "GetPolicy",
  "GetPoolStatus",
  "HandOverArena",
  "ListArenas",
  "ListLeases",
  "Populate",
  "ReattachArena",
  "RegisterGuestMemfdArena",
  "Release",
  "Watch",
] as const;
const ADMIN_RPCS = ["ForceRelease", "ListReservations", "Reserve", "SetPolicy", "Unreserve"] as const;

const poolRpcsMatchGeneratedTypes: Equal<(typeof POOL_RPCS)[number], KnownKeys<PoolDefinition>> = true;
const adminRpcsMatchGeneratedTypes: Equal<(typeof ADMIN_RPCS)[number], KnownKeys<AdminDefinition>> = true;

/** RPCs that do not change state, so need no request_id. */
const READ_ONLY_RPCS = new Set([
  "GetArena",
  "GetCapabilities",
  "GetFragmentationMap",
  "GetLease",
  "GetPolicy",
  "GetPoolStatus",
  "ListArenas",
  "ListLeases",
  "ListReservations",
  "Watch",
]);

/** Mutating RPCs idempotent by their own key (a claim UID), so without a request_id. */
const KEYED_RPCS = new Set(["Reserve", "Unreserve"]);

const protoRoot = findProtoRoot();
const packageDefinition = protoLoader.loadSync([...PROTO_FILES], protoLoaderOptions(protoRoot));

function serviceDefinition(name: string): protoLoader.ServiceDefinition {
  const definition = packageDefinition[`gmempool.v1.${name}`];
  assert.ok(definition !== undefined && !("format" in definition), `gmempool.v1.${name} is not a service`);
  return definition;
}

function method(service: string, rpc: string): protoLoader.MethodDefinition<object, object> {
  const definition = serviceDefinition(service)[rpc];
  assert.ok(definition !== undefined, `${service}.${rpc} is not loaded`);
  return definition;
}

/** Encodes `value` as `rpc`'s request, decodes it back: what a handler receives. */
function requestRoundTrip(service: string, rpc: string, value: object): Record<string, unknown> {
  const m = method(service, rpc);
  return m.requestDeserialize(m.requestSerialize(value)) as Record<string, unknown>;
}

/** Encodes `value` as `rpc`'s response, decodes it back: what a client receives. */
function responseRoundTrip(service: string, rpc: string, value: object): Record<string, unknown> {
  const m = method(service, rpc);
  return m.responseDeserialize(m.responseSerialize(value)) as Record<string, unknown>;
}

interface RpcText {
  service: string;
  rpc: string;
  comment: string;
}

/** Every `rpc` of every service in the .proto texts, with its leading `//` comment block. */
function rpcsInProtoText(): RpcText[] {
  const found: RpcText[] = [];
  for (const file of PROTO_FILES) {
    const lines = readFileSync(join(protoRoot, file), "utf8").split("\n");
    let service = "";
    lines.forEach((line, index) => {
      const serviceMatch = /^service (\w+) \{/.exec(line);
      if (serviceMatch?.[1] !== undefined) service = serviceMatch[1];
      const rpcMatch = /^\s*rpc (\w+)\(/.exec(line);
      if (rpcMatch?.[1] === undefined) return;
      const comment: string[] = [];
      for (let i = index - 1; i >= 0; i -= 1) {
        const commentMatch = /^\s*\/\/ ?(.*)$/.exec(lines[i] ?? "");
        if (commentMatch?.[1] === undefined) break;
        comment.unshift(commentMatch[1]);
      }
      found.push({ service, rpc: rpcMatch[1], comment: comment.join("\n") });
    });
  }
  return found;
}

describe("the gmempool.v1 services as loaded with proto-options.ts", () => {
  test("Pool and Admin have exactly the RPCs of the generated types", () => {
    assert.equal(poolRpcsMatchGeneratedTypes, true);
    assert.equal(adminRpcsMatchGeneratedTypes, true);
    assert.deepEqual(Object.keys(serviceDefinition("Pool")).sort(), [...POOL_RPCS]);
    assert.deepEqual(Object.keys(serviceDefinition("Admin")).sort(), [...ADMIN_RPCS]);
  });

  test("grpc-js accepts the package definition and only Watch streams", () => {
    const loaded = grpc.loadPackageDefinition(packageDefinition);
    assert.ok(loaded["gmempool"] !== undefined);
    for (const [name, definition] of Object.entries(serviceDefinition("Pool"))) {
      assert.equal(definition.requestStream, false, name);
      assert.equal(definition.responseStream, name === "Watch", name);
      assert.equal(definition.path, `/gmempool.v1.Pool/${name}`);
    }
  });

  test("every mutating request has request_id as field 1, and read-only ones have none", () => {
    for (const service of ["Pool", "Admin"]) {
      for (const [name, definition] of Object.entries(serviceDefinition(service))) {
        const fields = (definition.requestType.type as { field?: { name: string; number: number }[] }).field ?? [];
        const requestId = fields.find((f) => f.name === "requestId"); // descriptor names follow keepCase
        if (READ_ONLY_RPCS.has(name) || KEYED_RPCS.has(name)) assert.equal(requestId, undefined, `${name} is read-only or keyed`);
        else assert.equal(requestId?.number, 1, `${service}.${name} needs request_id = 1`);
      }
    }
  });

  test("a uint64 byte offset near 2^64 survives encoding and decoding exactly, as a decimal string", () => {
    const offsetBytes = "18446744073709547520"; // 2^64 - 4096: a Number would round it
    const decoded = requestRoundTrip("Pool", "Discard", { requestId: "r1", arenaId: "a1", offsetBytes, lengthBytes: "4096" });
    assert.equal(decoded["offsetBytes"], offsetBytes);
    assert.equal(decoded["lengthBytes"], "4096");
    assert.equal(BigInt(decoded["offsetBytes"] as string), 2n ** 64n - 4096n);
  });

  test("a uint64 given as a bigint's decimal string or as a safe number encodes the same", () => {
    const fromString = requestRoundTrip("Pool", "Discard", { offsetBytes: String(2n ** 53n + 1n) });
    assert.equal(fromString["offsetBytes"], "9007199254740993");
    const fromNumber = requestRoundTrip("Pool", "Discard", { offsetBytes: 2097152 });
    assert.equal(fromNumber["offsetBytes"], "2097152");
  });

  test("absent fields decode to defaults: '0' for 64-bit, 0, '', the _UNSPECIFIED enum name, [] and null", () => {
    const decoded = responseRoundTrip("Pool", "Discard", {});
    assert.deepEqual(decoded, {
      punchedBytes: "0",
      releasedUnitCount: 0,
      zeroedBytes: "0",
      deferredBytes: "0",
      appliedPolicy: "DISCARD_POLICY_UNSPECIFIED",
    });
    const convert = responseRoundTrip("Pool", "Convert", {});
    assert.deepEqual(convert["collapsibleUnits"], []);
    assert.equal(responseRoundTrip("Pool", "Allocate", {})["lease"], null);
  });

  test("enums decode to their names and encode from names or numbers", () => {
    const byName = requestRoundTrip("Pool", "Convert", { toVisibility: "PAGE_VISIBILITY_PRIVATE", mode: "CONVERSION_MODE_NOTIFY" });
    assert.equal(byName["toVisibility"], "PAGE_VISIBILITY_PRIVATE");
    assert.equal(byName["mode"], "CONVERSION_MODE_NOTIFY");
    const byNumber = requestRoundTrip("Pool", "Convert", { toVisibility: 1, mode: 1, contentIntent: 2 });
    assert.equal(byNumber["toVisibility"], "PAGE_VISIBILITY_SHARED");
    assert.equal(byNumber["mode"], "CONVERSION_MODE_IN_PLACE");
    assert.equal(byNumber["contentIntent"], "CONTENT_INTENT_DESTROY");
  });

  test("an unset proto3 optional field stays absent, so 'no placement' differs from offset 0", () => {
    const withoutPlacement = requestRoundTrip("Pool", "Allocate", { arenaId: "a1", unitCount: 1 });
    assert.equal("offsetBytes" in withoutPlacement, false);
    const atZero = requestRoundTrip("Pool", "Allocate", { arenaId: "a1", unitCount: 1, offsetBytes: "0" });
    assert.equal(atZero["offsetBytes"], "0");
    const policy = requestRoundTrip("Admin", "SetPolicy", { deferredCapBytes: "1073741824" });
    assert.equal("discardPolicy" in policy, false);
    assert.equal(policy["deferredCapBytes"], "1073741824");
  });

  test("a oneof names its set member in a virtual field", () => {
    const event = responseRoundTrip("Pool", "Watch", { sequence: "7", leaseReleased: { leaseId: "l1", releasedUnitCount: 3 } });
    assert.equal(event["event"], "leaseReleased");
    assert.equal(event["sequence"], "7");
    const target = requestRoundTrip("Admin", "ForceRelease", { ownerPid: 4242 });
    assert.equal(target["target"], "ownerPid");
  });

  test("fd channel tokens are bytes and decode to a Buffer", () => {
    const token = Buffer.from("00112233445566778899aabbccddeeff", "hex");
    const decoded = requestRoundTrip("Pool", "RegisterGuestMemfdArena", { gmemFdToken: token });
    assert.ok(Buffer.isBuffer(decoded["gmemFdToken"]));
    assert.deepEqual(decoded["gmemFdToken"], token);
  });

  test("the fd channel's message kinds have the wire numbers fd_channel.proto documents", () => {
    const definition = packageDefinition["gmempool.v1.FdMessageKind"];
    assert.ok(definition !== undefined && "format" in definition);
    const values = (definition.type as { value: { name: string; number: number }[] }).value;
    assert.deepEqual(Object.fromEntries(values.map((v) => [v.name, v.number])), {
      FD_MESSAGE_KIND_UNSPECIFIED: 0,
      FD_MESSAGE_KIND_SEND_FD: 1,
      FD_MESSAGE_KIND_SEND_FD_REPLY: 2,
      FD_MESSAGE_KIND_RECEIVE_FD: 3,
      FD_MESSAGE_KIND_RECEIVE_FD_REPLY: 4,
      FD_MESSAGE_KIND_FD_DELIVERY: 5,
      FD_MESSAGE_KIND_CANCEL: 6,
      FD_MESSAGE_KIND_CANCEL_REPLY: 7,
    });
  });
});

describe("the .proto comments", () => {
  const rpcs = rpcsInProtoText();
  const grpcCodes = new Set(Object.keys(grpc.status).filter((k) => Number.isNaN(Number(k))));

  test("list the same RPCs as the loaded services", () => {
    const names = (service: string) =>
      rpcs
        .filter((r) => r.service === service)
        .map((r) => r.rpc)
        .sort();
    assert.deepEqual(names("Pool"), [...POOL_RPCS]);
    assert.deepEqual(names("Admin"), [...ADMIN_RPCS]);
  });

  test("every RPC's comment has a 'Status codes' section of real gRPC code names", () => {
    for (const { service, rpc, comment } of rpcs) {
      const section = comment.split(/^Status codes[^\n]*:$/m)[1];
      assert.ok(section !== undefined, `${service}.${rpc}: no "Status codes:" section in its comment`);
      const codes = [...section.matchAll(/^- ([A-Z_]+):/gm)].map((m) => m[1] ?? "");
      assert.ok(codes.length > 0, `${service}.${rpc}: "Status codes:" lists no code`);
      for (const code of codes) assert.ok(grpcCodes.has(code), `${service}.${rpc}: ${code} is not a gRPC status code`);
      assert.equal(new Set(codes).size, codes.length, `${service}.${rpc}: a code is listed twice`);
    }
  });

  test("mutating RPCs that take ids or ranges document INVALID_ARGUMENT or NOT_FOUND", () => {
    for (const { service, rpc, comment } of rpcs) {
      if (READ_ONLY_RPCS.has(rpc)) continue;
      assert.match(comment, /- (INVALID_ARGUMENT|NOT_FOUND):/, `${service}.${rpc}`);
    }
  });
});
