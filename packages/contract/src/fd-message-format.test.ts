import assert from "node:assert/strict";
import { test } from "node:test";
import * as protoLoader from "@grpc/proto-loader";
import { FD_MESSAGE_KIND, FD_TYPE_NUMBER } from "./fd-message-format.ts";
import { PROTO_FILES, protoLoaderOptions } from "./proto-options.ts";

const definition = protoLoader.loadSync([...PROTO_FILES], protoLoaderOptions());

/** name -> number of an enum of the loaded protos. */
function protoEnum(name: string): Record<string, number> {
  const e = definition[name] as { type: { value: { name: string; number: number }[] } };
  return Object.fromEntries(e.type.value.map((v) => [v.name, v.number]));
}

test("the fd channel's kind and fd type numbers are exactly the proto's enums", () => {
  const kinds = protoEnum("gmempool.v1.FdMessageKind");
  assert.deepEqual(Object.fromEntries(Object.entries(FD_MESSAGE_KIND).map(([k, v]) => [`FD_MESSAGE_KIND_${k}`, v])), kinds);
  const types = protoEnum("gmempool.v1.FdType");
  assert.deepEqual(Object.fromEntries(Object.entries(FD_TYPE_NUMBER).map(([k, v]) => [`FD_TYPE_${k}`, v])), types);
});
