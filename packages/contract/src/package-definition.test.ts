// The package definitions built from the generated JSON roots against what @grpc/proto-loader's
// loadSync makes of the .proto files (what they replace): the same entries, methods and
// descriptors, and codecs that give the same bytes and the same objects for every message.
import * as protoLoader from "@grpc/proto-loader";
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { isDeepStrictEqual } from "node:util";
import { gmempoolPackageDefinition, healthPackageDefinition, reflectionPackageDefinition } from "./package-definition.ts";
import { HEALTH_PROTO_FILE, PROTO_FILES, protoLoaderOptions, REFLECTION_PROTO_FILES, thirdPartyLoaderOptions } from "./proto-options.ts";

type Definition = protoLoader.PackageDefinition;

interface FieldDescriptor {
  readonly name: string;
  readonly label: string;
  readonly type: string;
  readonly typeName: string;
  readonly oneofIndex?: number;
}

const camel = (s: string): string => s.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());

/**
 * A value for every field of `typeName` (each oneof member too: the codecs must agree on which
 * one wins), nested messages to `depth`, 64-bit values above 2^53, enums by number; fields of
 * types declared inside a message (maps) are left out.
 */
function sample(definition: Definition, typeName: string, depth: number): Record<string, unknown> {
  const entry = definition[typeName] as protoLoader.MessageTypeDefinition<object, object>;
  const fields = (entry.type as { field?: FieldDescriptor[] }).field ?? [];
  const value: Record<string, unknown> = {};
  for (const field of fields) {
    const one = scalar(definition, field, depth);
    if (one === undefined) continue;
    value[camel(field.name)] = field.label === "LABEL_REPEATED" ? [one, one] : one;
  }
  return value;
}

function scalar(definition: Definition, field: FieldDescriptor, depth: number): unknown {
  switch (field.type) {
    case "TYPE_UINT64":
    case "TYPE_FIXED64":
      return "18446744073709551615";
    case "TYPE_INT64":
    case "TYPE_SINT64":
    case "TYPE_SFIXED64":
      return "-9007199254740993";
    case "TYPE_UINT32":
    case "TYPE_FIXED32":
      return 4294967295;
    case "TYPE_INT32":
    case "TYPE_SINT32":
    case "TYPE_SFIXED32":
      return -7;
    case "TYPE_BOOL":
      return true;
    case "TYPE_STRING":
      return `${field.name} é`;
    case "TYPE_BYTES":
      return Buffer.from([0, 255, 7]);
    case "TYPE_DOUBLE":
    case "TYPE_FLOAT":
      return 0.5;
    case "TYPE_ENUM":
      return 1;
    case "TYPE_MESSAGE": {
      // Types nested in a message (map entries among them) are not entries of a definition.
      const name = field.typeName.replace(/^\./, "");
      return depth === 0 || definition[name] === undefined ? undefined : sample(definition, name, depth - 1);
    }
    default:
      throw new Error(`no sample for ${field.name}'s ${field.type}`);
  }
}

function compare(fast: Definition, slow: Definition): void {
  assert.deepEqual(Object.keys(fast).sort(), Object.keys(slow).sort());
  for (const [name, expected] of Object.entries(slow)) {
    const actual = fast[name]!;
    if ("format" in expected) {
      assert.ok("format" in actual, name);
      assert.equal(actual.format, expected.format, name);
      assert.deepEqual(actual.type, expected.type, name);
      assert.deepEqual(actual.fileDescriptorProtos, expected.fileDescriptorProtos, name);
      if (expected.format === "Protocol Buffer 3 DescriptorProto" && actual.format === "Protocol Buffer 3 DescriptorProto") {
        const value = sample(slow, name, 2);
        const bytes = expected.serialize(value);
        assert.ok(actual.serialize(value).equals(bytes), `${name}: the same bytes`);
        assert.deepEqual(actual.deserialize(bytes), expected.deserialize(bytes), `${name}: the same object`);
      }
      continue;
    }
    assert.ok(!("format" in actual), name);
    assert.deepEqual(Object.keys(actual).sort(), Object.keys(expected).sort(), name);
    for (const [method, m] of Object.entries(expected)) {
      const a: protoLoader.MethodDefinition<object, object> = actual[method]!;
      const where = `${name}.${method}`;
      assert.deepEqual([a.path, a.requestStream, a.responseStream, a.originalName, a.options], [m.path, m.requestStream, m.responseStream, m.originalName, m.options], where);
      for (const side of ["requestType", "responseType"] as const) {
        assert.deepEqual([a[side].format, a[side].type, a[side].fileDescriptorProtos], [m[side].format, m[side].type, m[side].fileDescriptorProtos], `${where} ${side}`);
      }
      const request = sample(slow, typeNameOf(slow, m.requestType), 2);
      const bytes = m.requestSerialize(request);
      assert.ok(a.requestSerialize(request).equals(bytes), `${where}: request bytes`);
      assert.deepEqual(a.requestDeserialize(bytes), m.requestDeserialize(bytes), `${where}: request object`);
      const response = sample(slow, typeNameOf(slow, m.responseType), 2);
      const responseBytes = m.responseSerialize(response);
      assert.ok(a.responseSerialize(response).equals(responseBytes), `${where}: response bytes`);
      assert.deepEqual(a.responseDeserialize(responseBytes), m.responseDeserialize(responseBytes), `${where}: response object`);
    }
  }
}

/** The package definition key of a method's message type (the same object proto-loader lists under its full name). */
function typeNameOf(definition: Definition, type: protoLoader.MessageTypeDefinition<object, object>): string {
  const found = Object.entries(definition).find(([, entry]) => "format" in entry && isDeepStrictEqual(entry.type, type.type));
  if (found === undefined) throw new Error(`no entry for ${String((type.type as { name?: string }).name)}`);
  return found[0];
}

describe("the package definitions built from the generated JSON roots", () => {
  test("gmempool.v1: what proto-loader's loadSync makes of PROTO_FILES, entry for entry, codec for codec", () => {
    compare(gmempoolPackageDefinition(), protoLoader.loadSync([...PROTO_FILES], protoLoaderOptions()));
  });

  test("grpc.health.v1: what loadSync makes of third_party's health.proto", () => {
    compare(healthPackageDefinition(), protoLoader.loadSync(HEALTH_PROTO_FILE, thirdPartyLoaderOptions()));
  });

  test("grpc.reflection v1 and v1alpha: what loadSync makes of third_party's reflection.proto files", () => {
    compare(reflectionPackageDefinition(), protoLoader.loadSync([...REFLECTION_PROTO_FILES], thirdPartyLoaderOptions()));
  });

  test("decodes 64-bit values to exact decimal strings (not rounded through a double)", () => {
    const lease = gmempoolPackageDefinition()["gmempool.v1.Lease"] as protoLoader.MessageTypeDefinition<object, object>;
    const decoded = lease.deserialize(lease.serialize({ offsetBytes: "18446744073709551615" })) as { offsetBytes: string };
    assert.equal(decoded.offsetBytes, "18446744073709551615");
  });

  test("is built once per process", () => {
    assert.equal(gmempoolPackageDefinition(), gmempoolPackageDefinition());
    assert.equal(healthPackageDefinition(), healthPackageDefinition());
    assert.equal(reflectionPackageDefinition(), reflectionPackageDefinition());
  });
});
