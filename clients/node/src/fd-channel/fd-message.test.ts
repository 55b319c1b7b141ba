import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { EnumTypeDefinition } from "@grpc/proto-loader";
import { gmempoolPackageDefinition } from "@gmempool/contract";
import { FD_MESSAGE_HEADER_BYTES, FD_MESSAGE_KIND, FD_MESSAGE_MAGIC } from "@gmempool/contract";
import { decodeFdReply, encodeFdRequest, FD_TYPE_NUMBER_BY_NAME } from "./fd-message.ts";

/** name -> number of an enum of the loaded protos. */
function protoEnum(name: string): Map<string, number> {
  const definition = gmempoolPackageDefinition()[name] as EnumTypeDefinition;
  const values = (definition.type as { value: { name: string; number: number }[] }).value;
  return new Map(values.map((v) => [v.name, v.number]));
}

describe("fd channel messages (docs/api.md: 64-byte little-endian header)", () => {
  // The numbers themselves are the contract's (checked in packages/contract); this checks that
  // the client's names for them are the proto's FdType values, lower-cased.
  test("each of the client's fd type names is the proto's FdType value of that number", () => {
    const types = protoEnum("gmempool.v1.FdType");
    for (const [name, number] of Object.entries(FD_TYPE_NUMBER_BY_NAME)) assert.equal(types.get(`FD_TYPE_${name.toUpperCase()}`), number, name);
    assert.equal(types.size - 1, Object.keys(FD_TYPE_NUMBER_BY_NAME).length, "every FdType but UNSPECIFIED has a client name");
  });

  test("a request is exactly 64 bytes with the fields at their offsets", () => {
    const token = Buffer.alloc(16, 0xab);
    const bytes = encodeFdRequest({ kind: FD_MESSAGE_KIND.CANCEL, sequence: 0x0102030405060708n, fdType: 2, token });
    assert.equal(bytes.length, FD_MESSAGE_HEADER_BYTES);
    assert.equal(bytes.readUInt32LE(0), FD_MESSAGE_MAGIC);
    assert.equal(bytes.readUInt16LE(4), 1);
    assert.equal(bytes.readUInt16LE(6), 6);
    assert.equal(bytes.readUInt32LE(8), 0);
    assert.equal(bytes.readUInt32LE(12), 2);
    assert.equal(bytes.readBigUInt64LE(16), 0x0102030405060708n);
    assert.deepEqual(bytes.subarray(32, 48), token);
    assert.deepEqual(bytes.subarray(48), Buffer.alloc(16));
    assert.throws(() => encodeFdRequest({ kind: 6, sequence: 1n, token: Buffer.alloc(15) }), /a token is 16 bytes, got 15/);
  });

  test("a reply decodes with its detail text", () => {
    const reply = Buffer.alloc(FD_MESSAGE_HEADER_BYTES + 5);
    reply.writeUInt32LE(FD_MESSAGE_MAGIC, 0);
    reply.writeUInt16LE(1, 4);
    reply.writeUInt16LE(FD_MESSAGE_KIND.SEND_FD_REPLY, 6);
    reply.writeUInt32LE(3, 8);
    reply.writeBigUInt64LE(9n, 16);
    reply.writeBigUInt64LE(4194304n, 24);
    reply.writeUInt32LE(5, 48);
    reply.write("hello", FD_MESSAGE_HEADER_BYTES);
    const decoded = decodeFdReply(reply);
    assert.deepEqual([decoded.kind, decoded.status, decoded.sequence, decoded.sizeBytes, decoded.detail], [2, 3, 9n, 4194304n, "hello"]);
    assert.throws(() => decodeFdReply(Buffer.alloc(63)), /at least 64 bytes, got 63/);
  });
});
