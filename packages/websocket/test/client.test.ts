import type { AddressInfo } from "node:net";
import { PayloadValidationError, Stream } from "@pirouette/core";
import * as websocket from "@pirouette/websocket";
import { describe, expect, expectTypeOf, test } from "vitest";
import { WebSocketServer, type WebSocket } from "ws";
import { z } from "zod";
import { sleep, waitFor } from "./helpers.ts";

/** A plain ws server (a peer we did not write) on 127.0.0.1:0. */
async function plainServer(
  onConnection: (ws: WebSocket, server: WebSocketServer) => void,
  options: ConstructorParameters<typeof WebSocketServer>[0] = {},
): Promise<WebSocketServer & AsyncDisposable & { url: string }> {
  const wss = new WebSocketServer({ host: "127.0.0.1", port: 0, ...options });
  await new Promise<void>((r) => wss.once("listening", () => r()));
  wss.on("connection", (ws) => {
    ws.on("error", () => undefined);
    onConnection(ws, wss);
  });
  const url = `ws://127.0.0.1:${(wss.address() as AddressInfo).port}`;
  return Object.assign(wss, {
    url,
    [Symbol.asyncDispose]: () =>
      new Promise<void>((r) => {
        for (const c of wss.clients) c.terminate();
        wss.close(() => r());
      }),
  });
}

const echo = (ws: WebSocket): void => {
  ws.on("message", (data, isBinary) => ws.send(data, { binary: isBinary }));
};

describe("websocket.Client against a plain ws server", () => {
  test("write/read text, binary and JSON (typed by a schema); wrong types and timeouts are typed errors", async () => {
    await using server = await plainServer(echo);
    await using client = new websocket.Client(`${server.url}/x`);
    await client.writeTextMessage("hello");
    expect(await client.readTextMessage()).toBe("hello");
    await client.writeBinaryMessage(new Uint8Array([1, 2, 3]));
    expect(await client.readBinaryMessage()).toEqual(new Uint8Array([1, 2, 3]));
    const Point = z.object({ x: z.number(), y: z.number() });
    await client.writeMessage({ x: 1, y: 2 });
    const p = await client.readMessage({ schema: Point });
    expectTypeOf(p).toEqualTypeOf<{ x: number; y: number }>();
    expect(p).toEqual({ x: 1, y: 2 });
    await client.writeMessage({ x: "no" });
    await expect(client.readMessage({ schema: Point })).rejects.toBeInstanceOf(PayloadValidationError);
    await client.writeBinaryMessage(new Uint8Array([0]));
    await expect(client.readTextMessage()).rejects.toMatchObject({ code: "UNEXPECTED_MESSAGE_TYPE" });
    await expect(client.readTextMessage({ timeoutMs: 50 })).rejects.toMatchObject({ code: "TIMEOUT" });
    expect(client.isOpen).toBe(true);
  });

  test("messages() is a Stream: it ends on a normal close, fails on an abnormal one", async () => {
    await using server = await plainServer((ws) => {
      ws.on("message", (d) => {
        const n = Number((d as Buffer).toString());
        for (let i = 0; i < n; i++) ws.send(`m${i}`);
        ws.close(n === 3 ? 1000 : 1011, n === 3 ? "" : "server error");
      });
    });
    const a = new websocket.Client(server.url);
    await a.writeTextMessage("3");
    expect(await a.messages().toArray()).toEqual(["m0", "m1", "m2"]);
    expect(a.lastCloseFrame?.status).toBe(1000);
    const b = new websocket.Client(server.url);
    await b.writeTextMessage("2");
    const s = b.messages();
    expect(await s.next()).toEqual({ value: "m0" });
    expect(await s.next()).toEqual({ value: "m1" });
    expect(await s.next()).toMatchObject({ name: "WebSocketError", code: "CONNECTION", closeCode: 1011 });
  });

  test("reconnects after the connection drops; writes and messages() carry on", async () => {
    const seen: string[] = [];
    let connections = 0;
    await using server = await plainServer((ws) => {
      connections++;
      ws.on("message", (d) => {
        const text = (d as Buffer).toString();
        seen.push(text);
        // The drop (1006) comes once "ack 2" is handed to the kernel: a terminate() right after
        // send() may discard the unflushed ack, and the client would then wait for it forever.
        ws.send(`ack ${text}`, () => {
          if (text === "2") ws.terminate();
        });
      });
    });
    await using client = new websocket.Client(server.url, { reconnect: { initialDelayMs: 10, maxAttempts: 5 } });
    const acks = client.messages();
    for (let i = 1; i <= 4; i++) {
      await client.writeTextMessage(String(i));
      if (i === 2) await waitFor(() => !client.isOpen, "the drop");
      const r = await acks.next();
      expect(r).toEqual({ value: `ack ${i}` });
    }
    expect(seen).toEqual(["1", "2", "3", "4"]);
    expect(connections).toBe(2);
  });

  test("reconnecting gives up after maxAttempts and fails pending reads", async () => {
    const server = await plainServer(() => undefined);
    const client = new websocket.Client(server.url, { reconnect: { initialDelayMs: 5, maxDelayMs: 10, maxAttempts: 2 } });
    await client.connect();
    const reading = client.readTextMessage();
    await server[Symbol.asyncDispose]();
    await expect(reading).rejects.toMatchObject({ code: "CONNECTION", message: expect.stringContaining("gave up after 2") });
    await expect(client.writeTextMessage("x")).rejects.toMatchObject({ code: "CONNECTION" });
  });

  test("handshake failures: refused upgrade (status), nobody listening, bad URL", async () => {
    await using server = await plainServer(() => undefined, {
      verifyClient: (_info: unknown, cb: (ok: boolean, code?: number) => void) => cb(false, 401),
    });
    await expect(new websocket.Client(server.url).connect()).rejects.toMatchObject({ code: "HANDSHAKE", status: 401 });
    const port = (server.address() as AddressInfo).port;
    await server[Symbol.asyncDispose]();
    await expect(new websocket.Client(`ws://127.0.0.1:${port}`).connect()).rejects.toMatchObject({ code: "CONNECTION" });
    expect(() => new websocket.Client("http://x")).toThrow(/ws: or wss:/);
  });

  test("subprotocols and headers reach the server", async () => {
    let headers: Record<string, unknown> = {};
    await using server = await plainServer(() => undefined, {
      handleProtocols: (p: Set<string>) => (p.has("v2") ? "v2" : false),
    });
    server.on("headers", (_h, req) => (headers = req.headers));
    await using client = new websocket.Client(server.url, { subProtocols: ["v1", "v2"], headers: { "x-token": "t" } });
    await client.connect();
    expect(client.negotiatedSubProtocol).toBe("v2");
    expect(headers["x-token"]).toBe("t");
  });

  test("a Sink: stream.pipeTo(client) sends every element, then closes normally", async () => {
    const got: string[] = [];
    let closeCode = 0;
    await using server = await plainServer((ws) => {
      ws.on("message", (d) => got.push((d as Buffer).toString()));
      ws.on("close", (code) => (closeCode = code));
    });
    const client = new websocket.Client(server.url);
    await Stream.from([1, 2, 3])
      .map((n) => ({ n }))
      .pipeTo(client);
    await waitFor(() => closeCode !== 0, "the close");
    expect(got).toEqual(['{"n":1}', '{"n":2}', '{"n":3}']);
    expect(closeCode).toBe(1000);
  });

  test("inbound backpressure: the client stops reading past maxQueuedMessages and loses nothing", async () => {
    const N = 5000;
    let serverBuffered = 0;
    await using server = await plainServer((ws) => {
      const pad = "-".repeat(2048);
      for (let i = 0; i < N; i++) ws.send(`${i}${pad}`);
      setTimeout(() => (serverBuffered = ws.bufferedAmount), 200);
    });
    await using client = new websocket.Client(server.url, { maxQueuedMessages: 10 });
    await client.connect();
    await sleep(300);
    expect(serverBuffered).toBeGreaterThan(0); // the server is held back: the client is not reading
    const all = await client.messages().take(N).toArray();
    expect(all.map((m) => Number.parseInt(m as string, 10))).toEqual(Array.from({ length: N }, (_, i) => i));
  });

  test("close validates the code; closing twice is harmless", async () => {
    await using server = await plainServer(echo);
    const client = new websocket.Client(server.url);
    await client.connect();
    await expect(client.close(1006)).rejects.toMatchObject({ code: "INVALID_ARGUMENT" });
    await client.close(4000, "bye");
    await client.close();
    expect(client.isOpen).toBe(false);
    await expect(client.writeTextMessage("x")).rejects.toMatchObject({ code: "CLOSED" });
  });
});

describe("websocket.Client against websocket.Listener", () => {
  test("our client and our listener: echo, routing, and the listener's 1009 surfaces as MESSAGE_TOO_LARGE", async () => {
    const l = new websocket.Listener(0, { host: "127.0.0.1", maxFrameSize: 1024 });
    await l.attach({ onTextMessage: (t: string) => `echo ${t}` }, "/e");
    await l.start();
    try {
      const c = new websocket.Client(`ws://127.0.0.1:${l.port}/e`);
      await c.writeTextMessage("a");
      expect(await c.readTextMessage()).toBe("echo a");
      await c.writeTextMessage("x".repeat(2000));
      await expect(c.readTextMessage()).rejects.toMatchObject({ code: "MESSAGE_TOO_LARGE", closeCode: 1009 });
    } finally {
      await l.gracefulStop();
    }
  });
});
