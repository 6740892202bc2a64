import { PushSource, Stream } from "@pirouette/core";
import * as graphql from "@pirouette/graphql";
import { describe, expect, test } from "vitest";
import { z } from "zod";
import { deferred, openRaw, startGraphql, waitFor, watch, wsClient } from "./helpers.ts";

/** A decorated service exercising every subscription path; it counts the source streams it hands out and closes. */
class Feed {
  readonly live = new Set<PushSource<string>>();
  opened = 0;
  closed = 0;
  readonly errors: Error[] = [];

  @graphql.query("Boolean")
  ok() {
    return true;
  }

  @graphql.query("String")
  whoami(_args: Record<string, never>, ctx: graphql.Context<{ name: string } | undefined>) {
    return ctx.auth?.name ?? null;
  }

  @graphql.subscription("String!")
  names(): Stream<string> {
    return Stream.from(["Walter", "Skyler", "Jesse"]);
  }

  /** Never ends on its own: the test pushes into it. */
  @graphql.subscription("String!")
  ticks(): Stream<string> {
    this.opened++;
    const src: PushSource<string> = new PushSource<string>({
      onClose: () => {
        this.closed++;
        this.live.delete(src);
      },
    });
    this.live.add(src);
    src.push("hello");
    return src.stream;
  }

  @graphql.subscription("String")
  mixed(): Stream<string | Error> {
    return Stream.from<string | Error>(["a", new graphql.GraphqlError("BAD_ITEM", "item 2 is bad", { extensions: { item: 2 } }), "c", new Error("db password is hunter2"), "e"]);
  }

  @graphql.subscription("String")
  failing(): Stream<string> {
    return Stream.from(async function* () {
      yield "a";
      throw new graphql.GraphqlError("UPSTREAM", "the feed broke");
    });
  }

  @graphql.subscription("String!")
  refused(): Stream<string> {
    throw new graphql.GraphqlError("FORBIDDEN", "no names for you");
  }

  @graphql.subscription("String!")
  crashes(): Stream<string> {
    throw new Error("connection string postgres://admin:secret@db");
  }

  @graphql.subscription("Int!", { args: { n: "Int!" }, schema: z.object({ n: z.number().int().min(1).max(100) }) })
  count({ n }: { n: number }): Stream<number> {
    return Stream.from(Array.from({ length: n }, (_, i) => i));
  }

  onError(e: Error) {
    this.errors.push(e);
  }

  broadcast(value: string): void {
    for (const s of this.live) s.push(value);
  }
}

describe("subscriptions with the graphql-ws reference client", () => {
  test("the seeds' names(): each element is a next, then complete", async () => {
    await using l = await startGraphql([[new Feed(), "/graphql"]]);
    const client = wsClient(l.wsUrl());
    const seen = watch(client, "subscription { names }");
    await seen.done;
    expect(seen.error).toBeUndefined();
    expect(seen.next).toEqual([{ data: { names: "Walter" } }, { data: { names: "Skyler" } }, { data: { names: "Jesse" } }]);
    expect(seen.completed).toBe(true);
    await client.dispose();
  });

  test("the source stream is closed when the client completes", async () => {
    const feed = new Feed();
    await using l = await startGraphql([[feed, "/graphql"]]);
    const client = wsClient(l.wsUrl());
    const seen = watch(client, "subscription { ticks }");
    await waitFor(() => seen.next.length === 1, "the first tick");
    expect(l.activeSubscriptions).toBe(1);
    seen.unsubscribe();
    await waitFor(() => feed.closed === 1, "the source closed");
    await waitFor(() => l.activeSubscriptions === 0, "the subscription forgotten");
    expect(feed.opened).toBe(1);
    await client.dispose();
  });

  test("the source stream is closed when the client disconnects", async () => {
    const feed = new Feed();
    await using l = await startGraphql([[feed, "/graphql"]]);
    const raw = await openRaw(l.wsUrl());
    expect((await raw.init()).type).toBe("connection_ack");
    raw.send({ id: "1", type: "subscribe", payload: { query: "subscription { ticks }" } });
    expect(await raw.next()).toEqual({ id: "1", type: "next", payload: { data: { ticks: "hello" } } });
    raw.ws.terminate();
    await waitFor(() => feed.closed === 1, "the source closed");
    await waitFor(() => l.socketCount === 0 && l.activeSubscriptions === 0, "the socket forgotten");
  });

  test("fan-out: 200 subscribers each get every event; all sources close when they leave", async () => {
    const feed = new Feed();
    await using l = await startGraphql([[feed, "/graphql"]]);
    const clients = Array.from({ length: 200 }, () => wsClient(l.wsUrl()));
    const seen = clients.map((c) => watch(c, "subscription { ticks }"));
    await waitFor(() => feed.live.size === 200 && seen.every((s) => s.next.length === 1), "200 subscriptions", 30_000);
    for (let i = 0; i < 5; i++) feed.broadcast(`event ${i}`);
    await waitFor(() => seen.every((s) => s.next.length === 6), "every event at every subscriber", 30_000);
    for (const s of seen) expect(s.next.map((r) => (r.data as { ticks: string }).ticks)).toEqual(["hello", "event 0", "event 1", "event 2", "event 3", "event 4"]);
    await Promise.all(clients.map(async (c) => c.dispose()));
    await waitFor(() => feed.closed === 200, "every source closed", 30_000);
    expect(feed.errors).toEqual([]);
  });

  test("an error element is sent as next with errors and the subscription continues; unexpected ones are masked", async () => {
    const feed = new Feed();
    await using l = await startGraphql([[feed, "/graphql"]]);
    const client = wsClient(l.wsUrl());
    const seen = watch(client, "subscription { mixed }");
    await seen.done;
    expect(seen.error).toBeUndefined();
    expect(seen.completed).toBe(true);
    expect(seen.next).toEqual([
      { data: { mixed: "a" } },
      { data: { mixed: null }, errors: [{ message: "item 2 is bad", locations: [{ line: 1, column: 16 }], path: ["mixed"], extensions: { item: 2, code: "BAD_ITEM" } }] },
      { data: { mixed: "c" } },
      { data: { mixed: null }, errors: [{ message: "Internal server error", locations: [{ line: 1, column: 16 }], path: ["mixed"], extensions: { code: "INTERNAL" } }] },
      { data: { mixed: "e" } },
    ]);
    expect(JSON.stringify(seen.next)).not.toContain("hunter2");
    expect(feed.errors.map((e) => e.message)).toEqual(["db password is hunter2"]);
    await client.dispose();
  });

  test("a stream that fails: its error is a last next with errors, then complete; the socket stays usable", async () => {
    await using l = await startGraphql([[new Feed(), "/graphql"]]);
    const client = wsClient(l.wsUrl());
    const seen = watch(client, "subscription { failing }");
    await seen.done;
    expect(seen.error).toBeUndefined();
    expect(seen.next).toEqual([
      { data: { failing: "a" } },
      { data: { failing: null }, errors: [expect.objectContaining({ message: "the feed broke", extensions: { code: "UPSTREAM" } })] },
    ]);
    expect(seen.completed).toBe(true);
    const again = watch(client, "subscription { names }");
    await again.done;
    expect(again.next).toHaveLength(3);
    await client.dispose();
  });

  test("a resolver that throws sends error (masked unless a GraphqlError); the socket stays open", async () => {
    const feed = new Feed();
    await using l = await startGraphql([[feed, "/graphql"]]);
    const raw = await openRaw(l.wsUrl());
    await raw.init();
    raw.send({ id: "a", type: "subscribe", payload: { query: "subscription { refused }" } });
    expect(await raw.next()).toEqual({
      id: "a",
      type: "error",
      payload: [{ message: "no names for you", locations: [{ line: 1, column: 16 }], path: ["refused"], extensions: { code: "FORBIDDEN" } }],
    });
    raw.send({ id: "b", type: "subscribe", payload: { query: "subscription { crashes }" } });
    expect(await raw.next()).toEqual({
      id: "b",
      type: "error",
      payload: [{ message: "Internal server error", locations: [{ line: 1, column: 16 }], path: ["crashes"], extensions: { code: "INTERNAL" } }],
    });
    expect(feed.errors.map((e) => e.message)).toEqual(["connection string postgres://admin:secret@db"]);
    raw.send({ id: "c", type: "subscribe", payload: { query: "subscription { names }" } });
    expect(await raw.next()).toEqual({ id: "c", type: "next", payload: { data: { names: "Walter" } } });
    raw.ws.close();
  });

  test("arguments are validated with the field's Standard Schema: a failure is a BAD_USER_INPUT error", async () => {
    await using l = await startGraphql([[new Feed(), "/graphql"]]);
    const client = wsClient(l.wsUrl());
    const bad = watch(client, "subscription($n: Int!) { count(n: $n) }", { n: 0 });
    await bad.done;
    expect(bad.error).toEqual([
      expect.objectContaining({
        message: expect.stringContaining("invalid arguments for Subscription.count: n:") as unknown,
        extensions: { code: "BAD_USER_INPUT", issues: [{ path: ["n"], message: expect.any(String) as unknown }] },
      }),
    ]);
    const good = watch(client, "subscription($n: Int!) { count(n: $n) }", { n: 3 });
    await good.done;
    expect(good.next.map((r) => (r.data as { count: number }).count)).toEqual([0, 1, 2]);
    await client.dispose();
  });

  test("a socket that sends no connection_init is closed with 4408 at the timeout", async () => {
    await using l = await startGraphql([[new Feed(), "/graphql"]], { connectionInitWaitTimeoutMs: 200 });
    const raw = await openRaw(l.wsUrl());
    expect(await raw.closed).toEqual({ code: 4408, reason: "Connection initialisation timeout" });
  });

  test("subscribing before connection_init closes with 4401", async () => {
    await using l = await startGraphql([[new Feed(), "/graphql"]]);
    const raw = await openRaw(l.wsUrl());
    raw.send({ id: "1", type: "subscribe", payload: { query: "subscription { names }" } });
    expect((await raw.closed).code).toBe(4401);
  });

  test("the cap on subscriptions per socket: the next one gets TOO_MANY_SUBSCRIPTIONS; a freed slot is reusable", async () => {
    const feed = new Feed();
    await using l = await startGraphql([[feed, "/graphql"]], { maxSubscriptionsPerSocket: 3 });
    const raw = await openRaw(l.wsUrl());
    await raw.init();
    for (const id of ["1", "2", "3"]) {
      raw.send({ id, type: "subscribe", payload: { query: "subscription { ticks }" } });
      expect(await raw.next()).toMatchObject({ id, type: "next" });
    }
    raw.send({ id: "4", type: "subscribe", payload: { query: "subscription { ticks }" } });
    expect(await raw.next()).toEqual({
      id: "4",
      type: "error",
      payload: [{ message: "a socket may hold at most 3 subscriptions", extensions: { code: "TOO_MANY_SUBSCRIPTIONS", maxSubscriptionsPerSocket: 3 } }],
    });
    expect(feed.opened).toBe(3);
    // Queries are not subscriptions: still served.
    raw.send({ id: "q", type: "subscribe", payload: { query: "{ ok }" } });
    expect(await raw.next()).toEqual({ id: "q", type: "next", payload: { data: { ok: true } } });
    expect(await raw.next()).toEqual({ id: "q", type: "complete" });
    raw.send({ id: "2", type: "complete" });
    await waitFor(() => feed.closed === 1, "subscription 2 closed");
    raw.send({ id: "5", type: "subscribe", payload: { query: "subscription { ticks }" } });
    expect(await raw.next()).toMatchObject({ id: "5", type: "next" });
    raw.ws.close();
    await waitFor(() => feed.closed === 4, "every source closed");
  });

  test("auth on connection_init: refused with 4403 and a reason; accepted, the resolvers see context.auth", async () => {
    const seenBy: graphql.AuthRequest[] = [];
    const auth = (req: graphql.AuthRequest) => {
      seenBy.push(req);
      if (req.connectionParams?.["token"] === "s3cret") return { name: "walter" };
      if (req.connectionParams?.["token"] === "boom") throw new Error("the user store is down");
      if (req.connectionParams?.["token"] === "banned") throw new graphql.GraphqlError("FORBIDDEN", "this account is banned");
      return false;
    };
    const feed = new Feed();
    await using l = await startGraphql([[feed, { name: "/graphql", auth }]]);

    const wrong = await openRaw(l.wsUrl());
    wrong.send({ type: "connection_init", payload: { token: "nope" } });
    expect(await wrong.closed).toEqual({ code: 4403, reason: "not authorized" });

    const banned = await openRaw(l.wsUrl());
    banned.send({ type: "connection_init", payload: { token: "banned" } });
    expect(await banned.closed).toEqual({ code: 4403, reason: "this account is banned" });

    const broken = await openRaw(l.wsUrl());
    broken.send({ type: "connection_init", payload: { token: "boom" } });
    expect(await broken.closed).toEqual({ code: 4500, reason: "Internal server error" });
    expect(feed.errors.map((e) => e.message)).toEqual(["the user store is down"]);

    const client = wsClient(l.wsUrl(), { connectionParams: { token: "s3cret" } });
    const who = watch(client, "{ whoami }");
    await who.done;
    expect(who.next).toEqual([{ data: { whoami: "walter" } }]);
    expect(seenBy.at(-1)).toMatchObject({ transport: "ws", connectionParams: { token: "s3cret" }, remoteAddress: "127.0.0.1" });
    await client.dispose();
  });

  test("a plain ws client speaking graphql-transport-ws by hand", async () => {
    await using l = await startGraphql([[new Feed(), "/graphql"]]);
    const raw = await openRaw(l.wsUrl());
    expect(raw.ws.protocol).toBe("graphql-transport-ws");
    expect(await raw.init({ hello: "there" })).toEqual({ type: "connection_ack" });
    raw.send({ type: "ping", payload: { t: 1 } });
    expect(await raw.next()).toEqual({ type: "pong", payload: { t: 1 } });
    raw.send({ id: "s", type: "subscribe", payload: { query: "subscription Names { names }", operationName: "Names" } });
    expect(await raw.next()).toEqual({ id: "s", type: "next", payload: { data: { names: "Walter" } } });
    expect(await raw.next()).toEqual({ id: "s", type: "next", payload: { data: { names: "Skyler" } } });
    expect(await raw.next()).toEqual({ id: "s", type: "next", payload: { data: { names: "Jesse" } } });
    expect(await raw.next()).toEqual({ id: "s", type: "complete" });
    raw.send({ id: "bad", type: "subscribe", payload: { query: "subscription { nope }" } });
    expect(await raw.next()).toEqual({
      id: "bad",
      type: "error",
      payload: [expect.objectContaining({ message: 'Cannot query field "nope" on type "Subscription".', extensions: { code: "GRAPHQL_VALIDATION_FAILED" } })],
    });
    raw.send({ id: "syntax", type: "subscribe", payload: { query: "subscription {" } });
    expect(await raw.next()).toMatchObject({ id: "syntax", type: "error", payload: [{ extensions: { code: "GRAPHQL_VALIDATION_FAILED" } }] });
    raw.ws.send("this is not JSON");
    expect(await raw.closed).toEqual({ code: 4400, reason: "Invalid message received" });
  });

  test("only graphql-transport-ws is spoken: other subprotocols are not agreed, none at all is closed with 4406", async () => {
    await using l = await startGraphql([[new Feed(), "/graphql"]]);
    await expect(openRaw(l.wsUrl(), ["graphql-ws"])).rejects.toThrow("Server sent no subprotocol");
    const raw = await openRaw(l.wsUrl(), []);
    expect(await raw.closed).toEqual({ code: 4406, reason: "Subprotocol not acceptable" });
  });

  test("a message larger than maxMessageBytes closes the socket with 1009", async () => {
    await using l = await startGraphql([[new Feed(), "/graphql"]], { maxMessageBytes: 1024 });
    const raw = await openRaw(l.wsUrl());
    await raw.init();
    raw.send({ id: "1", type: "subscribe", payload: { query: `{ ok ${"#".repeat(2000)}\n}` } });
    expect((await raw.closed).code).toBe(1009);
  });

  test("keep-alive: the server pings, and terminates a socket that stops answering", async () => {
    await using l = await startGraphql([[new Feed(), "/graphql"]], { keepAliveMs: 100 });
    const answering = await openRaw(l.wsUrl());
    let pings = 0;
    answering.ws.on("ping", () => pings++);
    await answering.init();
    const silent = await openRaw(l.wsUrl(), ["graphql-transport-ws"], { autoPong: false });
    await silent.init();
    const closed = await silent.closed;
    expect(closed.code).toBe(1006);
    expect(pings).toBeGreaterThan(0);
    expect(answering.ws.readyState).toBe(answering.ws.OPEN);
    answering.ws.close();
  });
});

describe("graceful stop", () => {
  test("refuses new operations, lets running ones finish, completes subscriptions (closing their sources), then closes the sockets", async () => {
    const slow = deferred();
    const started = deferred();
    const feed = new Feed();
    const svc = Object.assign(feed, {
      async slow() {
        started.resolve();
        await slow.promise;
        return "finished";
      },
    });
    const l = await startGraphql([[svc, { name: "/graphql", resolvers: { Query: { slow: "slow" } }, types: "extend type Query { slow: String! }" }]]);
    const clients = [wsClient(l.wsUrl()), wsClient(l.wsUrl())];
    const subs = clients.map((c) => watch(c, "subscription { ticks }"));
    await waitFor(() => subs.every((s) => s.next.length === 1), "subscriptions");
    const idle = await openRaw(l.wsUrl());
    await idle.init();
    const running = fetch(l.url(), { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ query: "{ slow }" }) });
    await started.promise;

    const stopping = l.gracefulStop();
    await waitFor(() => subs.every((s) => s.completed), "subscriptions completed");
    expect(feed.closed).toBe(2);
    expect(subs.every((s) => s.error === undefined)).toBe(true);
    // New operations on an open socket, and new sockets, are refused while the listener drains.
    idle.send({ id: "late", type: "subscribe", payload: { query: "subscription { ticks }" } });
    expect(await idle.next()).toEqual({ id: "late", type: "error", payload: [{ message: "the server is stopping", extensions: { code: "UNAVAILABLE" } }] });
    await expect(openRaw(l.wsUrl())).rejects.toThrow("upgrade refused: 503");
    const refused = await fetch(l.url(), { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ query: "{ ok }" }) });
    expect(refused.status).toBe(503);
    expect(feed.opened).toBe(2);
    slow.resolve();
    const res = await running;
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ data: { slow: "finished" } });
    await stopping;
    expect(l.socketCount).toBe(0);
    expect((await idle.closed).code).toBe(1001);
    await Promise.all(clients.map(async (c) => c.dispose()));
    expect(feed.errors).toEqual([]);
  });

  test("immediateStop ends subscriptions and terminates sockets at once", async () => {
    const feed = new Feed();
    const l = await startGraphql([[feed, "/graphql"]]);
    const raw = await openRaw(l.wsUrl());
    await raw.init();
    raw.send({ id: "1", type: "subscribe", payload: { query: "subscription { ticks }" } });
    await raw.next();
    await l.immediateStop();
    expect((await raw.closed).code).toBe(1006);
    await waitFor(() => feed.closed === 1, "the source closed");
  });
});
