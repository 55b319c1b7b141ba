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

export function decodeTagged(text: string): unknown {
  return JSON.parse(text, (_key, v: unknown) => {
    if (typeof v === "object" && v !== null && !Array.isArray(v)) {
      const keys = Object.keys(v);
      if (keys.length === 1) {
        const tagged = v as { $n?: unknown; $d?: unknown };
        if (typeof tagged.$n === "string") return BigInt(tagged.$n);
        if (typeof tagged.$d === "number") return new Date(tagged.$d);
      }
    }
    return v;
  });
}
