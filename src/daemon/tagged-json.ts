/**
 * JSON that keeps bigints and Dates exact, for the journal and the idempotency records:
 * a bigint is written `{"$n":"123"}`, a Date `{"$d":1700000000000}`. Everything else is plain
 * JSON; `undefined` fields are dropped as usual.
 */

export function encodeTagged(value: unknown): string {
  return JSON.stringify(value, function (this: Record<string, unknown>, key: string, v: unknown) {
    // `this[key]` is the value before toJSON ran (a Date's toJSON would make it a string).
    const raw = this[key];
    if (typeof raw === "bigint") return { $n: raw.toString() };
    if (raw instanceof Date) return { $d: raw.getTime() };
    return v;
  });
}

/**
 * The inverse of `encodeTagged`. A plain JSON.parse, then one walk that turns the tags back
 * into values: 3× faster than a JSON.parse reviver (which V8 calls for every value) on a
 * journal snapshot of 10 k leases — 55–77 ms against 150–300 ms (2.4 MB, this machine) — and
 * the journal is read on the daemon's way to serving (issue 12 item 7).
 */
export function decodeTagged(text: string): unknown {
  const value: unknown = JSON.parse(text);
  return typeof value === "object" && value !== null ? untag(value) : value;
}

/** `value` with its tags turned back into values, in place; only objects and arrays are visited. */
function untag(value: object): unknown {
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const item: unknown = value[i];
      if (typeof item === "object" && item !== null) value[i] = untag(item);
    }
    return value;
  }
  const object = value as Record<string, unknown>;
  const n = object["$n"];
  if (typeof n === "string" && isSingleKey(object)) return BigInt(n);
  const d = object["$d"];
  if (typeof d === "number" && isSingleKey(object)) return new Date(d);
  // for...in rather than Object.keys: no array per object (a snapshot has one object per lease and more).
  for (const key in object) {
    const item = object[key];
    if (typeof item === "object" && item !== null) object[key] = untag(item);
  }
  return object;
}

/** For JSON.parse's objects, which have own enumerable keys only. */
function isSingleKey(object: object): boolean {
  let keys = 0;
  for (const _ in object) if (++keys > 1) return false;
  return keys === 1;
}
