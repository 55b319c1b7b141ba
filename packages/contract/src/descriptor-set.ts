/**
 * The API's real file descriptors: `generated/descriptors.binpb`, a google.protobuf
 * FileDescriptorSet that `buf build` makes from the same .proto files the runtime loader reads
 * (scripts/gen-proto.ts; `npm run check:proto` fails when it is stale). Unlike the descriptors
 * proto-loader synthesizes (one file per package, no dependency list, camelCase fields), these
 * are the files as written: their names, imports, snake_case field names and comments
 * (source_code_info), with every import included (the well-known types) and grpc's
 * health.proto. The daemon's reflection serves them; nothing decodes requests with them.
 *
 * Only the set's framing is read here (each file's bytes and name), so the files are served
 * byte for byte as buf wrote them.
 */
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

/** The set's file name in the generated directory (beside the generated types). */
export const DESCRIPTOR_SET_FILE = "descriptors.binpb";

/** One serialized google.protobuf.FileDescriptorProto of the set. */
export interface DescriptorFile {
  /** Its `name` (field 1): the path it was imported by, e.g. "gmempool/v1/pool.proto". */
  readonly name: string;
  readonly bytes: Buffer;
}

const WIRE_VARINT = 0;
const WIRE_I64 = 1;
const WIRE_LEN = 2;
const WIRE_I32 = 5;
/** FileDescriptorSet.file and FileDescriptorProto.name are both field 1. */
const FIELD_FILE = 1;
const FIELD_NAME = 1;

/** The path of the committed set, checked (an incomplete copy of the package fails naming it). */
export function findDescriptorSet(fromUrl: string = import.meta.url): string {
  const path = fileURLToPath(new URL(`./generated/${DESCRIPTOR_SET_FILE}`, fromUrl));
  if (!existsSync(path)) throw new Error(`@gmempool/contract: no ${path}; run \`npm run gen:proto\``);
  return path;
}

/** The files of a serialized FileDescriptorSet (default: the committed one), in its order. */
export function descriptorFiles(set: Buffer = readFileSync(findDescriptorSet())): DescriptorFile[] {
  const files: DescriptorFile[] = [];
  for (const field of fields(set)) {
    if (field.number !== FIELD_FILE || field.bytes === undefined) throw new Error(`FileDescriptorSet: unexpected field ${field.number} at byte ${field.offset}`);
    const name = fields(field.bytes).find((f) => f.number === FIELD_NAME)?.bytes;
    if (name === undefined) throw new Error(`FileDescriptorSet: file ${files.length} has no name`);
    files.push({ name: name.toString("utf8"), bytes: field.bytes });
  }
  return files;
}

interface WireField {
  readonly number: number;
  readonly offset: number;
  /** The payload of a length-delimited field; undefined for the other wire types. */
  readonly bytes: Buffer | undefined;
}

/** The top-level fields of one message (protobuf encoding: tag varint, then the payload). */
function fields(message: Buffer): WireField[] {
  const out: WireField[] = [];
  let at = 0;
  const varint = (): number => {
    let value = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      if (at >= message.length) throw new Error(`truncated varint at byte ${at}`);
      const byte = message[at++]!;
      value += (byte & 0x7f) * 2 ** shift;
      if (byte < 0x80) return value;
    }
    throw new Error(`varint longer than 5 bytes at byte ${at}`);
  };
  while (at < message.length) {
    const offset = at;
    const tag = varint();
    const wireType = tag & 7;
    const number = Math.floor(tag / 8);
    let bytes: Buffer | undefined;
    if (wireType === WIRE_LEN) {
      const length = varint();
      if (at + length > message.length) throw new Error(`field ${number} at byte ${offset}: ${length} bytes past the end`);
      bytes = message.subarray(at, at + length);
      at += length;
    } else if (wireType === WIRE_VARINT) {
      while ((message[at++] ?? 0) >= 0x80);
    } else if (wireType === WIRE_I64 || wireType === WIRE_I32) {
      at += wireType === WIRE_I64 ? 8 : 4;
    } else {
      throw new Error(`field ${number} at byte ${offset}: wire type ${wireType} is not supported`);
    }
    out.push({ number, offset, bytes });
  }
  return out;
}
