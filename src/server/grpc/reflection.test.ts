// Reflection on the real gRPC server (unix socket), asked over grpc.reflection.v1 and v1alpha
// with the messages of @grpc/reflection's own reflection.proto: every answer is files of the
// committed descriptor set, byte for byte, each with the files it depends on; what does not
// exist is NOT_FOUND naming it.
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { descriptorFiles, HEALTH_PROTO_FILE } from "@gmempool/contract";
import { TransportHarness } from "../testing/transport-harness.ts";

const VERSIONS = ["v1", "v1alpha"] as const;
const REFLECTION_BUILD = join(createRequire(import.meta.url).resolve("@grpc/reflection"), "../../proto/grpc/reflection");

interface ReflectionAnswer {
  readonly messageResponse: "fileDescriptorResponse" | "listServicesResponse" | "errorResponse" | "allExtensionNumbersResponse";
  readonly fileDescriptorResponse?: { readonly fileDescriptorProto: Buffer[] };
  readonly listServicesResponse?: { readonly service: { readonly name: string }[] };
  readonly errorResponse?: { readonly errorCode: number; readonly errorMessage: string };
}
type ReflectionClient = grpc.Client & { ServerReflectionInfo(): grpc.ClientDuplexStream<object, ReflectionAnswer> };

function reflectionClient(version: (typeof VERSIONS)[number], socket: string): ReflectionClient {
  const definition = protoLoader.loadSync(join(REFLECTION_BUILD, version, "reflection.proto"), { oneofs: true, defaults: true });
  const service = definition[`grpc.reflection.${version}.ServerReflection`] as grpc.ServiceDefinition;
  const Client = grpc.makeGenericClientConstructor(service, "ServerReflection");
  return new Client(`unix://${socket}`, grpc.credentials.createInsecure()) as unknown as ReflectionClient;
}

/** Requests written on one stream, then its end; every answer the stream brought. */
async function askAll(client: ReflectionClient, requests: readonly object[]): Promise<ReflectionAnswer[]> {
  const call = client.ServerReflectionInfo();
  const answers: ReflectionAnswer[] = [];
  const ended = new Promise<void>((resolve, reject) => {
    call.on("data", (a: ReflectionAnswer) => answers.push(a));
    call.on("end", resolve);
    call.on("error", reject);
  });
  for (const request of requests) call.write(request);
  call.end();
  await ended;
  return answers;
}

/** One request on its own stream, its one answer. */
async function ask(client: ReflectionClient, request: object): Promise<ReflectionAnswer> {
  const answers = await askAll(client, [request]);
  assert.equal(answers.length, 1);
  return answers[0]!;
}

/** The names of the answer's files, each found in the committed set by its exact bytes. */
function servedFileNames(answer: ReflectionAnswer): string[] {
  assert.equal(answer.messageResponse, "fileDescriptorResponse", JSON.stringify(answer.errorResponse));
  const byBytes = new Map(descriptorFiles().map((f) => [f.bytes.toString("base64"), f.name]));
  return answer.fileDescriptorResponse!.fileDescriptorProto.map((bytes) => byBytes.get(Buffer.from(bytes).toString("base64")) ?? "(bytes not in the set)");
}

function notFound(answer: ReflectionAnswer): string {
  assert.equal(answer.messageResponse, "errorResponse");
  assert.equal(answer.errorResponse!.errorCode, grpc.status.NOT_FOUND);
  return answer.errorResponse!.errorMessage;
}

const POOL_FILES = ["gmempool/v1/pool.proto", "gmempool/v1/resources.proto", "google/protobuf/duration.proto", "google/protobuf/timestamp.proto"];

describe("reflection serves the real file descriptors (v1 and v1alpha)", () => {
  let h: TransportHarness;
  const clients = new Map<string, ReflectionClient>();
  before(async () => {
    h = await TransportHarness.start({ capacityUnits: 8 });
    for (const v of VERSIONS) clients.set(v, reflectionClient(v, h.paths.apiSocket));
  });
  after(async () => {
    for (const c of clients.values()) c.close();
    await h.stop();
  });

  for (const version of VERSIONS) {
    const client = (): ReflectionClient => clients.get(version)!;

    test(`${version}: list_services names Admin, Pool and Health`, async () => {
      const answer = await ask(client(), { listServices: "*" });
      assert.deepEqual(answer.listServicesResponse!.service.map((s) => s.name).sort(), ["gmempool.v1.Admin", "gmempool.v1.Pool", "grpc.health.v1.Health"]);
    });

    test(`${version}: file_containing_symbol gives the file first, then every file it depends on`, async () => {
      for (const symbol of ["gmempool.v1.Pool", "gmempool.v1.Pool.GetPoolStatus", "gmempool.v1.GetPoolStatusRequest"]) {
        const names = servedFileNames(await ask(client(), { fileContainingSymbol: symbol }));
        assert.equal(names[0], "gmempool/v1/pool.proto", symbol);
        assert.deepEqual([...names].sort(), POOL_FILES, symbol);
      }
      const status = servedFileNames(await ask(client(), { fileContainingSymbol: "gmempool.v1.PoolStatus.capacity_unit_count" }));
      assert.deepEqual(status, ["gmempool/v1/resources.proto", "google/protobuf/timestamp.proto"]);
      assert.deepEqual(servedFileNames(await ask(client(), { fileContainingSymbol: "grpc.health.v1.Health" })), [HEALTH_PROTO_FILE]);
      assert.equal(notFound(await ask(client(), { fileContainingSymbol: "gmempool.v1.NoSuchThing" })), "Symbol not found: gmempool.v1.NoSuchThing");
    });

    test(`${version}: file_by_filename answers the real names (the well-known types too), not proto-loader's`, async () => {
      assert.deepEqual(servedFileNames(await ask(client(), { fileByFilename: "google/protobuf/timestamp.proto" })), ["google/protobuf/timestamp.proto"]);
      assert.deepEqual(servedFileNames(await ask(client(), { fileByFilename: "gmempool/v1/admin.proto" })).sort(), ["gmempool/v1/admin.proto", "gmempool/v1/resources.proto", "google/protobuf/timestamp.proto"]);
      assert.deepEqual(servedFileNames(await ask(client(), { fileByFilename: "gmempool/v1/fd_channel.proto" })), ["gmempool/v1/fd_channel.proto"]);
      assert.equal(notFound(await ask(client(), { fileByFilename: "gmempool_v1.proto" })), "Proto file not found: gmempool_v1.proto");
    });

    test(`${version}: file_containing_extension and all_extension_numbers_of_type are NOT_FOUND (no extensions)`, async () => {
      assert.equal(notFound(await ask(client(), { fileContainingExtension: { containingType: "gmempool.v1.PoolStatus", extensionNumber: 100 } })), "Extension not found for symbol gmempool.v1.PoolStatus at field 100");
      assert.equal(notFound(await ask(client(), { allExtensionNumbersOfType: "gmempool.v1.PoolStatus" })), "Extensions not found for symbol gmempool.v1.PoolStatus");
    });
  }
});

describe("reflection's index is built off the daemon's thread", () => {
  test("after answers on both versions, the daemon's thread has not loaded @grpc/reflection (its worker did)", async () => {
    const h = await TransportHarness.start({ capacityUnits: 8 });
    const client = reflectionClient("v1", h.paths.apiSocket);
    try {
      assert.equal(servedFileNames(await ask(client, { fileByFilename: "gmempool/v1/fd_channel.proto" }))[0], "gmempool/v1/fd_channel.proto");
      const loaded = Object.keys(createRequire(import.meta.url).cache).filter((path) => path.includes("@grpc/reflection"));
      assert.deepEqual(loaded, []);
    } finally {
      client.close();
      await h.stop();
    }
  });

  test("several requests on one stream are answered in their order, and the stream ends after the last", async () => {
    const h = await TransportHarness.start({ capacityUnits: 8 });
    const client = reflectionClient("v1alpha", h.paths.apiSocket);
    try {
      const files = ["google/protobuf/timestamp.proto", "gmempool/v1/fd_channel.proto", "google/protobuf/duration.proto"];
      const answers = await askAll(client, files.map((file) => ({ fileByFilename: file })));
      assert.deepEqual(answers.map((a) => servedFileNames(a)[0]), files);
    } finally {
      client.close();
      await h.stop();
    }
  });
});
