/**
 * The codec warm-up (issue 12: a first call of its kind generated protobufjs code inside its own
 * task, 8–14 ms of CPU): after it, no message of the API, with every field set, makes protobufjs
 * generate code — counted at the one place its codegen runs code, the global `Function`. Each
 * test takes a definition of its own (a fresh protobufjs root, nothing generated yet).
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { PackageDefinition } from "@grpc/proto-loader";
import type protobuf from "protobufjs";
import { freshGmempoolPackageDefinition, messageTypesOf, PROTO_LOADER_OPTIONS } from "@gmempool/contract";
import { warmUpCodecs } from "./codec-warm-up.ts";

/** How many functions protobufjs's codegen (`Function.apply(null, ...)`, `Function(src)`) makes while `run` runs. */
function codegenDuring(run: () => void): number {
  const original = globalThis.Function;
  let made = 0;
  globalThis.Function = new Proxy(original, {
    apply(target, self, args: string[]) {
      made += 1;
      return Reflect.apply(target, self, args) as unknown;
    },
  });
  try {
    run();
  } finally {
    globalThis.Function = original;
  }
  return made;
}

const SCALAR_SAMPLES: Readonly<Record<string, unknown>> = {
  string: "x",
  bytes: Buffer.from([1]),
  bool: true,
  double: 1,
  float: 1,
  int32: 1,
  uint32: 1,
  sint32: 1,
  fixed32: 1,
  sfixed32: 1,
  // longs: String (proto-options.ts)
  int64: "1",
  uint64: "1",
  sint64: "1",
  fixed64: "1",
  sfixed64: "1",
};

/** A value of every field of the type (one member of each repeated and map), nested until a type repeats on the path. */
function fullSample(type: protobuf.Type, path: readonly protobuf.Type[]): Record<string, unknown> {
  const sample: Record<string, unknown> = {};
  for (const field of type.fieldsArray) {
    const resolved = field.resolvedType;
    let value: unknown;
    if (resolved === null) value = SCALAR_SAMPLES[field.type];
    else if ("fieldsArray" in resolved) value = path.includes(resolved) ? undefined : fullSample(resolved, [...path, resolved]);
    else value = Object.values(resolved.values)[0];
    if (value === undefined) continue;
    sample[field.name] = field.map ? { [String(SCALAR_SAMPLES["keyType" in field ? String(field.keyType) : "string"])]: value } : field.repeated ? [value] : value;
  }
  return sample;
}

/** Every message of the definition, with every field set, through its codec (what the method codecs call). */
function everyMessageWithEveryField(definition: PackageDefinition): void {
  for (const type of messageTypesOf(definition)) type.toObject(type.decode(type.encode(type.fromObject(fullSample(type, [type]))).finish()), PROTO_LOADER_OPTIONS);
}

describe("codec warm-up", () => {
  test("without it, the first calls make protobufjs generate code (the test can fail)", () => {
    const definition = freshGmempoolPackageDefinition();
    assert.ok(codegenDuring(() => everyMessageWithEveryField(definition)) > 100);
  });

  test("after it, no message with every field set makes protobufjs generate code", async () => {
    const definition = freshGmempoolPackageDefinition();
    const types = await warmUpCodecs(definition).done;
    assert.equal(types, messageTypesOf(definition).length);
    assert.equal(codegenDuring(() => everyMessageWithEveryField(definition)), 0);
  });

  test("it covers the messages of every method, and stop() ends it early", async () => {
    const definition = freshGmempoolPackageDefinition();
    const names = new Set(messageTypesOf(definition).map((type) => type.fullName));
    for (const name of [".gmempool.v1.WatchResponse", ".gmempool.v1.GetFragmentationMapResponse", ".gmempool.v1.CreateMemfdArenaRequest", ".gmempool.v1.AllocateRequest", ".gmempool.v1.ListReservationsResponse"]) assert.ok(names.has(name), name);
    const warmUp = warmUpCodecs(definition);
    warmUp.stop();
    assert.equal(await warmUp.done, 0);
  });
});
