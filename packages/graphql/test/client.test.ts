import { PushSource, Stream } from "@pirouette/core";
import * as graphql from "@pirouette/graphql";
import { parse, type TypedQueryDocumentNode } from "graphql";
import { describe, expect, expectTypeOf, test } from "vitest";
import { z } from "zod";
import { startGraphql, waitFor } from "./helpers.ts";

class Names {
  readonly names = ["Walter", "Skyler", "Jesse"];
  readonly live = new Set<PushSource<string>>();
  closed = 0;

  @graphql.query("String!", { args: { name: "String!" }, schema: z.object({ name: z.string().min(2) }) })
  greeting({ name }: { name: string }) {
    return `Hello, ${name}`;
  }

  @graphql.query("[String!]!")
  all() {
    return this.names;
  }

  @graphql.query("String")
  secret(): string {
    throw new Error("the vault code is 1234");
  }

  @graphql.query("String")
  whoami(_args: Record<string, never>, ctx: graphql.Context<string>) {
    return ctx.auth;
  }

  @graphql.mutation("Int!", { args: { name: "String!" } })
  addName({ name }: { name: string }) {
    for (const s of this.live) s.push(name);
    return this.names.push(name);
  }

  @graphql.subscription("String!")
  namesFeed(): Stream<string> {
    return Stream.from(this.names);
  }

  @graphql.subscription("String!")
  added(): Stream<string> {
    const src: PushSource<string> = new PushSource<string>({
      onClose: () => {
        this.closed++;
        this.live.delete(src);
      },
    });
    this.live.add(src);
    return src.stream;
  }

  @graphql.subscription("String")
  flaky(): Stream<string | Error> {
    return Stream.from<string | Error>(["a", new graphql.GraphqlError("SKIPPED", "b is missing"), "c"]);
  }

  @graphql.subscription("String!")
  refused(): Stream<string> {
    throw new graphql.GraphqlError("FORBIDDEN", "not for you");
  }
}

const auth = (req: graphql.AuthRequest): unknown => {
  const token = req.connectionParams?.["token"] ?? req.headers["x-token"];
  return token === "bad" ? false : typeof token === "string" ? token : "anonymous";
};

describe("graphql.Client", () => {
  test("query and mutate resolve with typed data", async () => {
    await using l = await startGraphql([[new Names(), { name: "/graphql", auth }]]);
    await using client = new graphql.Client(l.url(), { headers: { "x-token": "walter" } });
    const data = await client.query<{ greeting: string }, { name: string }>("query($name: String!) { greeting(name: $name) }", { name: "Hank" });
    expectTypeOf(data).toEqualTypeOf<{ greeting: string }>();
    expect(data).toEqual({ greeting: "Hello, Hank" });
    expect(await client.mutate<{ addName: number }>('mutation { addName(name: "Marie") }')).toEqual({ addName: 4 });
    expect(await client.query<{ all: string[] }>("{ all }")).toEqual({ all: ["Walter", "Skyler", "Jesse", "Marie"] });
    expect(await client.query("{ whoami }")).toEqual({ whoami: "walter" });

    const doc = parse("query Greet($name: String!) { greeting(name: $name) }") as TypedQueryDocumentNode<{ greeting: string }, { name: string }>;
    const typed = await client.query(doc, { name: "Gus" }, { operationName: "Greet" });
    expectTypeOf(typed).toEqualTypeOf<{ greeting: string }>();
    expect(typed.greeting).toBe("Hello, Gus");
  });

  test("GraphQL errors reject with a GraphqlError coded by extensions.code, carrying the errors, partial data and status", async () => {
    await using l = await startGraphql([[new Names(), { name: "/graphql", auth }]]);
    await using client = new graphql.Client(l.url());
    const invalid = await client.query('{ greeting(name: "x") all }').catch((e: unknown) => e);
    expect(graphql.GraphqlError.is(invalid)).toBe(true);
    // greeting is non-null: its error nulls the whole data.
    expect(invalid).toMatchObject({ code: "BAD_USER_INPUT", status: 200, data: undefined, errors: [{ path: ["greeting"], extensions: { code: "BAD_USER_INPUT" } }] });
    expect(await client.query("{ secret all }").catch((e: unknown) => e)).toMatchObject({
      code: "INTERNAL",
      message: "Internal server error",
      data: { secret: null, all: ["Walter", "Skyler", "Jesse"] },
    });
    expect(await client.query("{ nope }").catch((e: unknown) => e)).toMatchObject({ code: "GRAPHQL_VALIDATION_FAILED", status: 400 });
    const refused = await new graphql.Client(l.url(), { headers: { "x-token": "bad" } }).query("{ all }").catch((e: unknown) => e);
    expect(refused).toMatchObject({ code: "UNAUTHENTICATED", status: 401 });
    const notGraphql = await new graphql.Client(`http://127.0.0.1:${l.port}/elsewhere`).query("{ all }").catch((e: unknown) => e);
    expect(notGraphql).toMatchObject({ code: "BAD_RESPONSE", status: 404 });
  });

  test("subscribe returns a Stream of data; closing it early completes the subscription and the server closes its source", async () => {
    const names = new Names();
    await using l = await startGraphql([[names, { name: "/graphql", auth }]]);
    await using client = new graphql.Client(l.url(), { connectionParams: { token: "skyler" } });
    const all = await client.subscribe<{ namesFeed: string }>("subscription { namesFeed }").map((d) => d.namesFeed).toArray();
    expect(all).toEqual(["Walter", "Skyler", "Jesse"]);

    const added = client.subscribe<{ added: string }>("subscription { added }");
    await waitFor(() => names.live.size === 1, "the subscription on the server");
    await client.mutate('mutation { addName(name: "Hank") }');
    await client.mutate('mutation { addName(name: "Marie") }');
    const got: string[] = [];
    for await (const d of added) {
      got.push(d.added);
      if (got.length === 2) break;
    }
    expect(got).toEqual(["Hank", "Marie"]);
    await waitFor(() => names.closed === 1, "the server's source closed");
    expect(l.activeSubscriptions).toBe(0);
  });

  test("error elements: the stream fails by default, or yields them with { errors: 'element' } and goes on", async () => {
    await using l = await startGraphql([[new Names(), "/graphql"]]);
    await using client = new graphql.Client(l.url());
    const failing = client.subscribe<{ flaky: string | null }>("subscription { flaky }");
    expect(await failing.next()).toEqual({ value: { flaky: "a" } });
    const err = await failing.next();
    expect(err).toBeInstanceOf(graphql.GraphqlError);
    expect(err).toMatchObject({ code: "SKIPPED", message: "b is missing", data: { flaky: null } });
    expect(await failing.closed).toBe(err);

    const elements = await client.subscribe<{ flaky: string | null }>("subscription { flaky }", undefined, { errors: "element" }).toArray();
    expect(elements).toHaveLength(3);
    expect(elements[0]).toEqual({ flaky: "a" });
    expect(elements[1]).toMatchObject({ name: "GraphqlError", code: "SKIPPED" });
    expect(elements[2]).toEqual({ flaky: "c" });
  });

  test("an error message, a refused connection and an unreachable server fail the stream with a GraphqlError", async () => {
    await using l = await startGraphql([[new Names(), { name: "/graphql", auth }]]);
    await using client = new graphql.Client(l.url());
    await expect(client.subscribe("subscription { refused }").toArray()).rejects.toMatchObject({ code: "FORBIDDEN", message: "not for you" });
    await expect(client.subscribe("subscription { namesFeed }", { x: 1 }).toArray()).resolves.toHaveLength(3);

    await using bad = new graphql.Client(l.url(), { connectionParams: { token: "bad" } });
    await expect(bad.subscribe("subscription { namesFeed }").toArray()).rejects.toMatchObject({ code: "UNAUTHENTICATED", closeCode: 4403 });

    const port = l.port;
    await using gone = new graphql.Client(`http://127.0.0.1:${port}/graphql`, { timeoutMs: 5000 });
    await l.gracefulStop();
    await expect(gone.query("{ all }")).rejects.toMatchObject({ code: "CONNECTION" });
    await expect(gone.subscribe("subscription { namesFeed }").toArray()).rejects.toMatchObject({ code: "CONNECTION" });
  });

  test("the server's graceful stop completes client streams; client.close() fails open ones with CLOSED", async () => {
    const names = new Names();
    const l = await startGraphql([[names, "/graphql"]]);
    const client = new graphql.Client(l.url());
    const first = client.subscribe<{ added: string }>("subscription { added }");
    await waitFor(() => names.live.size === 1, "subscribed");
    const drained = first.toArray();
    await l.gracefulStop();
    expect(await drained).toEqual([]);
    expect(names.closed).toBe(1);

    const l2 = await startGraphql([[new Names(), "/graphql"]]);
    const client2 = new graphql.Client(l2.url());
    const open = client2.subscribe("subscription { added }");
    const pending = open.toArray();
    await waitFor(() => l2.activeSubscriptions === 1, "subscribed");
    await client2.close();
    await expect(pending).rejects.toMatchObject({ code: "CLOSED" });
    await expect(client2.query("{ all }")).rejects.toMatchObject({ code: "CLOSED" });
    await waitFor(() => l2.activeSubscriptions === 0, "the server saw the socket go");
    await l2.gracefulStop();
    await client.close();
  });

  test("bad arguments: not a URL, not http", () => {
    expect(() => new graphql.Client("nope")).toThrow(graphql.GraphqlError);
    expect(() => new graphql.Client("ftp://x/graphql")).toThrow("the URL must be http: or https:");
    expect(new graphql.Client("https://example.com/api/graphql").wsUrl).toBe("wss://example.com/api/graphql");
  });
});
