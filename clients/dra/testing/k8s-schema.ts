/**
 * Checks a JSON body as sent on the wire against @kubernetes/client-node's own model of the type
 * (its generated classes' `getAttributeTypeMap()`: wire names, and the type of each), recursively:
 * an unknown field, or a value of the wrong JSON type, is an error naming its path. This is what
 * "the body is a valid V1ResourceSlice of the library we use" can mean without an API server.
 */
import * as k8s from "@kubernetes/client-node";

interface Attribute {
  readonly name: string;
  readonly baseName: string;
  readonly type: string;
}

function modelOf(type: string): readonly Attribute[] | undefined {
  const model = (k8s as unknown as Record<string, { getAttributeTypeMap?: () => Attribute[] } | undefined>)[type];
  return model?.getAttributeTypeMap?.();
}

export function schemaErrors(value: unknown, type: string, path = "$"): string[] {
  if (value === undefined || value === null) return [];
  const array = /^Array<(.+)>$/.exec(type);
  if (array !== null) return Array.isArray(value) ? value.flatMap((v, i) => schemaErrors(v, array[1]!, `${path}[${i}]`)) : [`${path}: not an array (${type})`];
  const map = /^\{ \[key: string\]: (.+); \}$/.exec(type);
  if (map !== null) return typeof value === "object" && !Array.isArray(value) ? Object.entries(value).flatMap(([k, v]) => schemaErrors(v, map[1]!, `${path}.${k}`)) : [`${path}: not a map (${type})`];
  if (type === "string") return typeof value === "string" ? [] : [`${path}: not a string`];
  if (type === "number") return typeof value === "number" ? [] : [`${path}: not a number`];
  if (type === "boolean") return typeof value === "boolean" ? [] : [`${path}: not a boolean`];
  if (type === "Date") return typeof value === "string" ? [] : [`${path}: not a date string`];
  const attributes = modelOf(type);
  if (attributes === undefined) return [`${path}: no model ${type} in @kubernetes/client-node`];
  if (typeof value !== "object" || Array.isArray(value)) return [`${path}: not an object (${type})`];
  const byWire = new Map(attributes.map((a) => [a.baseName, a]));
  return Object.entries(value).flatMap(([key, v]) => {
    const attribute = byWire.get(key);
    return attribute === undefined ? [`${path}.${key}: ${type} has no field "${key}"`] : schemaErrors(v, attribute.type, `${path}.${key}`);
  });
}
