/**
 * The gRPC package definitions the daemon serves: the API's (gmempool.v1, PROTO_FILES),
 * grpc.health.v1's (HEALTH_PROTO_FILE) and grpc.reflection's (REFLECTION_PROTO_FILES), each
 * built once per process. The daemon serves them (on
 * its sockets and in-process) and the clients' stubs are made from them, so both ends encode
 * and decode with the same definition.
 *
 * They are what @grpc/proto-loader's `loadSync(files, protoLoaderOptions())` returns — same
 * keys, same method paths and flags, and codecs that make the same protobufjs calls with the
 * same options (package-definition.test.ts holds the two side by side) — but built from the
 * JSON form of the parsed files (generated/*-protos.json: protobufjs's own `Root.toJSON`,
 * written by `npm run gen:proto` and drift-checked by `npm run check:proto`), and without
 * loadSync's up-front descriptors. loadSync tokenizes the .proto text and builds a
 * DescriptorProto for every message and a FileDescriptorProto for every file, for the sake of
 * reflection, before anything is served: with grpc-health-check's own loadSync, ~150 ms of the
 * daemon's start-up CPU on this 2-core machine (issue 12 item 7). Serving needs only each
 * method's path and codecs. The descriptors (`type` and `fileDescriptorProtos` of a message or
 * enum, and so of a method's `requestType` and `responseType`) are getters that, on first use, ask
 * proto-loader itself with the same files and options; nothing in the daemon reads them (its
 * reflection serves descriptor-set.ts's real files).
 */
import type { EnumTypeDefinition, MessageTypeDefinition, MethodDefinition, MethodOptions, Options as ProtoLoaderOptions, PackageDefinition, ServiceDefinition } from "@grpc/proto-loader";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import protobuf from "protobufjs";
import { HEALTH_PROTO_FILE, PROTO_FILES, PROTO_LOADER_OPTIONS, protoLoaderOptions, REFLECTION_PROTO_FILES, thirdPartyLoaderOptions } from "./proto-options.ts";

/** Metadata keys of the API's responses (pool.proto): a replayed result, a busy page. */
export const REPLAYED_METADATA_KEY = "gmempool-replayed";
export const ERROR_OFFSET_METADATA_KEY = "gmempool-error-offset-bytes";

/**
 * The generated JSON roots (scripts/gen-proto.ts writes them): file name → the .proto files it
 * holds and the loader options proto-loader reads them with (for the lazy descriptors).
 */
export const PROTO_JSON_FILES = {
  "gmempool-protos.json": { protos: PROTO_FILES, options: protoLoaderOptions },
  "health-protos.json": { protos: [HEALTH_PROTO_FILE], options: thirdPartyLoaderOptions },
  "reflection-protos.json": { protos: REFLECTION_PROTO_FILES, options: thirdPartyLoaderOptions },
} as const satisfies Record<string, { readonly protos: readonly string[]; readonly options: () => ProtoLoaderOptions }>;

type JsonRoot = keyof typeof PROTO_JSON_FILES;

type ProtoLoader = typeof import("@grpc/proto-loader");
type MessageDefinition = MessageTypeDefinition<object, object>;

/** proto-loader, loaded only when a descriptor is asked for (its module builds descriptor.proto's types when loaded). */
let protoLoader: ProtoLoader | undefined;
function loader(): ProtoLoader {
  protoLoader ??= createRequire(import.meta.url)("@grpc/proto-loader") as ProtoLoader;
  return protoLoader;
}

const built = new Map<JsonRoot, PackageDefinition>();

/** gmempool.v1's Pool and Admin services, and every message and enum of PROTO_FILES and their imports. */
export function gmempoolPackageDefinition(): PackageDefinition {
  return definitionOf("gmempool-protos.json");
}

/** grpc.health.v1.Health and its messages, loaded with the same options as the API. */
export function healthPackageDefinition(): PackageDefinition {
  return definitionOf("health-protos.json");
}

/** grpc.reflection.v1 and v1alpha's ServerReflection and their messages, loaded with the same options as the API. */
export function reflectionPackageDefinition(): PackageDefinition {
  return definitionOf("reflection-protos.json");
}

/** The definition of one JSON root, built once per process. */
function definitionOf(file: JsonRoot): PackageDefinition {
  let definition = built.get(file);
  if (definition === undefined) built.set(file, (definition = definitionFromJson(file)));
  return definition;
}

/**
 * A gmempool.v1 definition of its own, with a protobufjs root of its own (no type's code
 * generated yet): for tests that count protobufjs's code generation. The daemon and clients use
 * gmempoolPackageDefinition().
 */
export function freshGmempoolPackageDefinition(): PackageDefinition {
  return definitionFromJson("gmempool-protos.json");
}

/** The protobufjs message types behind a definition built here, nested ones included. */
const MESSAGE_TYPES = new WeakMap<PackageDefinition, readonly protobuf.Type[]>();

/**
 * Every protobufjs message type a definition built here encodes and decodes with, nested
 * ones included; empty for any other definition. protobufjs generates a type's code on its
 * first use (Type#setup, `new Function`): the daemon's codec warm-up walks these.
 */
export function messageTypesOf(definition: PackageDefinition): readonly protobuf.Type[] {
  return MESSAGE_TYPES.get(definition) ?? [];
}

function messageTypesIn(object: protobuf.ReflectionObject): protobuf.Type[] {
  const own = object instanceof protobuf.Type ? [object] : [];
  const nested = object instanceof protobuf.Namespace ? object.nestedArray.flatMap(messageTypesIn) : [];
  return [...own, ...nested];
}

function definitionFromJson(file: JsonRoot): PackageDefinition {
  const { protos, options } = PROTO_JSON_FILES[file];
  const json = JSON.parse(readFileSync(new URL(`./generated/${file}`, import.meta.url), "utf8")) as protobuf.INamespace;
  let slow: PackageDefinition | undefined;
  const fromLoader = (name: string): NonNullable<PackageDefinition[string]> => {
    slow ??= loader().loadSync([...protos], options());
    const entry = slow[name];
    if (entry === undefined) throw new Error(`@gmempool/contract: proto-loader has no ${name} in ${protos.join(", ")} (generated/${file} is stale: run \`npm run gen:proto\`)`);
    return entry;
  };
  const root = protobuf.Root.fromJSON(json);
  root.resolveAll();
  const definition: PackageDefinition = {};
  for (const [name, object] of reflectionObjects(root, "")) {
    definition[name] = object instanceof protobuf.Service ? serviceDefinition(object, name, () => fromLoader(name) as ServiceDefinition) : typeDefinition(object, () => fromLoader(name) as MessageDefinition | EnumTypeDefinition);
  }
  MESSAGE_TYPES.set(definition, messageTypesIn(root));
  return definition;
}

/** Services, messages and enums by full name, as proto-loader lists them (not the types declared inside a message). */
function reflectionObjects(object: protobuf.ReflectionObject, parent: string): [string, protobuf.Service | protobuf.Type | protobuf.Enum][] {
  const name = parent === "" ? object.name : `${parent}.${object.name}`;
  if (object instanceof protobuf.Service || object instanceof protobuf.Type || object instanceof protobuf.Enum) return [[name, object]];
  if (!(object instanceof protobuf.Namespace) || object.nested === undefined) return [];
  return Object.values(object.nested).flatMap((child) => reflectionObjects(child, name));
}

// The codecs are proto-loader's (createSerializer / createDeserializer in its index.ts).
function serializer(type: protobuf.Type): (value: object) => Buffer {
  return (value) => {
    if (Array.isArray(value)) throw new Error(`Failed to serialize message: expected object with ${type.name} structure, got array instead`);
    return type.encode(type.fromObject(value)).finish() as Buffer;
  };
}

function deserializer(type: protobuf.Type): (bytes: Buffer) => object {
  return (bytes) => type.toObject(type.decode(bytes), PROTO_LOADER_OPTIONS);
}

/** proto-loader's `originalName`: lodash's camelCase of the method name ("GetPoolStatus" → "getPoolStatus"). */
function lowerCamel(name: string): string {
  return name.charAt(0).toLowerCase() + name.slice(1);
}

/** proto-loader's mapMethodOptions of no options (no method of ours has any; definitionFromJson refuses one that does). */
function noMethodOptions(): MethodOptions {
  // Its IdempotencyLevel is a runtime enum (of string values): naming it would load proto-loader.
  return { deprecated: false, idempotency_level: "IDEMPOTENCY_UNKNOWN", uninterpreted_option: [] } as unknown as MethodOptions;
}

function serviceDefinition(service: protobuf.Service, serviceName: string, fromLoader: () => ServiceDefinition): ServiceDefinition {
  const definition: ServiceDefinition = {};
  for (const method of service.methodsArray) {
    const options = method.parsedOptions as unknown[] | undefined;
    if (options !== undefined && options.length > 0) throw new Error(`@gmempool/contract: ${serviceName}.${method.name} has options, which this loader does not map (proto-loader's mapMethodOptions)`);
    const request = method.resolvedRequestType!;
    const response = method.resolvedResponseType!;
    const fromLoaderMethod = (): MethodDefinition<object, object> => {
      const entry = fromLoader()[method.name];
      if (entry === undefined) throw new Error(`@gmempool/contract: proto-loader has no ${serviceName}.${method.name}`);
      return entry;
    };
    definition[method.name] = {
      path: `/${serviceName}/${method.name}`,
      requestStream: method.requestStream === true,
      responseStream: method.responseStream === true,
      requestSerialize: serializer(request),
      requestDeserialize: deserializer(request),
      responseSerialize: serializer(response),
      responseDeserialize: deserializer(response),
      originalName: lowerCamel(method.name),
      requestType: typeDefinition(request, () => fromLoaderMethod().requestType) as MessageDefinition,
      responseType: typeDefinition(response, () => fromLoaderMethod().responseType) as MessageDefinition,
      options: noMethodOptions(),
    };
  }
  return definition;
}

/** The short names ("GetArenaRequest") of the message and enum definitions built here. */
const NAMES = new WeakMap<object, string>();

/**
 * The message's (or enum's) name, e.g. "GetArenaRequest", of a definition this module built —
 * without building its descriptor, as reading `type.name` would; undefined for any other.
 */
export function definitionTypeName(definition: object): string | undefined {
  return NAMES.get(definition);
}

/** A message or enum entry: codecs at once, the descriptor fields from proto-loader on first read. */
function typeDefinition(object: protobuf.Type | protobuf.Enum, fromLoader: () => MessageDefinition | EnumTypeDefinition): MessageDefinition | EnumTypeDefinition {
  const entry =
    object instanceof protobuf.Type
      ? { format: "Protocol Buffer 3 DescriptorProto" as const, serialize: serializer(object), deserialize: deserializer(object) }
      : { format: "Protocol Buffer 3 EnumDescriptorProto" as const };
  NAMES.set(entry, object.name);
  return Object.defineProperties(entry, {
    type: { get: () => fromLoader().type, enumerable: true },
    fileDescriptorProtos: { get: () => fromLoader().fileDescriptorProtos, enumerable: true },
  }) as unknown as MessageDefinition | EnumTypeDefinition;
}
