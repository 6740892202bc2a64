import { service, type HandlerContext } from "@pirouette/core";
import * as http from "@pirouette/http";
import { describe, expect, test } from "vitest";
import { z } from "zod";
import { raw, startListener } from "./helpers.ts";

const Order = z.object({ sku: z.string().min(1), quantity: z.number().int().positive() });
type Order = z.infer<typeof Order>;

class Orders {
  readonly orders = new Map<string, Order & { id: string }>();
  readonly errors: Error[] = [];

  @http.get("/orders/:id")
  get(req: http.Request<{ id: string }>) {
    const o = this.orders.get(req.params.id);
    if (o === undefined) throw new http.HttpError("NOT_FOUND", `no order ${req.params.id}`);
    return o;
  }

  @http.post("/orders", { body: Order })
  create(req: http.Request<http.PathParams<"/orders">, http.Query, Order>) {
    const id = String(this.orders.size + 1);
    const o = { id, ...req.body };
    this.orders.set(id, o);
    return o;
  }

  @http.get("/search", { query: z.object({ sku: z.string(), limit: z.coerce.number().int().max(50).default(10) }) })
  search(req: http.Request<http.PathParams<"/search">, { sku: string; limit: number }>) {
    return { sku: req.query.sku, limit: req.query.limit };
  }

  @http.del("/orders/:id")
  remove(req: http.Request<{ id: string }>) {
    this.orders.delete(req.params.id);
  }

  @http.get("/boom")
  boom(): never {
    throw new Error("secret database detail");
  }

  @http.get("/teapot")
  teapot() {
    return new http.Response("short and stout", { status: 418, headers: { "X-Kind": "teapot" } });
  }

  @http.get("/bytes")
  bytes() {
    return new Uint8Array([1, 2, 3]);
  }

  @http.post("/echo-text")
  echoText(req: http.Request) {
    return { type: typeof req.body, body: req.body };
  }

  @http.get("/caller")
  who(_req: http.Request, caller: http.Caller, ctx: HandlerContext) {
    caller.setHeader("cache-control", "no-store");
    return { local: caller.localPort, secure: caller.isSecure, attempt: ctx.attempt, route: ctx.coordinates["route"] };
  }

  @http.post("/accept")
  accept(_req: http.Request, caller: http.Caller) {
    caller.respond({ accepted: true }, { status: 202 });
    return { ignored: true };
  }

  @http.get("/files/*")
  file(req: http.Request<http.PathParams<"/files/*">>) {
    return req.params["*"];
  }

  @http.get("/bigint")
  bigint() {
    return { n: 10n };
  }

  onError(error: Error) {
    this.errors.push(error);
  }
}

describe("http resources", () => {
  test("decorated resources: params, JSON body bound with a schema, 201 for POST, 204, 404 via HttpError", async () => {
    const svc = new Orders();
    await using l = await startListener([[svc, "/api"]]);
    const created = await raw(`${l.url}/api/orders`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ sku: "tutu", quantity: 2 }),
    });
    expect(created.status).toBe(201);
    expect(created.headers["content-type"]).toBe("application/json");
    expect(JSON.parse(created.body)).toEqual({ id: "1", sku: "tutu", quantity: 2 });

    const got = await raw(`${l.url}/api/orders/1`);
    expect(got.status).toBe(200);
    expect(JSON.parse(got.body)).toEqual({ id: "1", sku: "tutu", quantity: 2 });

    const missing = await raw(`${l.url}/api/orders/9`);
    expect(missing.status).toBe(404);
    expect(JSON.parse(missing.body)).toEqual({ error: { code: "NOT_FOUND", message: "no order 9" } });

    const del = await raw(`${l.url}/api/orders/1`, { method: "DELETE" });
    expect(del.status).toBe(204);
    expect(del.body).toBe("");
    expect(svc.errors).toEqual([]); // 4xx HttpErrors thrown on purpose are not errors
  });

  test("binding failures answer 400 with the issues and reach onError", async () => {
    const svc = new Orders();
    await using l = await startListener([[svc, "/api"]]);
    const bad = await raw(`${l.url}/api/orders`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ sku: "", quantity: 0 }),
    });
    expect(bad.status).toBe(400);
    const body = JSON.parse(bad.body) as { error: { code: string; issues: { path: string[] }[] } };
    expect(body.error.code).toBe("PAYLOAD_VALIDATION");
    expect(body.error.issues.map((i) => i.path.join("."))).toEqual(["sku", "quantity"]);

    const notJson = await raw(`${l.url}/api/orders`, { method: "POST", headers: { "content-type": "application/json" }, body: "{oops" });
    expect(notJson.status).toBe(400);
    expect((JSON.parse(notJson.body) as { error: { code: string } }).error.code).toBe("PAYLOAD_BINDING");

    const polluted = await raw(`${l.url}/api/orders`, { method: "POST", headers: { "content-type": "application/json" }, body: '{"__proto__":{"x":1},"sku":"a","quantity":1}' });
    expect(polluted.status).toBe(400);
    expect(({} as Record<string, unknown>)["x"]).toBeUndefined();

    expect(svc.errors.map((e) => (e as http.HttpError).code)).toEqual(["PAYLOAD_VALIDATION", "PAYLOAD_BINDING", "PAYLOAD_BINDING"]);
    expect((svc.errors[0] as http.HttpError).coordinates).toMatchObject({ method: "POST", path: "/api/orders", route: "/api/orders" });
  });

  test("query binding with coercion and defaults; repeated keys; a __proto__ key is harmless", async () => {
    await using l = await startListener([[new Orders(), "/api"]]);
    expect(JSON.parse((await raw(`${l.url}/api/search?sku=tutu`)).body)).toEqual({ sku: "tutu", limit: 10 });
    expect(JSON.parse((await raw(`${l.url}/api/search?sku=tutu&limit=5`)).body)).toEqual({ sku: "tutu", limit: 5 });
    expect((await raw(`${l.url}/api/search?sku=tutu&limit=500`)).status).toBe(400);
    const seen: unknown[] = [];
    await using l2 = await startListener([[{}, { resources: { "GET /q": (req: http.Request) => (seen.push(req.query), "ok") } }]]);
    await raw(`${l2.url}/q?a=1&b=2&b=3&__proto__=x`);
    expect(seen[0]).toEqual({ a: "1", b: ["2", "3"], ["__proto__"]: "x" });
    expect(Object.getPrototypeOf(seen[0])).toBeNull();
  });

  test("unexpected errors answer 500 without leaking, and go to onError", async () => {
    const svc = new Orders();
    await using l = await startListener([[svc, "/api"]]);
    const res = await raw(`${l.url}/api/boom`);
    expect(res.status).toBe(500);
    expect(res.body).not.toContain("secret");
    expect(JSON.parse(res.body)).toEqual({ error: { code: "INTERNAL", message: "internal server error" } });
    expect(svc.errors.map((e) => e.message)).toEqual(["secret database detail"]);
    const big = await raw(`${l.url}/api/bigint`);
    expect(big.status).toBe(500);
  });

  test("Response, bytes, text bodies, wildcard params, caller headers and respond()", async () => {
    await using l = await startListener([[new Orders(), "/api"]]);
    const tea = await raw(`${l.url}/api/teapot`);
    expect([tea.status, tea.body, tea.headers["x-kind"], tea.headers["content-type"]]).toEqual([418, "short and stout", "teapot", "text/plain; charset=utf-8"]);
    const b = await raw(`${l.url}/api/bytes`);
    expect([b.headers["content-type"], Buffer.from(b.body, "latin1")]).toEqual(["application/octet-stream", Buffer.from([1, 2, 3])]);
    const t = await raw(`${l.url}/api/echo-text`, { method: "POST", headers: { "content-type": "text/plain" }, body: "héllo" });
    expect(JSON.parse(t.body)).toEqual({ type: "string", body: "héllo" });
    const f = await raw(`${l.url}/api/echo-text`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: "a=1&b=2" });
    expect(JSON.parse(f.body)).toEqual({ type: "object", body: { a: "1", b: "2" } });
    const c = await raw(`${l.url}/api/caller`);
    expect(c.headers["cache-control"]).toBe("no-store");
    expect(JSON.parse(c.body)).toEqual({ local: l.port, secure: false, attempt: 1, route: "/api/caller" });
    const a = await raw(`${l.url}/api/accept`, { method: "POST" });
    expect([a.status, JSON.parse(a.body)]).toEqual([202, { accepted: true }]);
    expect((await raw(`${l.url}/api/files/a/b.txt`)).body).toBe("a/b.txt");
  });

  test("404, 405 with Allow, HEAD answered by GET, trailing slashes", async () => {
    await using l = await startListener([[new Orders(), "/api"]]);
    expect((await raw(`${l.url}/nope`)).status).toBe(404);
    const m = await raw(`${l.url}/api/search?sku=a`, { method: "PUT" });
    expect(m.status).toBe(405);
    expect(m.headers["allow"]).toBe("GET, HEAD");
    const h = await raw(`${l.url}/api/search?sku=a`, { method: "HEAD" });
    expect([h.status, h.body]).toEqual([200, ""]);
    expect((await raw(`${l.url}/api/search/?sku=a`)).status).toBe(200);
  });

  test("decorator-free resource map: functions, method names, typed definitions; base path from the attach name array", async () => {
    const svc = {
      hello(req: http.Request<{ name: string }>) {
        return `hello ${req.params.name}`;
      },
    };
    await using l = await startListener([
      [
        svc,
        {
          name: ["v1", "greet"],
          resources: {
            "GET /hello/:name": "hello",
            "GET /ping": () => "pong",
            "POST /orders": http.resource({ body: Order }, (req) => ({ total: req.body.quantity * 2 })),
          },
        },
      ],
    ]);
    expect((await raw(`${l.url}/v1/greet/hello/ada`)).body).toBe("hello ada");
    expect((await raw(`${l.url}/v1/greet/ping`)).body).toBe("pong");
    const r = await raw(`${l.url}/v1/greet/orders`, { method: "POST", headers: { "content-type": "application/json" }, body: '{"sku":"x","quantity":4}' });
    expect(JSON.parse(r.body)).toEqual({ total: 8 });
  });

  test("@service + @ServiceConfig attach a class when it is declared", async () => {
    const listener = new http.Listener(0, { host: "127.0.0.1" });
    @service(listener)
    @http.ServiceConfig({ basePath: "/cfg" })
    class Cfg {
      @http.get("/x")
      x() {
        return { ok: true };
      }
    }
    void Cfg;
    await listener.start();
    try {
      expect(JSON.parse((await raw(`http://127.0.0.1:${listener.port}/cfg/x`)).body)).toEqual({ ok: true });
    } finally {
      await listener.gracefulStop();
    }
  });

  test("standard (TC39) decorator calls record the same resources", async () => {
    class Std {
      hello(req: http.Request<{ n: string }>) {
        return `std ${req.params.n}`;
      }
    }
    // What TypeScript emits for `@http.get("/std/:n") hello(...)` without experimentalDecorators.
    const context = { kind: "method", name: "hello", static: false, private: false } as unknown as ClassMethodDecoratorContext;
    http.get("/std/:n")(Std.prototype.hello, context);
    await using l = await startListener([[new Std(), "/"]]);
    expect((await raw(`${l.url}/std/7`)).body).toBe("std 7");
  });

  test("attach rejects unknown on* methods, route conflicts and unknown method names", async () => {
    const l = new http.Listener(0, { host: "127.0.0.1" });
    await expect(l.attach({ onErorr() {} })).rejects.toMatchObject({ code: "HTTP_UNKNOWN_METHOD", name: "HttpError" });
    await l.attach({}, { resources: { "GET /a": () => 1 } });
    await expect(l.attach({}, { resources: { "GET /a": () => 2 } })).rejects.toMatchObject({ code: "ROUTE" });
    await expect(l.attach({}, { resources: { "GET /b": "missing" } })).rejects.toMatchObject({ code: "ROUTE" });
    await expect(l.attach({}, { resources: { "nonsense": () => 1 } })).rejects.toMatchObject({ code: "ROUTE" });
    await l.start();
    expect((await raw(`http://127.0.0.1:${l.port}/a`)).body).toBe("1");
    await l.gracefulStop();
  });

  test("attach and detach on a running listener", async () => {
    await using l = await startListener([]);
    const svc = {};
    expect((await raw(`${l.url}/late`)).status).toBe(404);
    await l.attach(svc, { resources: { "GET /late": () => "here" } });
    expect((await raw(`${l.url}/late`)).body).toBe("here");
    await l.detach(svc);
    expect((await raw(`${l.url}/late`)).status).toBe(404);
  });

  test("a listener that cannot listen fails to start with LISTEN", async () => {
    await using l = await startListener([]);
    const other = new http.Listener(l.port, { host: "127.0.0.1" });
    await expect(other.start()).rejects.toMatchObject({ code: "LISTEN" });
  });

  test("graceful stop lets a running handler finish", async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const l = await startListener([[{}, { resources: { "GET /slow": async () => (await gate, "done") } }]]);
    const pending = raw(`${l.url}/slow`);
    await new Promise((r) => setTimeout(r, 50));
    const stopping = l.gracefulStop();
    setTimeout(release, 50);
    expect((await pending).body).toBe("done");
    await stopping;
    expect(l.state).toBe("stopped");
  });
});
