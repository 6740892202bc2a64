import { PushSource, service, Stream } from "@pirouette/core";
import * as graphql from "@pirouette/graphql";
import * as http from "@pirouette/http";
import { GraphQLError } from "graphql";
import { describe, expect, test } from "vitest";
import { z } from "zod";
import { post, startGraphql, waitFor, watch, wsClient } from "./helpers.ts";

const SDL = /* GraphQL */ `
  type Person {
    name: String!
    friends: [Person!]!
  }
  type Query {
    hello(name: String!): String!
    me: Person!
    slowly(label: String!, ms: Int!): String!
    boom: String
    refused: String
    spec: String
    whoami: String
  }
  type Mutation {
    step(label: String!, ms: Int!): String!
  }
  type Subscription {
    ticks: Int!
  }
`;

function people(): { name: string; friends: unknown[] } {
  const p: { name: string; friends: unknown[] } = { name: "walter", friends: [] };
  p.friends.push(p);
  return p;
}

/** A plain-object service for an SDL schema: root fields resolve to methods of the same name. */
function makeService() {
  const log: string[] = [];
  const errors: { error: Error; context: graphql.Context | undefined }[] = [];
  const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));
  return {
    log,
    errors,
    hello: ({ name }: { name: string }) => `Hello, ${name}`,
    me: () => people(),
    async slowly({ label, ms }: { label: string; ms: number }) {
      log.push(`start ${label}`);
      await wait(ms);
      log.push(`end ${label}`);
      return label;
    },
    async step({ label, ms }: { label: string; ms: number }) {
      log.push(`start ${label}`);
      await wait(ms);
      log.push(`end ${label}`);
      return label;
    },
    boom: () => {
      throw new Error("the db password is hunter2");
    },
    refused: () => {
      throw new graphql.GraphqlError("FORBIDDEN", "not yours", { extensions: { owner: "skyler" } });
    },
    spec: () => {
      throw new GraphQLError("a graphql-js error is sent as is", { extensions: { code: "CUSTOM" } });
    },
    whoami: (_args: unknown, ctx: graphql.Context<{ user: string } | undefined>) => ctx.auth?.user ?? null,
    ticks: () => Stream.of(1, 2),
    onError(error: Error, context?: graphql.Context) {
      errors.push({ error, context });
    },
  };
}

describe("GraphQL over HTTP, with fetch as the peer", () => {
  test("POST a query: data as application/json, or application/graphql-response+json when accepted", async () => {
    await using l = await startGraphql([[makeService(), { name: "/graphql", schema: SDL }]]);
    const plain = await post(l.url(), { query: "query Hi($n: String!) { hello(name: $n) }", variables: { n: "Jesse" }, operationName: "Hi" });
    expect(plain).toEqual({ status: 200, type: "application/json; charset=utf-8", json: { data: { hello: "Hello, Jesse" } } });
    const modern = await post(l.url(), { query: '{ hello(name: "Skyler") }' }, { accept: "application/graphql-response+json" });
    expect(modern).toEqual({ status: 200, type: "application/graphql-response+json; charset=utf-8", json: { data: { hello: "Hello, Skyler" } } });
    const notAcceptable = await post(l.url(), { query: "{ me { name } }" }, { accept: "text/html" });
    expect(notAcceptable.status).toBe(406);
  });

  test("the mutation fields of one operation run one after the other; query fields run concurrently", async () => {
    const svc = makeService();
    await using l = await startGraphql([[svc, { name: "/graphql", schema: SDL }]]);
    const m = await post(l.url(), { query: 'mutation { a: step(label: "a", ms: 40) b: step(label: "b", ms: 0) c: step(label: "c", ms: 10) }' });
    expect(m.json).toEqual({ data: { a: "a", b: "b", c: "c" } });
    expect(svc.log).toEqual(["start a", "end a", "start b", "end b", "start c", "end c"]);
    svc.log.length = 0;
    const q = await post(l.url(), { query: '{ a: slowly(label: "a", ms: 40) b: slowly(label: "b", ms: 0) }' });
    expect(q.json).toEqual({ data: { a: "a", b: "b" } });
    expect(svc.log.slice(0, 2)).toEqual(["start a", "start b"]);
  });

  test("request errors: syntax and validation (200 for application/json, 400 for graphql-response+json), no data", async () => {
    await using l = await startGraphql([[makeService(), { name: "/graphql", schema: SDL }]]);
    const unknown = await post(l.url(), { query: "{ nope }" });
    expect(unknown.status).toBe(200);
    expect(unknown.json).toEqual({
      errors: [{ message: 'Cannot query field "nope" on type "Query".', locations: [{ line: 1, column: 3 }], extensions: { code: "GRAPHQL_VALIDATION_FAILED" } }],
    });
    const syntax = await post(l.url(), { query: "{ hello(" }, { accept: "application/graphql-response+json" });
    expect(syntax.status).toBe(400);
    expect(syntax.json.errors?.[0]?.message).toMatch(/^Syntax Error/);
    const vars = await post(l.url(), { query: "query($n: String!) { hello(name: $n) }", variables: { n: 7 } }, { accept: "application/graphql-response+json" });
    expect(vars.status).toBe(400);
    expect(vars.json.data).toBeUndefined();
    expect(vars.json.errors?.[0]?.message).toContain('Variable "$n" got invalid value 7');
    const twoOps = await post(l.url(), { query: "query A { me { name } } query B { me { name } }" });
    expect(twoOps.json.errors?.[0]).toEqual({ message: "the document has several operations: say which one with operationName", extensions: { code: "BAD_REQUEST" } });
  });

  test("malformed requests: not JSON, no query, wrong content type, prototype pollution, oversize body", async () => {
    await using l = await startGraphql([[makeService(), { name: "/graphql", schema: SDL, maxBodyBytes: 1024 }]]);
    const notJson = await post(l.url(), "{ hello");
    expect(notJson.status).toBe(400);
    expect(notJson.json.errors?.[0]?.extensions?.["code"]).toBe("BAD_REQUEST");
    expect((await post(l.url(), { variables: {} })).json.errors?.[0]?.message).toBe("`query` must be a non-empty string");
    expect((await post(l.url(), { query: "{ me { name } }", variables: [1] })).status).toBe(400);
    const polluted = await post(l.url(), '{"query":"{ me { name } }","variables":{"__proto__":{"admin":true}}}');
    expect(polluted.status).toBe(400);
    expect(({} as Record<string, unknown>)["admin"]).toBeUndefined();
    const text = await fetch(l.url(), { method: "POST", headers: { "content-type": "text/plain" }, body: "{ me { name } }" });
    expect(text.status).toBe(415);
    const big = await post(l.url(), { query: `{ me { name } } # ${"x".repeat(2048)}` });
    expect(big.status).toBe(413);
  });

  test("execution errors keep data, path and locations; unexpected errors are masked and go to onError", async () => {
    const svc = makeService();
    await using l = await startGraphql([[svc, { name: "/graphql", schema: SDL }]]);
    const r = await post(l.url(), { query: '{ hello(name: "x") boom refused spec }' });
    expect(r.status).toBe(200);
    expect(r.json).toEqual({
      errors: [
        { message: "Internal server error", locations: [{ line: 1, column: 20 }], path: ["boom"], extensions: { code: "INTERNAL" } },
        { message: "not yours", locations: [{ line: 1, column: 25 }], path: ["refused"], extensions: { owner: "skyler", code: "FORBIDDEN" } },
        { message: "a graphql-js error is sent as is", locations: [{ line: 1, column: 33 }], path: ["spec"], extensions: { code: "CUSTOM" } },
      ],
      data: { hello: "Hello, x", boom: null, refused: null, spec: null },
    });
    expect(JSON.stringify(r.json)).not.toContain("hunter2");
    expect(svc.errors).toHaveLength(1);
    expect(svc.errors[0]?.error.message).toBe("the db password is hunter2");
    expect(svc.errors[0]?.context?.transport).toBe("http");
  });

  test("arguments are validated with Standard Schema: a typed BAD_USER_INPUT error with the issues", async () => {
    const Name = z.object({ name: z.string().min(2, "at least 2 characters") });
    await using l = await startGraphql([
      [
        {},
        {
          name: "/graphql",
          schema: "type Query { hello(name: String!): String }",
          resolvers: { Query: { hello: graphql.resolver(Name, ({ name }) => `Hello, ${name}`) } },
        },
      ],
    ]);
    const r = await post(l.url(), { query: '{ hello(name: "x") }' });
    expect(r.json).toEqual({
      errors: [
        {
          message: "invalid arguments for Query.hello: name: at least 2 characters",
          locations: [{ line: 1, column: 3 }],
          path: ["hello"],
          extensions: { code: "BAD_USER_INPUT", issues: [{ path: ["name"], message: "at least 2 characters" }] },
        },
      ],
      data: { hello: null },
    });
    expect((await post(l.url(), { query: '{ hello(name: "Hank") }' })).json).toEqual({ data: { hello: "Hello, Hank" } });
  });

  test("limits: depth, complexity (fragments expanded), introspection toggle, token cap", async () => {
    await using l = await startGraphql([
      [makeService(), { name: "/deep", schema: SDL, maxDepth: 3, maxComplexity: 20 }],
      [makeService(), { name: "/closed", schema: SDL, introspection: false }],
      [makeService(), { name: "/tokens", schema: SDL, maxTokens: 50 }],
    ]);
    expect((await post(l.url("/deep"), { query: "{ me { friends { name } } }" })).json).toEqual({ data: { me: { friends: [{ name: "walter" }] } } });
    const deep = await post(l.url("/deep"), { query: "{ me { friends { friends { name } } } }" });
    expect(deep.json.errors).toEqual([expect.objectContaining({ message: "the operation is 4 levels deep; at most 3 are allowed", extensions: { code: "QUERY_TOO_DEEP", depth: 4, maxDepth: 3 } })]);
    const wide = await post(l.url("/deep"), {
      query: "query Wide { me { ...F ...F2 } } fragment F on Person { a1: name a2: name a3: name a4: name a5: name a6: name a7: name a8: name a9: name } fragment F2 on Person { friends { ...F } b: name }",
    });
    expect(wide.json.errors?.[0]?.extensions).toEqual({ code: "QUERY_TOO_COMPLEX", complexity: 21, maxComplexity: 20 });
    const intro = "{ __schema { queryType { name } } }";
    expect((await post(l.url("/deep"), { query: intro })).json).toEqual({ data: { __schema: { queryType: { name: "Query" } } } });
    expect((await post(l.url("/closed"), { query: intro })).json.errors?.[0]?.message).toContain("introspection has been disabled");
    const long = await post(l.url("/tokens"), { query: `{ ${"me { name } ".repeat(20)} }` });
    expect(long.json.errors?.[0]?.message).toMatch(/^Syntax Error: Document contains more tha. 50 tokens/);
  });

  test("GET runs queries; mutations need POST (405); subscriptions need the WebSocket (400)", async () => {
    await using l = await startGraphql([[makeService(), { name: "/graphql", schema: SDL }]]);
    const qs = new URLSearchParams({ query: "query($n: String!) { hello(name: $n) }", variables: JSON.stringify({ n: "Hank" }) });
    const get = await fetch(`${l.url()}?${qs.toString()}`);
    expect(get.status).toBe(200);
    expect(await get.json()).toEqual({ data: { hello: "Hello, Hank" } });
    const mutation = await fetch(`${l.url()}?${new URLSearchParams({ query: 'mutation { step(label: "x", ms: 0) }' }).toString()}`);
    expect(mutation.status).toBe(405);
    expect(mutation.headers.get("allow")).toBe("POST");
    const sub = await post(l.url(), { query: "subscription { ticks }" });
    expect(sub.status).toBe(400);
    expect(sub.json.errors?.[0]?.message).toBe("subscriptions are served over WebSocket (graphql-transport-ws) at this path");
  });

  test("auth over HTTP: the hook sees the headers; refused → 401 (403 for FORBIDDEN); context.auth reaches resolvers", async () => {
    const auth = (req: graphql.AuthRequest) => {
      if (req.headers.authorization === "Bearer good") return { user: "walter" };
      if (req.headers.authorization === "Bearer banned") throw new graphql.GraphqlError("FORBIDDEN", "banned");
      return false;
    };
    await using l = await startGraphql([[makeService(), { name: "/graphql", schema: SDL, auth }]]);
    expect(await post(l.url(), { query: "{ whoami }" }, { authorization: "Bearer good" })).toMatchObject({ status: 200, json: { data: { whoami: "walter" } } });
    expect(await post(l.url(), { query: "{ whoami }" })).toMatchObject({ status: 401, json: { errors: [{ message: "not authorized", extensions: { code: "UNAUTHENTICATED" } }] } });
    expect(await post(l.url(), { query: "{ whoami }" }, { authorization: "Bearer banned" })).toMatchObject({ status: 403, json: { errors: [{ message: "banned", extensions: { code: "FORBIDDEN" } }] } });
  });

  test("sharing an http.Listener: REST resources, GraphQL over POST and subscriptions on one port", async () => {
    const api = new http.Listener(0, { host: "127.0.0.1" });
    await api.attach({}, { name: "/api", resources: { "GET /health": () => ({ ok: true }) } });
    const gql = new graphql.Listener(api);
    await gql.attach(makeService(), { name: "/graphql", schema: SDL });
    await api.start();
    await gql.start();
    try {
      const base = `http://127.0.0.1:${api.port}`;
      expect(gql.port).toBe(api.port);
      expect(await (await fetch(`${base}/api/health`)).json()).toEqual({ ok: true });
      expect((await post(`${base}/graphql`, { query: '{ hello(name: "x") }' })).json).toEqual({ data: { hello: "Hello, x" } });
      const client = wsClient(`ws://127.0.0.1:${api.port}/graphql`);
      const seen = watch(client, "subscription { ticks }");
      await seen.done;
      expect(seen.next).toEqual([{ data: { ticks: 1 } }, { data: { ticks: 2 } }]);
      await client.dispose();
      await gql.gracefulStop();
      // The HTTP listener keeps serving; the GraphQL routes are gone.
      expect(await (await fetch(`${base}/api/health`)).json()).toEqual({ ok: true });
      expect((await fetch(`${base}/graphql`, { method: "POST" })).status).toBe(404);
    } finally {
      await gql.gracefulStop();
      await api.gracefulStop();
    }
  });
});

describe("attaching services", () => {
  test("SDL with a resolver map: root resolvers, object field resolvers, a custom scalar, an interface's __resolveType", async () => {
    const { GraphQLScalarType, Kind } = await import("graphql");
    const Upper = new GraphQLScalarType({
      name: "Upper",
      serialize: (v) => String(v).toUpperCase(),
      parseValue: (v) => String(v),
      parseLiteral: (ast) => (ast.kind === Kind.STRING ? ast.value : null),
    });
    const sdl = `
      scalar Upper
      interface Named { name: Upper! }
      type Dog implements Named { name: Upper! barks: Boolean! }
      type Query { pets: [Named!]! dog(name: String!): Dog! }
    `;
    const resolvers: graphql.ResolverMap = {
      Query: { pets: () => [{ kind: "dog", name: "rex" }], dog: "findDog" },
      Dog: { barks: (dog: { name: string }) => dog.name.length > 2 },
      Named: { __resolveType: () => "Dog" },
      Upper,
    };
    await using l = await startGraphql([[{ findDog: ({ name }: { name: string }) => ({ name }) }, { name: "/graphql", schema: sdl, resolvers }]]);
    const r = await post(l.url(), { query: '{ pets { __typename name } dog(name: "fido") { name barks } }' });
    expect(r.json).toEqual({ data: { pets: [{ __typename: "Dog", name: "REX" }], dog: { name: "FIDO", barks: true } } });
  });

  test("invalid services are refused at attach with coded errors (Ballerina's compiler plugin checks)", async () => {
    const l = new graphql.Listener(0);
    await expect(l.attach({ onMesage() {} }, { schema: SDL })).rejects.toMatchObject({ code: "GRAPHQL_UNKNOWN_METHOD" });
    await expect(l.attach({}, { schema: "type Query { a: Int" })).rejects.toMatchObject({ code: "INVALID_SCHEMA" });
    await expect(l.attach({}, { schema: "type Query { a: Int }" })).rejects.toMatchObject({
      code: "INVALID_SCHEMA",
      message: 'no resolver for Query.a: give the service a method "a" or a resolver in `resolvers.Query`',
    });
    await expect(l.attach({ a: () => 1 }, { schema: "type Query { a: Int }", resolvers: { Query: { b: () => 1 } } })).rejects.toMatchObject({ code: "INVALID_SCHEMA" });
    await expect(l.attach({ a: () => 1 }, { schema: "type Query { a: Int }", resolvers: { Query: { a: "missing" } } })).rejects.toMatchObject({ code: "INVALID_SCHEMA" });
    await expect(l.attach({ a: () => 1 }, { schema: "type Query { a: Int }", maxDepth: -1 })).rejects.toMatchObject({ code: "INVALID_ARGUMENT" });
    class OnlySubscriptions {
      @graphql.subscription("String!")
      names() {
        return Stream.of("a");
      }
    }
    await expect(l.attach(new OnlySubscriptions())).rejects.toMatchObject({ code: "INVALID_SCHEMA", message: expect.stringContaining("at least one Query field") as unknown });
    await l.attach({ a: () => 1 }, { schema: "type Query { a: Int }" });
    await expect(l.attach({ a: () => 2 }, { schema: "type Query { a: Int }" })).rejects.toMatchObject({ code: "INVALID_ARGUMENT", message: "another GraphQL service is attached at /graphql" });
    await l.gracefulStop();
  });

  test("attach and detach on a running listener: the new path serves HTTP and WebSocket; detaching completes its subscriptions", async () => {
    await using l = await startGraphql([[makeService(), { name: "/graphql", schema: SDL }]]);
    let closed = 0;
    const late = {
      a: () => 1,
      live: () => new PushSource<number>({ onClose: () => void closed++ }).stream,
    };
    await l.attach(late, { name: "/late", schema: "type Query { a: Int } type Subscription { live: Int }" });
    expect((await post(l.url("/late"), { query: "{ a }" })).json).toEqual({ data: { a: 1 } });
    const client = wsClient(l.wsUrl("/late"));
    const seen = watch(client, "subscription { live }");
    await waitFor(() => l.activeSubscriptions === 1, "the subscription");
    await l.detach(late);
    await seen.done;
    expect(seen.completed).toBe(true);
    expect(closed).toBe(1);
    expect((await fetch(l.url("/late"), { method: "POST" })).status).toBe(404);
    expect((await post(l.url(), { query: '{ hello(name: "still") }' })).json).toEqual({ data: { hello: "Hello, still" } });
    await client.dispose();
  });

  test("a @service whose schema is invalid fails start()", async () => {
    const l = new graphql.Listener(0, { host: "127.0.0.1" });
    @service(l)
    class Broken {
      @graphql.query("Nope!")
      a() {
        return 1;
      }
    }
    void Broken;
    await expect(l.start()).rejects.toMatchObject({ code: "INVALID_SCHEMA" });
  });
});
