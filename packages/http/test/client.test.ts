import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { setTimeout as delay } from "node:timers/promises";
import { PayloadValidationError } from "@pirouette/core";
import * as http from "@pirouette/http";
import { describe, expect, expectTypeOf, test } from "vitest";
import { z } from "zod";
import { sleep, startListener } from "./helpers.ts";

const Order = z.object({ id: z.string(), quantity: z.number() });

function api(): Record<string, unknown> {
  const orders = new Map<string, { id: string; quantity: number }>([["1", { id: "1", quantity: 2 }]]);
  return {
    resources: {
      "GET /orders/:id": (req: http.Request<{ id: string }>) => orders.get(req.params.id) ?? Promise.reject(new http.HttpError("NOT_FOUND", "no such order")),
      "GET /orders": (req: http.Request) => ({ query: req.query }),
      "POST /orders": (req: http.Request) => ({ id: "2", ...(req.body as object) }),
      "PUT /orders/:id": (req: http.Request<{ id: string }>) => ({ id: req.params.id, replaced: req.body }),
      "PATCH /orders/:id": (req: http.Request<{ id: string }>) => ({ id: req.params.id, patched: req.body }),
      "DELETE /orders/:id": () => undefined,
      "GET /text": () => "plain words",
      "GET /bytes": () => new Uint8Array([9, 8, 7]),
      "GET /slow": async (req: http.Request) => {
        await delay(2000, undefined, { signal: req.signal }); // stops when the client goes away
        return "late";
      },
      "GET /big": () => "z".repeat(200_000),
      "GET /wrong-shape": () => ({ id: 5 }),
      "POST /raw": (req: http.Request) => ({ type: req.headers["content-type"], body: typeof req.body === "string" ? req.body : Array.from(req.body as Uint8Array) }),
    },
  };
}

async function plainServer(handler: Parameters<typeof createServer>[1]): Promise<Server & AsyncDisposable & { url: string }> {
  const server = createServer(handler);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return Object.assign(server, {
    url,
    [Symbol.asyncDispose]: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  });
}

describe("http.Client", () => {
  test("get/post/put/patch/delete with JSON, typed by a schema", async () => {
    await using l = await startListener([[{}, api()]]);
    const client = new http.Client(l.url);
    const one = await client.get("/orders/1", { schema: Order });
    expectTypeOf(one).toEqualTypeOf<{ id: string; quantity: number }>();
    expect(one).toEqual({ id: "1", quantity: 2 });
    expect(await client.post("/orders", { quantity: 5 })).toEqual({ id: "2", quantity: 5 });
    expect(await client.put("/orders/3", { quantity: 1 })).toEqual({ id: "3", replaced: { quantity: 1 } });
    expect(await client.patch("/orders/3", { quantity: 2 })).toEqual({ id: "3", patched: { quantity: 2 } });
    expect(await client.delete("/orders/3")).toBeUndefined();
    expect(await client.get("/orders", { query: { a: 1, b: [true, "x"], skip: undefined } })).toEqual({ query: { a: "1", b: ["true", "x"] } });
    expect(await client.get("/text")).toBe("plain words");
    expect(await client.get("/bytes")).toEqual(new Uint8Array([9, 8, 7]));
    expect(await client.post("/raw", "hello")).toEqual({ type: "text/plain; charset=utf-8", body: "hello" });
    expect(await client.post("/raw", new Uint8Array([1, 2]))).toEqual({ type: "application/octet-stream", body: [1, 2] });
    const res = await client.request("GET", "/orders/9");
    expect([res.status, res.body]).toEqual([404, { error: { code: "NOT_FOUND", message: "no such order" } }]);
  });

  test("failures are typed: HTTP_STATUS, validation, TIMEOUT, RESPONSE_TOO_LARGE, CONNECTION, CLOSED", async () => {
    await using l = await startListener([[{}, api()]]);
    const client = new http.Client(l.url, { maxResponseBytes: 100_000 });
    await expect(client.get("/orders/9")).rejects.toMatchObject({
      name: "HttpError",
      code: "HTTP_STATUS",
      status: 404,
      body: { error: { code: "NOT_FOUND", message: "no such order" } },
      message: "GET /orders/9 answered 404: no such order",
    });
    await expect(client.get("/wrong-shape", { schema: Order })).rejects.toBeInstanceOf(PayloadValidationError);
    await expect(client.get("/slow", { timeoutMs: 100 })).rejects.toMatchObject({ code: "TIMEOUT", status: 0 });
    await expect(client.get("/big")).rejects.toMatchObject({ code: "RESPONSE_TOO_LARGE" });
    const pending = client.get("/slow");
    await sleep(50);
    await client.close();
    await expect(pending).rejects.toMatchObject({ code: "CLOSED" });
    await expect(client.get("/text")).rejects.toMatchObject({ code: "CLOSED" });
    const port = l.port;
    await l.gracefulStop();
    await expect(new http.Client(`http://127.0.0.1:${port}`).get("/x")).rejects.toMatchObject({ code: "CONNECTION" });
    expect(() => new http.Client("ftp://x")).toThrow(/http: or https:/);
  });

  test("a client failure escaping a handler answers 502 without relaying the upstream's status or body", async () => {
    await using upstream = await startListener([[{}, api()]]);
    const downstream = new http.Client(upstream.url);
    const errors: Error[] = [];
    await using l = await startListener([[{ onError: (e: Error) => errors.push(e) }, { resources: { "GET /proxy": () => downstream.get("/orders/9") } }]]);
    const res = await new http.Client(l.url).request("GET", "/proxy");
    expect([res.status, res.body]).toEqual([502, { error: { code: "BAD_GATEWAY", message: "an upstream request failed" } }]);
    expect(errors).toHaveLength(1);
  });

  test("interop: a plain node:http server's JSON errors and an SSE feed with CRLF, comments and retry", async () => {
    await using server = await plainServer((req, res) => {
      if (req.url === "/err") {
        res.writeHead(503, { "content-type": "application/json" });
        res.end('{"message":"maintenance"}');
        return;
      }
      res.writeHead(200, { "content-type": "text/event-stream; charset=utf-8" });
      res.write(": hello\r\nretry: 10\r\n\r\n");
      res.write("event: a\r\ndata: one\r\ndata: two\r\nid: 5\r\n\r\n");
      res.end("data: tail\n\n");
    });
    const client = new http.Client(server.url);
    await expect(client.get("/err")).rejects.toMatchObject({ status: 503, message: "GET /err answered 503: maintenance" });
    expect(await client.events("/feed").toArray()).toEqual([
      { event: "a", data: "one\ntwo", id: "5" },
      { data: "tail" },
    ]);
  });
});
