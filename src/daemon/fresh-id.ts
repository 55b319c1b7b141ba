/**
 * Arena and lease ids: "lease-3f9c0a1b2d4e", 48 random bits. randomUUID draws from a cached
 * entropy pool; randomBytes(6) cost ~36 µs per id in a daemon profile. The first 12 hex digits
 * of a v4 UUID are all random.
 */
import { randomUUID } from "node:crypto";

export function freshId(prefix: "arena" | "lease"): string {
  const uuid = randomUUID();
  return `${prefix}-${uuid.slice(0, 8)}${uuid.slice(9, 13)}`;
}
