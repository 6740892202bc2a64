import { payload, Stream } from "@pirouette/core";
import * as graphql from "@pirouette/graphql";
import { execute, parse, printSchema } from "graphql";
import { describe, expect, expectTypeOf, test } from "vitest";
import { z } from "zod";

const Search = z.object({ term: z.string().trim().min(1), limit: z.number().int().max(50) });

class Shop {
  @graphql.query("[Product!]!", { args: { term: "String!", limit: "Int = 10" }, schema: Search, description: "Find products" })
  search({ term, limit }: z.infer<typeof Search>) {
    return [{ sku: `${term}-1`, price: 1 }].slice(0, limit);
  }

  @graphql.query("String", { name: "version", deprecated: "use meta" })
  legacyVersion() {
    return "1";
  }

  @graphql.mutation("Product!", { args: { sku: "ID!" } })
  @payload(z.object({ sku: z.string().regex(/^[a-z]+$/, "lower-case letters only") }))
  restock({ sku }: { sku: string }) {
    return { sku, price: 2 };
  }

  @graphql.subscription("Float!", { args: { sku: "ID!" } })
  price({ sku }: { sku: string }) {
    return Stream.of(sku.length * 1.5);
  }

  /** Not a field: no decorator. */
  helper() {
    return 0;
  }
}

describe("the schema derived from a decorated class", () => {
  test("root types from @query/@mutation/@subscription, object types from `types`", async () => {
    const l = new graphql.Listener(0);
    const shop = new Shop();
    await l.attach(shop, { types: "type Product { sku: ID! price: Float! }" });
    const schema = l.schemaOf(shop);
    expect(schema).toBeDefined();
    expect(printSchema(schema!)).toBe(`type Product {
  sku: ID!
  price: Float!
}

type Query {
  """Find products"""
  search(term: String!, limit: Int = 10): [Product!]!
  version: String @deprecated(reason: "use meta")
}

type Mutation {
  restock(sku: ID!): Product!
}

type Subscription {
  price(sku: ID!): Float!
}`);
    // The wiring works without a transport: the field's schema validates (and trims) the arguments; so does @payload's.
    const ok = await execute({ schema: schema!, document: parse('{ search(term: "  tutu ") { sku } }') });
    expect(ok).toEqual({ data: { search: [{ sku: "tutu-1" }] } });
    const bad = await execute({ schema: schema!, document: parse('{ search(term: "x", limit: 99) { sku } }') });
    expect(bad.errors?.[0]?.originalError).toMatchObject({ name: "GraphqlError", code: "BAD_USER_INPUT" });
    const restock = await execute({ schema: schema!, document: parse('mutation { restock(sku: "A1") { sku } }') });
    expect(restock.errors?.[0]?.originalError).toMatchObject({ code: "BAD_USER_INPUT", message: "invalid arguments for Mutation.restock: sku: lower-case letters only" });
    await l.gracefulStop();
  });

  test("decorated methods bind to the fields of a given SDL too; a method for a field the SDL lacks is refused", async () => {
    const l = new graphql.Listener(0);
    class Partial {
      @graphql.query("Int!")
      count() {
        return 3;
      }
    }
    const svc = new Partial();
    await l.attach(svc, { schema: "type Query { count: Int! }" });
    expect(await execute({ schema: l.schemaOf(svc)!, document: parse("{ count }") })).toEqual({ data: { count: 3 } });
    await expect(l.attach(new Partial(), { name: "/other", schema: "type Query { total: Int! }" })).rejects.toMatchObject({
      code: "INVALID_SCHEMA",
      message: "count() is declared as Query.count, which the schema does not have",
    });
    await l.gracefulStop();
  });

  test("the field decorators work in standard decorator mode too", async () => {
    class Std {
      hi(): string {
        return "hi";
      }
    }
    // What TypeScript emits for `@graphql.query("String!") hi()` without experimentalDecorators.
    const context = { kind: "method", name: "hi", static: false, private: false } as unknown as ClassMethodDecoratorContext;
    graphql.query("String!")(Std.prototype.hi, context);
    const l = new graphql.Listener(0);
    const svc = new Std();
    await l.attach(svc);
    expect(await execute({ schema: l.schemaOf(svc)!, document: parse("{ hi }") })).toEqual({ data: { hi: "hi" } });
    await l.gracefulStop();
  });

  test("decorators are type-checked against the SDL types", () => {
    expectTypeOf<graphql.SdlValue<"String!">>().toEqualTypeOf<string>();
    expectTypeOf<graphql.SdlValue<"[Int!]">>().toEqualTypeOf<number[] | null | undefined>();
    expectTypeOf<graphql.SdlArgs<{ name: "String!"; limit: "Int = 10"; tag: "String" }>>().toEqualTypeOf<{
      name: string;
      limit: number | null;
      tag?: string | null | undefined;
    }>();
    class Checked {
      // @ts-expect-error the argument types do not match the SDL
      @graphql.query("String!", { args: { n: "Int!" } })
      wrongArgs(args: { n: string }) {
        return args.n;
      }

      // @ts-expect-error a String! field cannot resolve to a number
      @graphql.query("String!")
      wrongResult() {
        return 1;
      }

      // @ts-expect-error a subscription returns a Stream (or an iterable)
      @graphql.subscription("String!")
      notAStream() {
        return 1;
      }

      @graphql.query("Int!", { args: { n: "Int!" }, schema: z.object({ n: z.number().transform(String) }) })
      schemaWins(args: { n: string }) {
        return args.n.length;
      }
    }
    expect(new Checked()).toBeDefined();
  });
});
