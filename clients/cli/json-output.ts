/**
 * `--json` output: the client library's objects as JSON. bigints (byte quantities, sequence
 * numbers) become decimal strings so that no value above 2^53 loses precision in a consumer's
 * JSON parser (the same convention as the API's uint64 fields, docs/api.md); Dates become ISO
 * strings; undefined fields are left out.
 */
export function toJson(value: unknown, indent?: number): string {
  return JSON.stringify(value, (_key, v: unknown) => (typeof v === "bigint" ? v.toString() : v), indent);
}
