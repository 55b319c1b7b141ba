import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { FD_MESSAGE_HEADER_BYTES, FD_MESSAGE_KIND, FD_MESSAGE_MAGIC, FD_MESSAGE_MAX_DETAIL_BYTES } from "@gmempool/contract";
import {
  decodeFdRequest,
  encodeFdMessage,
  readFdMessageDetail,
  readFdMessageHeader,
  truncateDetail,
} from "./fd-message.ts";

describe("fd channel framing", () => {
  test("a message is the 64-byte little-endian header of fd_channel.proto at its offsets", () => {
    const token = new Uint8Array(16).map((_, i) => i + 1);
    const bytes = encodeFdMessage({ kind: FD_MESSAGE_KIND.SEND_FD_REPLY, status: 5, fdType: 2, sequence: 0x0102030405060708n, sizeBytes: 1n << 40n, token, detail: "hé" });
    const b = Buffer.from(bytes);
    assert.equal(b.length, FD_MESSAGE_HEADER_BYTES + 3);
    assert.equal(b.subarray(0, 4).toString("latin1"), "GMFD");
    assert.equal(b.readUInt32LE(0), FD_MESSAGE_MAGIC);
    assert.equal(b.readUInt16LE(4), 1);
    assert.equal(b.readUInt16LE(6), 2);
    assert.equal(b.readUInt32LE(8), 5);
    assert.equal(b.readUInt32LE(12), 2);
    assert.equal(b.readBigUInt64LE(16), 0x0102030405060708n);
    assert.equal(b.readBigUInt64LE(24), 1n << 40n);
    assert.deepEqual([...b.subarray(32, 48)], [...token]);
    assert.equal(b.readUInt32LE(48), 3);
    assert.equal(b.readUInt32LE(52), 0);
    assert.equal(b.readBigUInt64LE(56), 0n);
    assert.equal(readFdMessageDetail(bytes), "hé");
    assert.deepEqual(readFdMessageHeader(bytes).token, token);
  });

  test("detail text is cut to 192 bytes without splitting a UTF-8 character", () => {
    const cut = truncateDetail("é".repeat(200));
    assert.ok(cut.length <= FD_MESSAGE_MAX_DETAIL_BYTES);
    assert.equal(cut.length % 2, 0);
    assert.equal(cut.toString("utf8"), "é".repeat(cut.length / 2));
  });

  test("framing errors: short datagram, bad magic, request longer than 64 bytes", () => {
    assert.match((decodeFdRequest(new Uint8Array(10)) as { framingError: string }).framingError, /64 bytes, got a datagram of 10/);
    const bad = Buffer.from(encodeFdMessage({ kind: 1 }));
    bad.writeUInt32LE(0xdeadbeef, 0);
    assert.match((decodeFdRequest(bad) as { framingError: string }).framingError, /bad magic 0xdeadbeef/);
    assert.match((decodeFdRequest(encodeFdMessage({ kind: 1, detail: "x" })) as { framingError: string }).framingError, /exactly 64 bytes, got 65/);
    const ok = decodeFdRequest(encodeFdMessage({ kind: 3, sequence: 9n }));
    assert.ok("message" in ok);
    assert.equal(ok.message.kind, 3);
    assert.equal(ok.message.sequence, 9n);
  });
});
