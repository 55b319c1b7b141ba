/**
 * The wire's scalars as @grpc/proto-loader gives them with PROTO_LOADER_OPTIONS: 64-bit integers
 * as decimal strings (here bigint: bytes, sequences, clock ticks), Timestamps and Durations as
 * {seconds, nanos} messages (here Date and milliseconds). Only what the wire cannot carry is
 * refused (WireValueError): a value beyond uint64 or uint32, a non-integer.
 */
import type { Duration, Duration__Output } from "../generated/google/protobuf/Duration.ts";
import type { Timestamp, Timestamp__Output } from "../generated/google/protobuf/Timestamp.ts";
import { WireValueError } from "./wire-value-error.ts";

const UINT64_MAX = (1n << 64n) - 1n;
const UINT32_MAX = 0xffff_ffff;

/** A bigint as the wire's decimal string; refuses what uint64 cannot hold. */
export function encodeUint64(value: bigint, field = "uint64"): string {
  if (typeof value !== "bigint") throw new WireValueError("encode", field, `${field} must be a bigint byte count, got ${typeof value}`);
  if (value < 0n || value > UINT64_MAX) throw new WireValueError("encode", field, `${field} = ${value} does not fit in uint64`);
  return value.toString();
}

/** A uint64 field (a decimal string) as bigint. */
export function decodeUint64(value: string, field: string): bigint {
  if (!/^\d+$/.test(value)) throw new WireValueError("decode", field, `${field} is not an unsigned integer: ${JSON.stringify(value)}`);
  const n = BigInt(value);
  if (n > UINT64_MAX) throw new WireValueError("decode", field, `${field} ${value} exceeds 2^64 - 1`);
  return n;
}

/** A unit count or other uint32; refuses non-integers and what uint32 cannot hold. */
export function encodeUint32(value: number, field: string): number {
  if (!Number.isInteger(value) || value < 0 || value > UINT32_MAX) throw new WireValueError("encode", field, `${field} = ${value} is not a uint32`);
  return value;
}

/** undefined (not set) -> an absent message. */
export function encodeTimestamp(time: Date | undefined): Timestamp | null {
  if (time === undefined) return null;
  const ms = time.getTime();
  const seconds = Math.floor(ms / 1000);
  return { seconds: String(seconds), nanos: (ms - seconds * 1000) * 1_000_000 };
}

/** Millisecond precision (a Date's). */
export function decodeTimestamp(t: Timestamp__Output | null | undefined): Date | undefined {
  if (t === null || t === undefined) return undefined;
  return new Date(Number(t.seconds) * 1000 + Math.floor(t.nanos / 1e6));
}

export function encodeDuration(ms: number): Duration {
  const seconds = Math.floor(ms / 1000);
  return { seconds: String(seconds), nanos: Math.round((ms - seconds * 1000) * 1_000_000) };
}

/** An absent Duration is 0 ms. */
export function decodeDurationMs(d: Duration__Output | null | undefined): number {
  if (d === null || d === undefined) return 0;
  return Number(d.seconds) * 1000 + Math.floor(d.nanos / 1e6);
}

/** A message field the proto requires: its absence is the sender's error. */
export function required<T>(value: T | null | undefined, field: string): T {
  if (value === null || value === undefined) throw new WireValueError("decode", field, `${field} is missing`);
  return value;
}
