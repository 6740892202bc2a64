/**
 * Aggregates for `collect` (on a {@link Stream} or a query) and for groups: Ballerina's `sum`,
 * `avg`, `min`, `max`, `count`, `first`, `last`, `some`, `every` and the list constructor `[x]`
 * (here `array`).
 *
 * Each factory returns a {@link QueryAggregate}: an {@link Aggregate} (`init`/`step`/`result`,
 * what `collect` drives) that also has `of(values)` to aggregate an array or iterable at once,
 * e.g. the `items` of a group. Every call of a factory may be reused: `init()` makes fresh state.
 *
 * Empty input: as in Ballerina, every aggregate gives `undefined` (Ballerina's nil) except
 * `count`, which gives `0` (a count of nothing is zero — Ballerina's `count()` with no values
 * returns 0, as SQL's `COUNT` does), and `array`, which gives `[]` (the list constructor `[x]`
 * over no values builds an empty list).
 *
 * @module
 */
import type { Aggregate } from "../stream/stream.ts";

/**
 * An {@link Aggregate} that can also be applied to an array or iterable with `of`.
 *
 * @example
 * ```ts
 * const total = sum((o: Order) => o.amount);
 * await from(orders).collect(total);   // over a stream or query
 * total.of(group.items);               // over an array, synchronously
 * ```
 */
export interface QueryAggregate<T, R> extends Aggregate<T, R> {
  /** Aggregate `values` at once. */
  of(values: Iterable<T>): R;
}

/** What `min` and `max` compare. */
type Comparable = number | bigint | string | Date;

function define<T, S, R>(init: () => S, step: (state: S, value: T) => S, result: (state: S) => R): QueryAggregate<T, R> {
  return {
    init,
    step,
    result,
    of(values: Iterable<T>): R {
      let s = init();
      if (Array.isArray(values)) {
        for (let i = 0; i < values.length; i++) s = step(s, values[i] as T);
      } else {
        for (const v of values) s = step(s, v);
      }
      return result(s);
    },
  };
}

const self = <T>(v: T): T => v;

/**
 * The sum of `fn(value)` (of the values themselves without `fn`); `undefined` on empty input.
 * Works on numbers or on bigints (not mixed).
 *
 * @example
 * ```ts
 * await from(orders).collect(sum((o) => o.amount));      // number | undefined
 * sum((r: { bytes: bigint }) => r.bytes).of(rows);        // bigint | undefined
 * await from([1, 2, 3]).collect(sum());                   // 6
 * ```
 */
export function sum(): QueryAggregate<number, number | undefined>;
export function sum<T>(fn: (value: T) => number): QueryAggregate<T, number | undefined>;
export function sum<T>(fn: (value: T) => bigint): QueryAggregate<T, bigint | undefined>;
export function sum<T>(fn: (value: T) => number | bigint = self as never): QueryAggregate<T, number | bigint | undefined> {
  return define<T, { t: number | bigint | undefined }, number | bigint | undefined>(
    () => ({ t: undefined }),
    (s, v) => {
      const x = fn(v);
      s.t = s.t === undefined ? x : (s.t as number) + (x as number);
      return s;
    },
    (s) => s.t,
  );
}

/**
 * The arithmetic mean of `fn(value)`; `undefined` on empty input.
 *
 * @example
 * ```ts
 * await from(readings).collect({ mean: avg((r) => r.celsius) });
 * avg().of([1, 2, 3, 4]); // 2.5
 * ```
 */
export function avg(): QueryAggregate<number, number | undefined>;
export function avg<T>(fn: (value: T) => number): QueryAggregate<T, number | undefined>;
export function avg<T>(fn: (value: T) => number = self as never): QueryAggregate<T, number | undefined> {
  return define<T, { n: number; t: number }, number | undefined>(
    () => ({ n: 0, t: 0 }),
    (s, v) => {
      s.t += fn(v);
      s.n++;
      return s;
    },
    (s) => (s.n === 0 ? undefined : s.t / s.n),
  );
}

function extreme<T, V extends Comparable>(fn: (value: T) => V, better: (a: V, b: V) => boolean): QueryAggregate<T, V | undefined> {
  return define<T, { has: boolean; v: V | undefined }, V | undefined>(
    () => ({ has: false, v: undefined }),
    (s, value) => {
      const x = fn(value);
      if (!s.has) {
        s.has = true;
        s.v = x;
      } else if (typeof s.v === "number" && Number.isNaN(s.v)) {
        // NaN is sticky, as in Math.min/Math.max and Ballerina's float:min/max
      } else if ((typeof x === "number" && Number.isNaN(x)) || better(x, s.v as V)) {
        s.v = x;
      }
      return s;
    },
    (s) => s.v,
  );
}

const plain = (v: Comparable): number | bigint | string => (v instanceof Date ? v.getTime() : v);
const less = (a: Comparable, b: Comparable): boolean => plain(a) < plain(b);
const greater = (a: Comparable, b: Comparable): boolean => plain(a) > plain(b);

/**
 * The smallest `fn(value)`: numbers, bigints, strings (UTF-16 code-unit order) or `Date`s;
 * `undefined` on empty input. A `NaN` makes the result `NaN`; of equal values the first wins.
 *
 * @example
 * ```ts
 * await from(orders).collect({ cheapest: min((o) => o.amount) });
 * min<string>().of(["pear", "apple"]); // "apple"
 * ```
 */
export function min<V extends Comparable>(): QueryAggregate<V, V | undefined>;
export function min<T, V extends Comparable>(fn: (value: T) => V): QueryAggregate<T, V | undefined>;
export function min<T, V extends Comparable>(fn: (value: T) => V = self as never): QueryAggregate<T, V | undefined> {
  return extreme(fn, less);
}

/**
 * The largest `fn(value)`: numbers, bigints, strings (UTF-16 code-unit order) or `Date`s;
 * `undefined` on empty input. A `NaN` makes the result `NaN`; of equal values the first wins.
 *
 * @example
 * ```ts
 * await from(events).collect({ latest: max((e) => e.at) }); // a Date
 * max().of([3, 9, 4]); // 9
 * ```
 */
export function max<V extends Comparable>(): QueryAggregate<V, V | undefined>;
export function max<T, V extends Comparable>(fn: (value: T) => V): QueryAggregate<T, V | undefined>;
export function max<T, V extends Comparable>(fn: (value: T) => V = self as never): QueryAggregate<T, V | undefined> {
  return extreme(fn, greater);
}

/**
 * How many values there are — or, with `predicate`, how many satisfy it (a shorthand for
 * `where(predicate)` before `count()`). `0` on empty input (see the module notes for why).
 *
 * @example
 * ```ts
 * await from(orders).collect({ n: count(), paid: count((o) => o.status === "paid") });
 * count().of([]); // 0
 * ```
 */
export function count<T = unknown>(predicate?: (value: T) => unknown): QueryAggregate<T, number> {
  return define<T, { n: number }, number>(
    () => ({ n: 0 }),
    predicate === undefined
      ? (s) => {
          s.n++;
          return s;
        }
      : (s, v) => {
          if (predicate(v)) s.n++;
          return s;
        },
    (s) => s.n,
  );
}

/**
 * `fn` of the first value (the first value itself without `fn`); `undefined` on empty input.
 *
 * @example
 * ```ts
 * await from(ticks).orderBy((t) => t.at).collect({ open: first((t) => t.price) });
 * ```
 */
export function first<T>(): QueryAggregate<T, T | undefined>;
export function first<T, U>(fn: (value: T) => U): QueryAggregate<T, U | undefined>;
export function first<T, U>(fn: (value: T) => U = self as never): QueryAggregate<T, U | undefined> {
  return define<T, { has: boolean; v: U | undefined }, U | undefined>(
    () => ({ has: false, v: undefined }),
    (s, v) => {
      if (!s.has) {
        s.has = true;
        s.v = fn(v);
      }
      return s;
    },
    (s) => s.v,
  );
}

/**
 * `fn` of the last value (the last value itself without `fn`); `undefined` on empty input.
 *
 * @example
 * ```ts
 * await from(ticks).orderBy((t) => t.at).collect({ close: last((t) => t.price) });
 * ```
 */
export function last<T>(): QueryAggregate<T, T | undefined>;
export function last<T, U>(fn: (value: T) => U): QueryAggregate<T, U | undefined>;
export function last<T, U>(fn: (value: T) => U = self as never): QueryAggregate<T, U | undefined> {
  return define<T, { v: U | undefined }, U | undefined>(
    () => ({ v: undefined }),
    (s, v) => {
      s.v = fn(v);
      return s;
    },
    (s) => s.v,
  );
}

/**
 * Whether `predicate` holds for at least one value (truthiness of the value without it);
 * `undefined` on empty input. Once true, `predicate` is not called again.
 *
 * @example
 * ```ts
 * await from(orders).collect({ anyRefund: some((o) => o.amount < 0) });
 * ```
 */
export function some<T = unknown>(predicate: (value: T) => unknown = Boolean): QueryAggregate<T, boolean | undefined> {
  return define<T, { r: boolean | undefined }, boolean | undefined>(
    () => ({ r: undefined }),
    (s, v) => {
      if (s.r !== true) s.r = Boolean(predicate(v));
      return s;
    },
    (s) => s.r,
  );
}

/**
 * Whether `predicate` holds for every value (truthiness of the value without it);
 * `undefined` on empty input. Once false, `predicate` is not called again.
 *
 * @example
 * ```ts
 * await from(orders).collect({ allPaid: every((o) => o.status === "paid") });
 * ```
 */
export function every<T = unknown>(predicate: (value: T) => unknown = Boolean): QueryAggregate<T, boolean | undefined> {
  return define<T, { r: boolean | undefined }, boolean | undefined>(
    () => ({ r: undefined }),
    (s, v) => {
      if (s.r !== false) s.r = Boolean(predicate(v));
      return s;
    },
    (s) => s.r,
  );
}

/**
 * The values (or `fn` of each) in an array, Ballerina's `[x]`; `[]` on empty input.
 *
 * @example
 * ```ts
 * await from(orders).collect({ ids: array((o) => o.id) }); // string[]
 * ```
 */
export function array<T>(): QueryAggregate<T, T[]>;
export function array<T, U>(fn: (value: T) => U): QueryAggregate<T, U[]>;
export function array<T, U>(fn: (value: T) => U = self as never): QueryAggregate<T, U[]> {
  return define<T, U[], U[]>(
    () => [],
    (s, v) => {
      s.push(fn(v));
      return s;
    },
    (s) => s,
  );
}
