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
  return untag(JSON.parse(text));
}

function untag(value: unknown): unknown {
  if (typeof value !== "object" || value === null) return value;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) value[i] = untag(value[i]);
    return value;
  }
  const object = value as Record<string, unknown>;
  const keys = Object.keys(object);
  if (keys.length === 1) {
    if (typeof object["$n"] === "string") return BigInt(object["$n"]);
    if (typeof object["$d"] === "number") return new Date(object["$d"]);
  }
  for (const key of keys) object[key] = untag(object[key]);
  return object;
}
