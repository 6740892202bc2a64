/**
 * Key equality for `groupBy` and `join`: Ballerina's deep equality, adapted to JavaScript.
 *
 * - Primitives compare with SameValueZero (`NaN` equals `NaN`, `0` equals `-0`; `1` and `1n`
 *   differ, as Ballerina's `int` and `float` do).
 * - Arrays, plain objects (prototype `Object.prototype` or `null`), `Date`s, `Map`s, `Set`s and
 *   typed arrays compare structurally: same shape, same contents, deeply. Property order of a
 *   plain object and insertion order of a `Map`/`Set` do not matter.
 * - Every other object (class instances, functions) and symbols compare by identity.
 *
 * @internal
 * @module
 */
import { PirouetteError } from "../errors.ts";

/**
 * A map whose keys follow the equality above. Structural keys are encoded into strings held in
 * a second map, so they never collide with primitive string keys.
 * @internal
 */
export class KeyMap<V> {
  readonly #direct = new Map<unknown, V>();
  readonly #structural = new Map<string, V>();
  /** Identity numbers for objects and symbols met inside structural keys. */
  readonly #ids = new Map<unknown, number>();

  get(key: unknown): V | undefined {
    return isStructural(key) ? this.#structural.get(this.#encode(key)) : this.#direct.get(key);
  }

  set(key: unknown, value: V): void {
    if (isStructural(key)) this.#structural.set(this.#encode(key), value);
    else this.#direct.set(key, value);
  }

  #encode(key: object): string {
    return encode(key, [], this.#ids);
  }
}

function isPlainObject(v: object): boolean {
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}

/** Whether a key is compared by structure (rather than SameValueZero / identity). */
function isStructural(v: unknown): v is object {
  if (typeof v !== "object" || v === null) return false;
  return (
    Array.isArray(v) ||
    v instanceof Date ||
    v instanceof Map ||
    v instanceof Set ||
    (ArrayBuffer.isView(v) && !(v instanceof DataView)) ||
    isPlainObject(v)
  );
}

function identity(v: unknown, ids: Map<unknown, number>): string {
  let id = ids.get(v);
  if (id === undefined) {
    id = ids.size;
    ids.set(v, id);
  }
  return `#${id}`;
}

function encode(v: unknown, ancestors: object[], ids: Map<unknown, number>): string {
  switch (typeof v) {
    case "undefined":
      return "u";
    case "boolean":
      return v ? "T" : "F";
    case "number":
      return Number.isNaN(v) ? "N" : v === 0 ? "d0" : `d${v}`;
    case "bigint":
      return `b${v}`;
    case "string":
      return JSON.stringify(v);
    case "symbol":
    case "function":
      return identity(v, ids);
    default:
      break;
  }
  if (v === null) return "n";
  const o = v as object;
  if (!isStructural(o)) return identity(o, ids);
  if (o instanceof Date) return `D${o.getTime()}`;
  if (ancestors.includes(o)) throw new PirouetteError("INVALID_ARGUMENT", "a group or join key must not be cyclic");
  ancestors.push(o);
  let out: string;
  if (Array.isArray(o)) {
    const parts: string[] = [];
    for (let i = 0; i < o.length; i++) parts.push(encode(o[i], ancestors, ids));
    out = `[${parts.join(",")}]`;
  } else if (o instanceof Map) {
    const parts: string[] = [];
    for (const [k, val] of o) parts.push(`${encode(k, ancestors, ids)}=>${encode(val, ancestors, ids)}`);
    out = `M{${parts.sort().join(",")}}`;
  } else if (o instanceof Set) {
    const parts: string[] = [];
    for (const k of o) parts.push(encode(k, ancestors, ids));
    out = `S{${parts.sort().join(",")}}`;
  } else if (ArrayBuffer.isView(o)) {
    out = `${o.constructor.name}[${Array.prototype.join.call(o, ",")}]`;
  } else {
    const rec = o as Record<string, unknown>;
    const parts: string[] = [];
    for (const k of Object.keys(rec).sort()) parts.push(`${JSON.stringify(k)}:${encode(rec[k], ancestors, ids)}`);
    out = `{${parts.join(",")}}`;
  }
  ancestors.pop();
  return out;
}
