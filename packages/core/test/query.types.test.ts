import { describe, expectTypeOf, it } from "vitest";
import {
  Stream,
  from,
  sum,
  avg,
  min,
  max,
  count,
  first,
  last,
  some,
  every,
  array,
  type Group,
  type OrderedQuery,
  type Query,
  type QueryAggregate,
} from "../src/index.ts";

interface Order {
  readonly id: string;
  readonly customer: string;
  readonly amount: number;
  readonly status: "paid" | "pending";
}
const orders: Order[] = [];
const orderStream = Stream.from<Order, RangeError>([]);
const customers = Stream.from<{ id: string; name: string }, TypeError>([]);

// These checks run under `tsc` (packages/core/test/tsconfig.json); at run time they only build queries.
describe("query types", () => {
  it("keeps the element and error types through the clauses", () => {
    expectTypeOf(from(orders)).toEqualTypeOf<Query<Order, Error>>();
    expectTypeOf(from(orderStream)).toEqualTypeOf<Query<Order, RangeError>>();
    expectTypeOf(from(orderStream).where((o) => o.amount > 1)).toEqualTypeOf<Query<Order, RangeError>>();
    expectTypeOf(from(orderStream).select((o) => o.id)).toEqualTypeOf<Stream<string, RangeError>>();
    expectTypeOf(from(orderStream).orderBy((o) => o.amount)).toEqualTypeOf<OrderedQuery<Order, RangeError>>();
    expectTypeOf(from(orderStream).groupBy((o) => o.customer)).toEqualTypeOf<Query<Group<string, Order>, RangeError>>();
  });

  it("narrows with a type-guard where and adds fields with let", () => {
    type Paid = Order & { status: "paid" };
    const paid = from(orders).where((o): o is Paid => o.status === "paid");
    expectTypeOf(paid).toEqualTypeOf<Query<Paid, Error>>();
    const withTax = from(orders).let("tax", (o) => o.amount * 0.2);
    expectTypeOf(withTax.select((o) => o.tax)).toEqualTypeOf<Stream<number, Error>>();
    expectTypeOf(withTax.select((o) => o.id)).toEqualTypeOf<Stream<string, Error>>();
    // let needs object elements
    expectTypeOf(from([1, 2]).let("x", () => 1)).toBeNever();
  });

  it("types joins as tuples and unions the error types", () => {
    const j = from(orderStream).join(customers, (o) => o.customer, (c) => c.id);
    expectTypeOf(j).toEqualTypeOf<Query<[Order, { id: string; name: string }], RangeError | TypeError>>();
    const oj = from(orders).outerJoin(customers, (o) => o.customer, (c) => c.id);
    expectTypeOf(oj).toEqualTypeOf<Query<[Order, { id: string; name: string } | undefined], Error | TypeError>>();
    // @ts-expect-error: the keys must be comparable (string vs number)
    from(orders).join([{ id: 1 }], (o) => o.customer, (c) => c.id);
  });

  it("types aggregates and collect", async () => {
    expectTypeOf(sum((o: Order) => o.amount)).toEqualTypeOf<QueryAggregate<Order, number | undefined>>();
    expectTypeOf(sum((x: { b: bigint }) => x.b)).toEqualTypeOf<QueryAggregate<{ b: bigint }, bigint | undefined>>();
    expectTypeOf(count()).toEqualTypeOf<QueryAggregate<unknown, number>>();
    expectTypeOf(array((o: Order) => o.id)).toEqualTypeOf<QueryAggregate<Order, string[]>>();
    expectTypeOf(min((o: Order) => o.id).of(orders)).toEqualTypeOf<string | undefined>();

    const q = from(orders);
    expectTypeOf(await q.collect(sum((o) => o.amount))).toEqualTypeOf<number | undefined>();
    const r = await q.collect({
      total: sum((o) => o.amount),
      mean: avg((o) => o.amount),
      low: min((o) => o.amount),
      high: max((o) => o.amount),
      n: count(),
      firstId: first((o) => o.id),
      lastOrder: last(),
      anyBig: some((o) => o.amount > 100),
      allPaid: every((o) => o.status === "paid"),
      ids: array((o) => o.id),
    });
    expectTypeOf(r).toEqualTypeOf<{
      total: number | undefined;
      mean: number | undefined;
      low: number | undefined;
      high: number | undefined;
      n: number;
      firstId: string | undefined;
      lastOrder: Order | undefined;
      anyBig: boolean | undefined;
      allPaid: boolean | undefined;
      ids: string[];
    }>();
    expectTypeOf(q.do(() => undefined)).toEqualTypeOf<Promise<void>>();
    expectTypeOf(q.toArray()).toEqualTypeOf<Promise<Order[]>>();
  });
});
