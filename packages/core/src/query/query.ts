/**
 * Query expressions: Ballerina's `from … where … let … join … order by … limit … group by …
 * select | collect | do` as a builder over {@link Stream}.
 *
 * A query is a description: building it pulls nothing and opens nothing. Each terminal
 * (`select`, `stream`, `collect`, `do`, `toArray`, `for await`) builds one Stream from the source
 * and the clauses. `where`, `let`, `limit` and `select` are fused into the Stream's synchronous
 * per-chunk pass (`filter`/`map`/`take`); `orderBy`, `groupBy` and the right side of `join`
 * buffer, as in Ballerina. A query over an array (or a function returning an iterable) can be
 * run again; a query over a Stream, like the stream, runs once.
 *
 * @module
 */
import { PirouetteError } from "../errors.ts";
import { Stream, type Aggregate, type StreamInput } from "../stream/stream.ts";
import { groupStream, joinStream, sortStream, type Group } from "./operators.ts";
import { orderSpec, type OrderDirection, type OrderKey, type OrderSpec } from "./order.ts";

/**
 * What `from` and `join` accept: a {@link Stream}, another {@link Query}, an array, an iterable,
 * an async iterable, or a function returning an (async) iterable (called each time the query runs).
 *
 * @example
 * ```ts
 * const a: QuerySource<number> = [1, 2, 3];
 * const b: QuerySource<Row, SqlError> = db.query(sql`SELECT * FROM orders`);
 * const c: QuerySource<string> = async function* () { yield "tick"; };
 * ```
 */
export type QuerySource<T, E = Error> = Stream<T, E> | Query<T, E> | StreamInput<T>;

/**
 * The results of `collect` with a record of aggregates: the same keys, each with its result.
 *
 * @example
 * ```ts
 * type R = AggregateResults<{ n: QueryAggregate<Order, number> }>; // { n: number }
 * ```
 */
export type AggregateResults<A> = { [K in keyof A]: A[K] extends Aggregate<never, infer R> ? R : never };

/**
 * The element type after `let(name, fn)`: the element with one more field.
 *
 * @example
 * ```ts
 * type WithTax = WithField<{ amount: number }, "tax", number>; // { amount: number } & { tax: number }
 * ```
 */
export type WithField<T, K extends string, V> = T & { [P in K]: V };

function isAggregate(value: unknown): value is Aggregate<unknown, unknown> {
  const a = value as Partial<Aggregate<unknown, unknown>> | null;
  return (
    typeof a === "object" &&
    a !== null &&
    typeof a.init === "function" &&
    typeof a.step === "function" &&
    typeof a.result === "function"
  );
}

function isQuerySource(value: unknown): boolean {
  if (value instanceof Stream || value instanceof Query || Array.isArray(value)) return true;
  if (typeof value === "function" || typeof value === "string") return true;
  if (typeof value !== "object" || value === null) return false;
  const v = value as Partial<AsyncIterable<unknown> & Iterable<unknown>>;
  return typeof v[Symbol.asyncIterator] === "function" || typeof v[Symbol.iterator] === "function";
}

function toStream<T, E>(source: QuerySource<T, E>): Stream<T, E> {
  if (source instanceof Query) return source.stream();
  return Stream.from<T, E>(source as StreamInput<T>);
}

function assertSource(value: unknown, op: string): void {
  if (!isQuerySource(value)) {
    throw new PirouetteError(
      "INVALID_ARGUMENT",
      `${op} needs a Stream, query, array, iterable, async iterable or a function returning one`,
    );
  }
}

function assertFunction(fn: unknown, op: string): void {
  if (typeof fn !== "function") throw new PirouetteError("INVALID_ARGUMENT", `${op} needs a function`);
}

/**
 * A query over elements `T` that may fail with `E`. Start one with {@link from}; each clause
 * returns a new query (the old one is left as it was).
 *
 * @typeParam T - the element type at this point of the query
 * @typeParam E - the error the source (or a clause) may fail with
 *
 * @example
 * ```ts
 * const bigSpenders: Stream<{ customer: string; total: number }> = from(orders)
 *   .where((o) => o.status === "paid")
 *   .groupBy((o) => o.customer)
 *   .select((g) => ({ customer: g.key, total: sum((o: Order) => o.amount).of(g.items) ?? 0 }));
 * ```
 */
export class Query<T, E = Error> implements AsyncIterable<T> {
  readonly #build: () => Stream<T, E>;

  /**
   * A query whose runs each start from `build()`. Most code uses {@link from}.
   *
   * @example
   * ```ts
   * const q = new Query(() => Stream.of(1, 2, 3)); // re-runnable: a fresh stream per run
   * ```
   */
  constructor(build: () => Stream<T, E>) {
    assertFunction(build, "new Query");
    this.#build = build;
  }

  // ---------------------------------------------------------------- clauses

  /**
   * Keep the elements for which `predicate` is truthy (Ballerina's `where`); a type guard
   * narrows the element type.
   *
   * @example
   * ```ts
   * from(orders).where((o) => o.amount > 1000);
   * ```
   */
  where<U extends T>(predicate: (value: T) => value is U): Query<U, E>;
  where(predicate: (value: T) => unknown): Query<T, E>;
  where(predicate: (value: T) => unknown): Query<T, E> {
    assertFunction(predicate, "where");
    const build = this.#build;
    return new Query(() => build().filter((v) => predicate(v)));
  }

  /**
   * Add a field `name` computed by `fn` (Ballerina's `let`). Elements must be objects (records);
   * each is shallow-copied into a new plain object with the extra field.
   *
   * @example
   * ```ts
   * from(orders)
   *   .let("tax", (o) => o.amount * 0.2)
   *   .where((o) => o.tax > 100)
   *   .select((o) => `${o.id}: ${o.tax}`);
   * ```
   */
  let<K extends string, V>(name: K, fn: (value: T) => V): [T] extends [object] ? Query<WithField<T, K, V>, E> : never {
    if (typeof name !== "string") throw new PirouetteError("INVALID_ARGUMENT", "let needs a field name");
    assertFunction(fn, "let");
    const build = this.#build;
    return new Query(() =>
      build().map((v) => ({ ...(v as object), [name]: fn(v) }) as WithField<T, K, V>),
    ) as never;
  }

  /**
   * Equality join (Ballerina's `join y in right on leftKey(x) equals rightKey(y)`): yields
   * `[left, right]` for every pair with equal keys, in left order, then right order. On the
   * first pull the right side is read completely into a map; the left side stays lazy.
   *
   * Keys compare as in `groupBy`: primitives with SameValueZero, arrays / plain objects / Dates /
   * Maps / Sets / typed arrays structurally (deep equality), other objects by identity.
   *
   * @example
   * ```ts
   * from(orders)
   *   .join(customers, (o) => o.customerId, (c) => c.id)
   *   .select(([o, c]) => ({ id: o.id, name: c.name }));
   * ```
   */
  join<U, K, E2 = Error>(
    right: QuerySource<U, E2>,
    leftKey: (value: T) => K,
    rightKey: (value: U) => K,
  ): Query<[T, U], E | E2> {
    return this.#join(right, leftKey, rightKey, false, "join") as Query<[T, U], E | E2>;
  }

  /**
   * Outer equality join (Ballerina's `outer join`): like {@link Query.join}, but a left element
   * without a match yields `[left, undefined]` once.
   *
   * @example
   * ```ts
   * from(customers)
   *   .outerJoin(orders, (c) => c.id, (o) => o.customerId)
   *   .select(([c, o]) => ({ name: c.name, order: o?.id ?? "none" }));
   * ```
   */
  outerJoin<U, K, E2 = Error>(
    right: QuerySource<U, E2>,
    leftKey: (value: T) => K,
    rightKey: (value: U) => K,
  ): Query<[T, U | undefined], E | E2> {
    return this.#join(right, leftKey, rightKey, true, "outerJoin");
  }

  #join<U, E2>(
    right: QuerySource<U, E2>,
    leftKey: (value: T) => unknown,
    rightKey: (value: U) => unknown,
    outer: boolean,
    op: string,
  ): Query<[T, U | undefined], E | E2> {
    assertSource(right, op);
    assertFunction(leftKey, op);
    assertFunction(rightKey, op);
    const build = this.#build;
    return new Query(() => {
      const l = build();
      return joinStream(l, toStream(right), leftKey, rightKey, outer);
    });
  }

  /**
   * Sort by `key` (Ballerina's `order by key ascending|descending`): stable, and it buffers all
   * input. Add more keys with {@link OrderedQuery.thenBy}. See {@link OrderKey} for how keys
   * compare (`undefined`, `null` and `NaN` always last).
   *
   * @example
   * ```ts
   * from(orders).orderBy((o) => o.amount, "descending").thenBy((o) => o.id).limit(10);
   * ```
   */
  orderBy(key: (value: T) => OrderKey, direction: OrderDirection = "ascending"): OrderedQuery<T, E> {
    return new OrderedQuery(this.#build, [orderSpec(key, direction, "orderBy")]);
  }

  /**
   * At most the first `n` elements (Ballerina's `limit`); the source is closed once reached.
   * Throws a `PirouetteError` with code `"INVALID_ARGUMENT"` at once when `n` is negative or not
   * an integer (Ballerina panics when the clause is evaluated).
   *
   * @example
   * ```ts
   * from(events).where(isAlert).limit(5);
   * ```
   */
  limit(n: number): Query<T, E> {
    if (typeof n !== "number" || !Number.isInteger(n) || n < 0) {
      throw new PirouetteError("INVALID_ARGUMENT", `limit needs a non-negative integer, got ${String(n)}`);
    }
    const build = this.#build;
    return new Query(() => build().take(n));
  }

  /**
   * Group by `key` (Ballerina's `group by`): buffers all input and emits one
   * `{ key, items }` per distinct key, in the order keys were first seen, items in input order.
   * Keys compare with deep equality: primitives with SameValueZero; arrays, plain objects (key
   * order ignored), Dates, Maps, Sets and typed arrays structurally; other objects by identity.
   *
   * @example
   * ```ts
   * from(orders)
   *   .groupBy((o) => ({ customer: o.customer, currency: o.currency }))
   *   .select(({ key, items }) => ({ ...key, total: sum((o: Order) => o.amount).of(items) }));
   * ```
   */
  groupBy<K>(key: (value: T) => K): Query<Group<K, T>, E> {
    assertFunction(key, "groupBy");
    const build = this.#build;
    return new Query(() => groupStream(build(), key));
  }

  // ---------------------------------------------------------------- terminals

  /**
   * The lazy result stream (Ballerina's `select` building a `stream`): clauses run as the
   * stream is pulled; a source error ends it and `next()` resolves to that error.
   *
   * @example
   * ```ts
   * const highValue: Stream<Order> = from(orders).where((o) => o.amount > 1000).select((o) => o);
   * ```
   */
  select<U>(fn: (value: T) => U): Stream<U, E> {
    assertFunction(fn, "select");
    return this.#build().map((v) => fn(v));
  }

  /**
   * The lazy result stream of the elements themselves (`select x`).
   *
   * @example
   * ```ts
   * await from(orders).orderBy((o) => o.id).stream().pipeTo(sink);
   * ```
   */
  stream(): Stream<T, E> {
    return this.#build();
  }

  /**
   * Run the query and aggregate it (Ballerina's `collect`): with one aggregate, its result;
   * with a record of aggregates, a record of results. Eager: rejects with the source's error.
   *
   * @example
   * ```ts
   * const total = await from(orders).where((o) => o.status === "paid").collect(sum((o) => o.amount));
   * const { n, mean } = await from(orders).collect({ n: count(), mean: avg((o) => o.amount) });
   * ```
   */
  // The first signature only gives `(o) => …` inside the aggregates their element type, for
  // both forms (a lambda's parameter type is fixed by the first signature TypeScript tries);
  // no real argument matches it (it would have to be an aggregate whose every property is an
  // aggregate), so calls resolve to one of the two signatures after it.
  collect(aggregates: Aggregate<T, never> & { readonly [key: string]: Aggregate<T, never> }): Promise<unknown>;
  collect<R>(aggregate: Aggregate<T, R>): Promise<R>;
  collect<A extends Readonly<Record<string, Aggregate<T, unknown>>>>(aggregates: A): Promise<AggregateResults<A>>;
  async collect(aggregates: Aggregate<T, unknown> | Readonly<Record<string, Aggregate<T, unknown>>>): Promise<unknown> {
    if (isAggregate(aggregates)) {
      const { value } = await this.#build().collect({ value: aggregates });
      return value;
    }
    if (typeof aggregates !== "object" || aggregates === null) {
      throw new PirouetteError("INVALID_ARGUMENT", "collect needs an aggregate or a record of aggregates");
    }
    for (const k of Object.keys(aggregates)) {
      if (!isAggregate(aggregates[k])) throw new PirouetteError("INVALID_ARGUMENT", `collect: "${k}" is not an aggregate`);
    }
    return this.#build().collect(aggregates);
  }

  /**
   * Run `fn` for every element, awaiting it when it returns a promise (Ballerina's query action
   * `do { … }`). Eager: rejects with the source's error or with what `fn` threw.
   *
   * @example
   * ```ts
   * await from(orders).where((o) => o.amount > 1000).do(async (o) => { await publish(o); });
   * ```
   */
  async do(fn: (value: T) => unknown): Promise<void> {
    assertFunction(fn, "do");
    await this.#build().forEach(fn);
  }

  /**
   * Run the query into an array (Ballerina's `select` building a list). Eager.
   *
   * @example
   * ```ts
   * const top3 = await from(scores).orderBy((s) => s.points, "descending").limit(3).toArray();
   * ```
   */
  async toArray(): Promise<T[]> {
    return this.#build().toArray();
  }

  /**
   * Iterate the results with `for await`; the loop throws the error if the query fails.
   *
   * @example
   * ```ts
   * for await (const o of from(orders).where((o) => o.amount > 1000)) console.log(o.id);
   * ```
   */
  [Symbol.asyncIterator](): AsyncIterator<T, undefined> {
    return this.#build()[Symbol.asyncIterator]();
  }
}

/**
 * A query right after `orderBy`: {@link OrderedQuery.thenBy} adds tie-breaking keys to the same
 * sort (Ballerina's `order by k1 ascending, k2 descending`).
 *
 * @example
 * ```ts
 * from(people).orderBy((p) => p.lastName).thenBy((p) => p.age, "descending");
 * ```
 */
export class OrderedQuery<T, E = Error> extends Query<T, E> {
  readonly #parent: () => Stream<T, E>;
  readonly #specs: readonly OrderSpec<T>[];

  /**
   * Sort what `parent()` yields by `specs`. Most code uses {@link Query.orderBy}.
   *
   * @example
   * ```ts
   * const q = from([3, 1, 2]).orderBy((n) => n); // an OrderedQuery
   * ```
   */
  constructor(parent: () => Stream<T, E>, specs: readonly OrderSpec<T>[]) {
    super(() => sortStream(parent(), specs));
    this.#parent = parent;
    this.#specs = specs;
  }

  /**
   * Break ties of the previous keys by `key`.
   *
   * @example
   * ```ts
   * from(orders).orderBy((o) => o.customer).thenBy((o) => o.amount, "descending");
   * ```
   */
  thenBy(key: (value: T) => OrderKey, direction: OrderDirection = "ascending"): OrderedQuery<T, E> {
    return new OrderedQuery(this.#parent, [...this.#specs, orderSpec(key, direction, "thenBy")]);
  }
}

/**
 * Start a query over `source` (Ballerina's `from x in source`): a {@link Stream} (its error
 * type is kept), another query, an array, an iterable, an async iterable, or a function
 * returning one. Nothing is read until the query runs.
 *
 * @example
 * ```ts
 * const total = await from(orders)
 *   .where((o) => o.status === "paid")
 *   .collect(sum((o) => o.amount));
 *
 * const names = from(users).orderBy((u) => u.name).select((u) => u.name); // Stream<string>
 * ```
 */
export function from<T, E>(source: Stream<T, E> | Query<T, E>): Query<T, E>;
export function from<T>(source: StreamInput<T>): Query<T, Error>;
export function from<T, E>(source: QuerySource<T, E>): Query<T, E> {
  assertSource(source, "from");
  return new Query(() => toStream(source));
}

export type { Group } from "./operators.ts";
