/**
 * protobufjs generates a message type's encoder, decoder and converters with `new Function` the
 * first time the type is used (Type#setup), inside whichever call first needs it: 8–14 ms of
 * CPU for the first CreateMemfdArena, Allocate or GetFragmentationMap of a daemon's life, and a
 * share of the first Watch burst (CPU profiles of `npm run bench -- flood --node-arg
 * --cpu-prof`). That is a loop block a caller causes and another tenant waits for (issue 12,
 * "no request blocks the loop > 10 ms").
 *
 * So once the daemon serves, every type a method's request or response can hold is set up
 * ahead, one type per event-loop task, by encoding and decoding a sample that reaches it: the
 * codecs are the package definition's own (one per process, shared with the server), so calls
 * find them generated. Nothing here is on a call's path; a sample that fails to encode is
 * skipped (its type is then set up by its first call, as before).
 */
import type * as protoLoader from "@grpc/proto-loader";

interface FieldDescriptor {
  readonly name: string;
  readonly label: string;
  readonly type: string;
  readonly typeName: string;
}
interface MessageDescriptor {
  readonly field?: readonly FieldDescriptor[];
  readonly options?: { readonly mapEntry?: boolean } | null;
}

/** How deep a sample nests messages (the API's deepest path is 4). */
const MAX_DEPTH = 6;

const SCALARS: Readonly<Record<string, unknown>> = {
  TYPE_STRING: "x",
  TYPE_BYTES: Buffer.from([1]),
  TYPE_BOOL: true,
  TYPE_ENUM: 1,
  TYPE_DOUBLE: 1,
  TYPE_FLOAT: 1,
  TYPE_INT32: 1,
  TYPE_UINT32: 1,
  TYPE_SINT32: 1,
  TYPE_FIXED32: 1,
  TYPE_SFIXED32: 1,
  // longs: String (proto-options.ts)
  TYPE_INT64: "1",
  TYPE_UINT64: "1",
  TYPE_SINT64: "1",
  TYPE_FIXED64: "1",
  TYPE_SFIXED64: "1",
};

/**
 * A message type by the name a field gives it: relative names resolve from the referring
 * type's scope outwards (protobuf's scoping rule), e.g. "Arena" in gmempool.v1.WatchResponse.
 */
function resolve(definition: protoLoader.PackageDefinition, scope: string, typeName: string): { name: string; descriptor: MessageDescriptor } | undefined {
  const parts = scope.split(".");
  for (let i = parts.length; i >= 0; i--) {
    const name = [...parts.slice(0, i), typeName].join(".");
    const entry = definition[name];
    if (entry !== undefined && "format" in entry && entry.format === "Protocol Buffer 3 DescriptorProto") return { name, descriptor: entry.type };
  }
  return undefined;
}

/** An object setting every field of the type (one member of each repeated), nested to MAX_DEPTH; cycles cut. */
function sampleOf(definition: protoLoader.PackageDefinition, typeName: string, descriptor: MessageDescriptor, path: readonly string[]): Record<string, unknown> {
  const sample: Record<string, unknown> = {};
  for (const field of descriptor.field ?? []) {
    const value = fieldSample(definition, typeName, field, path);
    if (value !== undefined) sample[field.name] = field.label === "LABEL_REPEATED" ? [value] : value;
  }
  return sample;
}

function fieldSample(definition: protoLoader.PackageDefinition, typeName: string, field: FieldDescriptor, path: readonly string[]): unknown {
  if (field.type !== "TYPE_MESSAGE") return SCALARS[field.type];
  const nested = resolve(definition, typeName, field.typeName);
  if (nested === undefined || nested.descriptor.options?.mapEntry === true || path.includes(nested.name) || path.length >= MAX_DEPTH) return undefined;
  return sampleOf(definition, nested.name, nested.descriptor, [...path, nested.name]);
}

/** One side (request or response) of one method: its type and the package definition's codec for it. */
interface CodecSide {
  readonly method: string;
  readonly typeName: string;
  readonly descriptor: MessageDescriptor;
  roundTrip(sample: Record<string, unknown>): void;
}

function codecSides(definition: protoLoader.PackageDefinition, services: readonly string[]): CodecSide[] {
  const out: CodecSide[] = [];
  for (const serviceName of services) {
    const service = definition[serviceName];
    if (service === undefined || "format" in service) continue;
    for (const [method, m] of Object.entries(service)) {
      const sides = [
        { type: m.requestType, encode: m.requestSerialize, decode: m.requestDeserialize },
        { type: m.responseType, encode: m.responseSerialize, decode: m.responseDeserialize },
      ];
      for (const side of sides) {
        const found = resolve(definition, serviceName, (side.type.type as { readonly name: string }).name);
        if (found === undefined) continue;
        out.push({ method, typeName: found.name, descriptor: found.descriptor, roundTrip: (sample) => side.decode(side.encode(sample)) });
      }
    }
  }
  return out;
}

/**
 * One step per message type, each setting up that type alone: the types reachable from every
 * method's request and response in pre-order, each by a round trip of the shortest sample that
 * reaches it ({path: {to: {}}}): its ancestors are set up by then, and an empty message leaves
 * its own children alone.
 */
function steps(definition: protoLoader.PackageDefinition, services: readonly string[]): (() => void)[] {
  const seen = new Set<string>();
  const out: (() => void)[] = [];
  for (const side of codecSides(definition, services)) {
    const visit = (typeName: string, descriptor: MessageDescriptor, wrap: (inner: Record<string, unknown>) => Record<string, unknown>, depth: number): void => {
      if (seen.has(typeName) || depth > MAX_DEPTH) return;
      seen.add(typeName);
      out.push(() => side.roundTrip(wrap({})));
      for (const field of descriptor.field ?? []) {
        const nested = field.type === "TYPE_MESSAGE" ? resolve(definition, typeName, field.typeName) : undefined;
        if (nested === undefined || nested.descriptor.options?.mapEntry === true) continue;
        visit(nested.name, nested.descriptor, (inner) => wrap({ [field.name]: field.label === "LABEL_REPEATED" ? [inner] : inner }), depth + 1);
      }
    };
    visit(side.typeName, side.descriptor, (inner) => inner, 0);
  }
  return out;
}

export interface CodecWarmUp {
  /** Resolves with the number of steps run once all are (or once stopped). */
  readonly done: Promise<number>;
  /** Runs no further step. */
  stop(): void;
}

/**
 * Starts warming the named services' codecs, one step per `setImmediate` (so calls that
 * arrive meanwhile interleave with it).
 */
export function warmUpCodecs(definition: protoLoader.PackageDefinition, services: readonly string[]): CodecWarmUp {
  const pending = steps(definition, services);
  let ran = 0;
  let stopped = false;
  const done = new Promise<number>((resolve) => {
    const next = (): void => {
      const step = pending[ran];
      if (stopped || step === undefined) {
        resolve(ran);
        return;
      }
      ran += 1;
      try {
        step();
      } catch {
        // A sample this encoder refuses: that type is set up by its first call instead.
      }
      setImmediate(next);
    };
    setImmediate(next);
  });
  return {
    done,
    stop: () => {
      stopped = true;
    },
  };
}

/**
 * For tests: every method's request and response with every field set (what any call could
 * need set up), as round trips through the package definition's codecs.
 */
export function fullSampleRoundTrips(definition: protoLoader.PackageDefinition, services: readonly string[]): { readonly method: string; readonly typeName: string; run(): void }[] {
  return codecSides(definition, services).map((side) => ({ method: side.method, typeName: side.typeName, run: () => side.roundTrip(sampleOf(definition, side.typeName, side.descriptor, [side.typeName])) }));
}
