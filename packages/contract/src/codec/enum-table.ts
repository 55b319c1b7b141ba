/**
 * One proto enum's table: the API's spelling (vocabulary.ts) <-> the proto's value name. The
 * table is a `Record` over the API's union, so a value added to a union does not compile until it
 * is mapped; codec/enum-tables.test.ts holds every table to the loaded proto enum.
 */
import { WireValueError } from "./wire-value-error.ts";

export class EnumTable<Value extends string, ProtoName extends string> {
  /** The proto enum's name ("PageVisibility"), for messages. */
  readonly protoType: string;
  /** Its value 0, which stands for "not set". */
  readonly unspecified: ProtoName;
  readonly #toProto: Readonly<Record<Value, ProtoName>>;
  readonly #fromProto: ReadonlyMap<string, Value>;
  /** Proto names by number: every gmempool enum numbers in declaration order, UNSPECIFIED = 0. */
  readonly #byNumber: readonly ProtoName[];

  constructor(protoType: string, unspecified: ProtoName, toProto: Readonly<Record<Value, ProtoName>>) {
    this.protoType = protoType;
    this.unspecified = unspecified;
    this.#toProto = toProto;
    this.#fromProto = new Map(Object.entries<ProtoName>(toProto).map(([value, name]) => [name, value as Value]));
    this.#byNumber = [unspecified, ...Object.values<ProtoName>(toProto)];
  }

  /** The API's values, in the proto's number order. */
  values(): Value[] {
    return Object.keys(this.#toProto) as Value[];
  }

  /** The proto's value names in number order, UNSPECIFIED first. */
  names(): string[] {
    return [...this.#byNumber];
  }

  /** Checked at run time too: a JavaScript caller can pass any string. */
  encode(value: Value, field: string = this.protoType): ProtoName {
    const name = Object.hasOwn(this.#toProto, value) ? this.#toProto[value] : undefined;
    if (name === undefined) throw new WireValueError("encode", field, `${value} is not a ${this.protoType} (one of ${this.values().join(", ")})`);
    return name;
  }

  /** undefined (not set) -> UNSPECIFIED. */
  encodeOptional(value: Value | undefined, field?: string): ProtoName {
    return value === undefined ? this.unspecified : this.encode(value, field);
  }

  /**
   * A name or number as the peer sent it (protobufjs passes a number it has no name for):
   * UNSPECIFIED -> undefined, for the receiver to judge (the daemon answers invalid-argument
   * naming the field where a value is required); a value the proto does not define -> WireValueError.
   */
  decode(value: string | number, field: string): Value | undefined {
    const name = typeof value === "number" ? this.#byNumber[value] : value;
    if (name === this.unspecified) return undefined;
    const decoded = name === undefined ? undefined : this.#fromProto.get(name);
    if (decoded === undefined) throw new WireValueError("decode", field, `${field} ${JSON.stringify(value)} is not a ${this.protoType}`);
    return decoded;
  }

  /** As `decode`, for a field a resource cannot leave unset: UNSPECIFIED is a WireValueError too. */
  decodeRequired(value: string | number, field: string): Value {
    const decoded = this.decode(value, field);
    if (decoded === undefined) throw new WireValueError("decode", field, `${field} is ${this.unspecified}`);
    return decoded;
  }
}
