import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { decodeDurationMs, decodeTimestamp, decodeUint64, encodeDuration, encodeTimestamp, encodeUint32, encodeUint64, required } from "./scalars.ts";
import { WireValueError } from "./wire-value-error.ts";

const refused = (direction: "encode" | "decode", pattern: RegExp) => (e: unknown) => e instanceof WireValueError && e.direction === direction && pattern.test(e.message);

describe("scalars", () => {
  test("64-bit values stay exact both ways; what uint64 cannot hold is refused naming the field", () => {
    const max = (1n << 64n) - 1n;
    assert.equal(decodeUint64("18446744073709551615", "length_bytes"), max);
    assert.equal(encodeUint64(max, "lengthBytes"), "18446744073709551615");
    assert.throws(() => decodeUint64("-1", "length_bytes"), refused("decode", /^length_bytes is not an unsigned integer: "-1"$/));
    assert.throws(() => decodeUint64("18446744073709551616", "length_bytes"), refused("decode", /exceeds 2\^64 - 1/));
    assert.throws(() => encodeUint64(1n << 64n, "offsetBytes"), refused("encode", /^offsetBytes = 18446744073709551616 does not fit in uint64$/));
    assert.throws(() => encodeUint64(-1n, "offsetBytes"), refused("encode", /does not fit in uint64/));
    assert.throws(() => encodeUint64(4096 as unknown as bigint, "offsetBytes"), refused("encode", /^offsetBytes must be a bigint byte count, got number$/));
  });

  test("uint32 counts: integers in range only", () => {
    assert.equal(encodeUint32(0xffff_ffff, "unitCount"), 0xffff_ffff);
    assert.throws(() => encodeUint32(2 ** 32, "unitCount"), refused("encode", /^unitCount = 4294967296 is not a uint32$/));
    assert.throws(() => encodeUint32(1.5, "unitCount"), WireValueError);
    assert.throws(() => encodeUint32(-1, "unitCount"), WireValueError);
  });

  test("Timestamps and Durations: milliseconds both ways; absent is undefined / 0", () => {
    assert.deepEqual(encodeTimestamp(new Date(1500)), { seconds: "1", nanos: 500_000_000 });
    assert.equal(encodeTimestamp(undefined), null);
    assert.deepEqual(decodeTimestamp({ seconds: "1", nanos: 500_000_000 }), new Date(1500));
    assert.equal(decodeTimestamp(null), undefined);
    assert.deepEqual(encodeDuration(10_000), { seconds: "10", nanos: 0 });
    assert.deepEqual(encodeDuration(1_250), { seconds: "1", nanos: 250_000_000 });
    assert.equal(decodeDurationMs({ seconds: "1", nanos: 250_000_000 }), 1_250);
    assert.equal(decodeDurationMs(undefined), 0);
  });

  test("a required message left out is refused naming it", () => {
    assert.equal(required(0, "x"), 0);
    assert.throws(() => required(null, "Arena.policy"), refused("decode", /^Arena.policy is missing$/));
  });
});
