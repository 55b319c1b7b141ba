/**
 * The codec warm-up (issue 12: a first call of its kind generated protobufjs code inside its own
 * task, 8–14 ms of CPU): after it, no call of any method makes protobufjs generate code —
 * counted at the one place its codegen runs code, the global `Function`. Each test loads its
 * own package definition (a fresh protobufjs root, nothing generated yet).
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { loadSync } from "@grpc/proto-loader";
import { PROTO_FILES, protoLoaderOptions } from "@gmempool/contract";
import { fullSampleRoundTrips, warmUpCodecs } from "./codec-warm-up.ts";

const SERVICES = ["gmempool.v1.Pool", "gmempool.v1.Admin"];

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

function everyMethodWithEveryField(definition: ReturnType<typeof loadSync>): void {
  for (const roundTrip of fullSampleRoundTrips(definition, SERVICES)) roundTrip.run();
}

describe("codec warm-up", () => {
  test("without it, the first calls make protobufjs generate code (the test can fail)", () => {
    const definition = loadSync([...PROTO_FILES], protoLoaderOptions());
    assert.ok(codegenDuring(() => everyMethodWithEveryField(definition)) > 100);
  });

  test("after it, no method's request or response, with every field set, makes protobufjs generate code", async () => {
    const definition = loadSync([...PROTO_FILES], protoLoaderOptions());
    const steps = await warmUpCodecs(definition, SERVICES).done;
    assert.ok(steps > 0);
    assert.equal(codegenDuring(() => everyMethodWithEveryField(definition)), 0);
  });

  test("it covers every method of both services, and stop() ends it early", async () => {
    const definition = loadSync([...PROTO_FILES], protoLoaderOptions());
    const methods = new Set(fullSampleRoundTrips(definition, SERVICES).map((r) => r.method));
    for (const name of ["Watch", "GetFragmentationMap", "CreateMemfdArena", "Allocate", "SetPolicy", "ListReservations"]) assert.ok(methods.has(name), name);
    const warmUp = warmUpCodecs(definition, SERVICES);
    warmUp.stop();
    assert.equal(await warmUp.done, 0);
  });
});
