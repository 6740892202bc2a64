/**
 * Ordering for `orderBy`: key types, directions and the comparison.
 *
 * @module
 */
import { PirouetteError } from "../errors.ts";

/**
 * The direction of an `orderBy` / `thenBy` key, as in Ballerina's `order by k ascending`.
 *
 * @example
 * ```ts
 * const dir: OrderDirection = "descending";
 * from(orders).orderBy((o) => o.amount, dir);
 * ```
 */
export type OrderDirection = "ascending" | "descending";

/**
 * What an `orderBy` key function may return.
 *
 * - numbers and bigints compare numerically (with each other too), strings by UTF-16 code units
 *   (Ballerina compares code points; the two differ only between U+E000–U+FFFF and astral
 *   characters), booleans `false` before `true`, `Date`s by time, arrays lexicographically;
 * - `undefined`, `null` and `NaN` (or an invalid `Date`) are unordered: they always come last,
 *   in both directions, in that order: `NaN`, then `null`, then `undefined`;
 * - keys of different kinds sort by kind: boolean, number/bigint, string, Date, array.
 *
 * @example
 * ```ts
 * const key = (o: { placedAt?: Date }): OrderKey => o.placedAt; // undefined sorts last
 * ```
 */
export type OrderKey = number | bigint | string | boolean | Date | null | undefined | readonly OrderKey[];

/** One sort key with its direction. @internal */
export interface OrderSpec<T> {
  readonly key: (value: T) => OrderKey;
  readonly direction: OrderDirection;
}

/** @internal Validate orderBy/thenBy arguments at the call. */
export function orderSpec<T>(key: (value: T) => OrderKey, direction: OrderDirection, op: string): OrderSpec<T> {
  if (typeof key !== "function") throw new PirouetteError("INVALID_ARGUMENT", `${op} needs a key function`);
  if (direction !== "ascending" && direction !== "descending") {
    throw new PirouetteError(
      "INVALID_ARGUMENT",
      `${op} direction must be "ascending" or "descending", got ${String(direction)}`,
    );
  }
  return { key, direction };
}

// Ordered kinds.
const BOOLEAN = 0;
const NUMBER = 1;
const STRING = 2;
const DATE = 3;
const ARRAY = 4;
// Unordered ranks (after every ordered kind).
const NAN = 10;
const NULL = 11;
const UNDEFINED = 12;

function kind(v: unknown): number {
  switch (typeof v) {
    case "number":
      return Number.isNaN(v) ? NAN : NUMBER;
    case "bigint":
      return NUMBER;
    case "string":
      return STRING;
    case "boolean":
      return BOOLEAN;
    case "undefined":
      return UNDEFINED;
    default:
      break;
  }
  if (v === null) return NULL;
  if (v instanceof Date) return Number.isNaN(v.getTime()) ? NAN : DATE;
  if (Array.isArray(v)) return ARRAY;
  throw new PirouetteError(
    "INVALID_ARGUMENT",
    "an orderBy key must be a number, bigint, string, boolean, Date, array, null or undefined",
  );
}

/** Ascending comparison of two ordered values of the same kind. */
function compareSameKind(k: number, a: unknown, b: unknown): number {
  switch (k) {
    case BOOLEAN:
      return Number(a) - Number(b);
    case DATE:
      return (a as Date).getTime() - (b as Date).getTime();
    case ARRAY: {
      const x = a as readonly unknown[];
      const y = b as readonly unknown[];
      const n = Math.min(x.length, y.length);
      for (let i = 0; i < n; i++) {
        const c = compareKeys(x[i], y[i], false);
        if (c !== 0) return c;
      }
      return x.length - y.length;
    }
    default:
      // numbers, bigints (also mixed) and strings
      return (a as number) < (b as number) ? -1 : (a as number) > (b as number) ? 1 : 0;
  }
}

/**
 * Compare two keys; unordered values (NaN, null, undefined) come last whatever the direction.
 * @internal
 */
export function compareKeys(a: unknown, b: unknown, descending: boolean): number {
  const ka = kind(a);
  const kb = kind(b);
  if (ka >= NAN || kb >= NAN) return ka - kb;
  const c = ka !== kb ? ka - kb : compareSameKind(ka, a, b);
  return descending ? -c : c;
}

type Compare = (x: number, y: number) => number;

/**
 * The comparison of item indices `x`, `y` on one key column. Columns whose keys are all (non-NaN)
 * numbers or all strings (the common case) get a specialised comparison.
 */
function columnComparator(values: readonly OrderKey[], kinds: Uint8Array, descending: boolean): Compare {
  let uniform = -1;
  for (let i = 0; i < kinds.length; i++) {
    const k = kinds[i] as number;
    if (i === 0) uniform = k;
    else if (k !== uniform) {
      uniform = -1;
      break;
    }
  }
  const sign = descending ? -1 : 1;
  if (uniform === NUMBER && values.every((v) => typeof v === "number")) {
    return (x, y) => sign * ((values[x] as number) - (values[y] as number));
  }
  if (uniform === STRING) {
    const strs = values as readonly string[];
    return (x, y) => {
      const a = strs[x] as string;
      const b = strs[y] as string;
      return a < b ? -sign : a > b ? sign : 0;
    };
  }
  return (x, y) => {
    const ka = kinds[x] as number;
    const kb = kinds[y] as number;
    if (ka >= NAN || kb >= NAN) return ka - kb;
    const c = ka !== kb ? ka - kb : compareSameKind(ka, values[x], values[y]);
    return sign * c;
  };
}

/** Stable sort of `items` by `specs` (each key function is called once per item). @internal */
export function sortBy<T>(items: readonly T[], specs: readonly OrderSpec<T>[]): T[] {
  const n = items.length;
  const columns: Compare[] = specs.map((spec) => {
    const values = new Array<OrderKey>(n);
    const kinds = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      const key = spec.key(items[i] as T);
      kinds[i] = kind(key); // validates: a bad key fails even with nothing to compare it with
      values[i] = key;
    }
    return columnComparator(values, kinds, spec.direction === "descending");
  });
  const order = new Array<number>(n);
  for (let i = 0; i < n; i++) order[i] = i;
  const m = columns.length;
  const first = columns[0];
  order.sort(
    m === 1 && first !== undefined
      ? (x, y) => first(x, y) || x - y
      : (x, y) => {
          for (let j = 0; j < m; j++) {
            const c = (columns[j] as Compare)(x, y);
            if (c) return c; // NaN (Infinity - Infinity) counts as a tie, as in Array#sort
          }
          return x - y; // stable, whatever the engine
        },
  );
  const out = new Array<T>(n);
  for (let i = 0; i < n; i++) out[i] = items[order[i] as number] as T;
  return out;
}
