// The committed FileDescriptorSet (what reflection serves) against the .proto files as the
// runtime loader reads them (what the daemon and the client decode with): the same messages
// field for field, so serving the set changes nothing on the wire; and it holds the real files.
import * as protoLoader from "@grpc/proto-loader";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, test } from "node:test";
import { descriptorFiles, findDescriptorSet } from "./descriptor-set.ts";
import { gmempoolPackageDefinition } from "./package-definition.ts";
import { HEALTH_PROTO_FILE, PROTO_FILES, PROTO_LOADER_OPTIONS } from "./proto-options.ts";

interface DescriptorObject {
  readonly field?: readonly { readonly name: string; readonly number: number; readonly label: string; readonly type: string; readonly typeName: string; readonly proto3Optional: boolean }[];
  readonly oneofDecl?: readonly { readonly name: string }[];
  readonly value?: readonly { readonly name: string; readonly number: number }[];
}

/** What decides the wire: each field's number, label, type and type name (names in camelCase). */
function wireShape(type: object): unknown {
  const d = type as DescriptorObject;
  const camel = (s: string): string => s.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
  return {
    fields: (d.field ?? []).map((f) => [camel(f.name), f.number, f.label, f.type, f.typeName, f.proto3Optional]).sort((a, b) => Number(a[1]) - Number(b[1])),
    oneofs: (d.oneofDecl ?? []).map((o) => camel(o.name)),
    values: (d.value ?? []).map((v) => [v.name, v.number]),
  };
}

describe("the descriptor set reflection serves", () => {
  test("holds the real files by their import names: ours, the well-known types they import, and grpc's health.proto", () => {
    const names = descriptorFiles().map((f) => f.name);
    assert.deepEqual([...names].sort(), [...PROTO_FILES, "google/protobuf/duration.proto", "google/protobuf/timestamp.proto", HEALTH_PROTO_FILE].sort());
    for (const f of descriptorFiles()) assert.ok(f.bytes.includes(f.name), f.name);
  });

  test("describes every message, enum and method the runtime loader loads from the .proto files, with the same wire shape", () => {
    const fromSet = protoLoader.loadFileDescriptorSetFromBuffer(readFileSync(findDescriptorSet()), PROTO_LOADER_OPTIONS);
    const fromProtos = gmempoolPackageDefinition();
    for (const [name, definition] of Object.entries(fromProtos)) {
      const served = fromSet[name];
      assert.ok(served !== undefined, `${name} is in the set`);
      if ("format" in definition) {
        assert.ok("format" in served, name);
        assert.deepEqual(wireShape(served.type), wireShape(definition.type), name);
        continue;
      }
      assert.ok(!("format" in served), name);
      assert.deepEqual(Object.keys(served).sort(), Object.keys(definition).sort(), name);
      for (const [method, m] of Object.entries(definition)) {
        const s: protoLoader.MethodDefinition<object, object> | undefined = served[method];
        assert.ok(s !== undefined, `${name}.${method} is in the set`);
        assert.deepEqual([s.path, s.requestStream, s.responseStream], [m.path, m.requestStream, m.responseStream], `${name}.${method}`);
        assert.deepEqual(wireShape(s.requestType.type), wireShape(m.requestType.type), `${name}.${method} request`);
        assert.deepEqual(wireShape(s.responseType.type), wireShape(m.responseType.type), `${name}.${method} response`);
      }
    }
  });

  test("keeps the proto's snake_case field names (the loader's camelCase is its own)", () => {
    const fromSet = protoLoader.loadFileDescriptorSetFromBuffer(readFileSync(findDescriptorSet()), PROTO_LOADER_OPTIONS);
    const status = fromSet["gmempool.v1.PoolStatus"];
    assert.ok(status !== undefined && "format" in status);
    const names = ((status.type as DescriptorObject).field ?? []).map((f) => f.name);
    assert.ok(names.includes("capacity_unit_count") && names.includes("start_time"), names.join(", "));
  });

  test("a malformed set is refused naming where", () => {
    assert.throws(() => descriptorFiles(Buffer.from([0x0a, 0x05, 0x0a])), /field 1 at byte 0: 5 bytes past the end/);
    assert.throws(() => descriptorFiles(Buffer.from([0x12, 0x00])), /unexpected field 2 at byte 0/);
    assert.throws(() => descriptorFiles(Buffer.from([0x0a, 0x02, 0x10, 0x01])), /file 0 has no name/);
  });
});
