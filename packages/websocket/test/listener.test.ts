import { PayloadValidationError, Stream, payload, service, type HandlerContext } from "@pirouette/core";
import * as http from "@pirouette/http";
import * as websocket from "@pirouette/websocket";
import { describe, expect, test } from "vitest";
import { WebSocket } from "ws";
import { z } from "zod";
import { closed, next, open, refusedWith, selfSigned, sleep, take, waitFor } from "./helpers.ts";
import { startWs } from "./helpers.ts";

const Chat = z.object({ text: z.string().min(1), room: z.string() });

describe("websocket.Listener with a plain ws client", () => {
  test("echo text and binary; onOpen first; onClose gets the client's code and reason; caller attributes", async () => {
    const log: string[] = [];
    const svc = {
      onOpen(caller: websocket.Caller) {
        caller.setAttribute("n", 0);
        log.push(`open ${caller.connectionId.length}`);
      },
      onTextMessage(text: string, caller: websocket.Caller) {
        caller.setAttribute("n", (caller.getAttribute("n") as number) + 1);
        return `echo: ${text} #${String(caller.getAttribute("n"))}`;
      },
      onBinaryMessage(data: Uint8Array) {
        return Uint8Array.from(data, (b) => b * 2);
      },
      onClose(frame: websocket.CloseFrame, caller: websocket.Caller) {
        log.push(`close ${frame.status} ${frame.reason} open=${String(caller.isOpen)}`);
      },
    };
    await using l = await startWs([[svc, "/echo"]]);
    const ws = await open(l.url("/echo"));
    ws.send("hi");
    expect(await next(ws)).toBe("echo: hi #1");
    ws.send(Buffer.from([1, 2, 3]));
    expect(await next(ws)).toEqual(Buffer.from([2, 4, 6]));
    ws.send("again");
    expect(await next(ws)).toBe("echo: again #2");
    ws.close(4000, "done here");
    await closed(ws);
    await waitFor(() => log.length === 2, "onClose");
    expect(log).toEqual(["open 36", "close 4000 done here open=false"]);
    expect(l.connectionCount).toBe(0);
  });

  test("onMessage binds JSON with @payload; a binding failure goes to onError and closes with 1003", async () => {
    const errors: Error[] = [];
    class Room {
      @payload(Chat)
      onMessage(msg: z.infer<typeof Chat>, caller: websocket.Caller) {
        return { room: msg.room, said: msg.text, by: caller.connectionId === "" ? "?" : "someone" };
      }
      onError(e: Error) {
        errors.push(e);
      }
    }
    await using l = await startWs([[new Room(), "/room"]]);
    const ws = await open(l.url("/room"));
    ws.send(JSON.stringify({ text: "hello", room: "lobby" }));
    expect(JSON.parse((await next(ws)) as string)).toEqual({ room: "lobby", said: "hello", by: "someone" });
    const done = closed(ws);
    ws.send(JSON.stringify({ text: "", room: "lobby" }));
    expect(await done).toEqual({ code: 1003, reason: "payload binding failed" });
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(PayloadValidationError);
    expect((errors[0] as PayloadValidationError).coordinates).toMatchObject({ path: "/room" });

    const ws2 = await open(l.url("/room"));
    const done2 = closed(ws2);
    ws2.send("not json at all");
    expect((await done2).code).toBe(1003);
    await waitFor(() => errors.length === 2, "onError");
    expect((errors[1] as PayloadValidationError).code).toBe("PAYLOAD_BINDING");
  });

  test("dispatcherKey routes to on<Type>, binding errors to on<Type>Error, the rest to onMessage; lifecycle names are not routable", async () => {
    const Join = z.object({ type: z.literal("join"), name: z.string().min(2) });
    const seen: string[] = [];
    const svc = {
      onJoin(msg: z.infer<typeof Join>, caller: websocket.Caller) {
        caller.setAttribute("name", msg.name);
        return { type: "welcome", name: msg.name };
      },
      onJoinError(err: Error) {
        return { type: "error", detail: err.name };
      },
      onChatMessage(msg: { text: string }, caller: websocket.Caller) {
        return { type: "said", by: caller.getAttribute("name"), text: msg.text };
      },
      onMessage(msg: unknown) {
        seen.push(JSON.stringify(msg));
      },
      onClose() {
        seen.push("closed");
      },
    };
    await using l = await startWs([[svc, { name: "/chat", dispatcherKey: "type", payload: { onJoin: Join } }]]);
    const ws = await open(l.url("/chat"));
    const replies = take(ws, 3);
    ws.send(JSON.stringify({ type: "join", name: "x" })); // too short → onJoinError, stays open
    ws.send(JSON.stringify({ type: "join", name: "ada" }));
    ws.send(JSON.stringify({ type: "chat-message", text: "hi" }));
    ws.send(JSON.stringify({ type: "close" })); // not routed to onClose
    ws.send(JSON.stringify({ type: "unknown" }));
    expect((await replies).map((r) => JSON.parse(r as string))).toEqual([
      { type: "error", detail: "PayloadValidationError" },
      { type: "welcome", name: "ada" },
      { type: "said", by: "ada", text: "hi" },
    ]);
    await waitFor(() => seen.length === 2, "onMessage");
    expect(seen).toEqual(['{"type":"close"}', '{"type":"unknown"}']);
    expect(ws.readyState).toBe(WebSocket.OPEN);
    ws.close();
    await waitFor(() => seen.includes("closed"), "onClose");
  });

  test("returned values: JSON, a Stream (one message per element), a CloseFrame", async () => {
    const svc = {
      onTextMessage(text: string) {
        if (text === "obj") return { a: 1 };
        if (text === "stream") return Stream.of<unknown>("one", new Uint8Array([7]), { three: 3 });
        if (text === "bye") return new websocket.CloseFrame(4001, "see you");
        return undefined;
      },
    };
    await using l = await startWs([[svc, "/r"]]);
    const ws = await open(l.url("/r"));
    ws.send("obj");
    expect(await next(ws)).toBe('{"a":1}');
    ws.send("nothing");
    ws.send("stream");
    expect(await take(ws, 3)).toEqual(["one", Buffer.from([7]), '{"three":3}']);
    const done = closed(ws);
    ws.send("bye");
    expect(await done).toEqual({ code: 4001, reason: "see you" });
  });

  test("per-connection order is kept across slow handlers, while pings are answered and other connections proceed", async () => {
    const svc = {
      async onTextMessage(text: string) {
        const n = Number(text);
        await sleep(n === 0 ? 300 : Math.random() * 5);
        return text;
      },
    };
    await using l = await startWs([[svc, "/order"]]);
    const a = await open(l.url("/order"));
    const b = await open(l.url("/order"));
    const replies = take(a, 30);
    for (let i = 0; i < 30; i++) a.send(String(i));
    // While message 0 is being handled for 300 ms, a ping is answered and b is served.
    const pong = new Promise<number>((r) => a.once("pong", () => r(Date.now())));
    const t0 = Date.now();
    a.ping();
    b.send("7");
    expect(await next(b)).toBe("7");
    const pongAt = await pong;
    const got = await replies;
    const firstReplyAt = Date.now();
    expect(got).toEqual(Array.from({ length: 30 }, (_, i) => String(i)));
    expect(pongAt - t0).toBeLessThan(firstReplyAt - t0);
  });

  test("flow control: a burst far beyond maxQueuedMessages is paused and resumed, and every message is handled in order", async () => {
    const got: number[] = [];
    const svc = {
      async onTextMessage(text: string) {
        if (got.length % 100 === 0) await sleep(1);
        got.push(Number(text));
      },
    };
    await using l = await startWs([[svc, { name: "/burst", maxQueuedMessages: 8 }]]);
    const ws = await open(l.url("/burst"));
    const N = 5000;
    for (let i = 0; i < N; i++) ws.send(String(i));
    await waitFor(() => got.length === N, "every message", 30_000);
    expect(got).toEqual(Array.from({ length: N }, (_, i) => i));
  });

  test("a streamed reply does not hold back the connection's next messages; closing the connection closes the stream", async () => {
    let streamClosed = false;
    const svc = {
      onTextMessage(text: string) {
        if (text !== "ticks") return `echo ${text}`;
        return Stream.from(
          async function* () {
            for (let i = 0; ; i++) {
              await sleep(10);
              yield `tick ${i}`;
            }
          },
          { close: () => void (streamClosed = true) },
        );
      },
    };
    await using l = await startWs([[svc, "/t"]]);
    const ws = await open(l.url("/t"));
    const got: string[] = [];
    ws.on("message", (d: Buffer) => got.push(d.toString()));
    ws.send("ticks");
    await waitFor(() => got.length >= 3, "ticks");
    ws.send("x");
    await waitFor(() => got.includes("echo x"), "the echo while ticks flow");
    ws.close();
    await waitFor(() => streamClosed, "the stream to be closed");
  });

  test("onPing turns off the automatic pong; onPong is called", async () => {
    const events: string[] = [];
    const svc = {
      onPing(data: Uint8Array, caller: websocket.Caller) {
        events.push(`ping ${Buffer.from(data).toString()}`);
        return caller.pong(Buffer.from("custom"));
      },
      onPong(data: Uint8Array) {
        events.push(`pong ${Buffer.from(data).toString()}`);
      },
      onTextMessage(_t: string, caller: websocket.Caller) {
        return caller.ping(Buffer.from("from-server"));
      },
    };
    await using l = await startWs([[svc, "/p"]]);
    const ws = await open(l.url("/p"));
    const pong = new Promise<string>((r) => ws.once("pong", (d: Buffer) => r(d.toString())));
    ws.ping(Buffer.from("hello"));
    expect(await pong).toBe("custom");
    ws.send("ping me");
    await waitFor(() => events.includes("pong from-server"), "onPong");
    expect(events).toEqual(["ping hello", "pong from-server"]);
  });

  test("idle timeout: onIdleTimeout is called; without it the connection is closed with 1001", async () => {
    let idle = 0;
    await using l = await startWs([
      [{ onIdleTimeout: () => void idle++, onTextMessage: () => undefined }, { name: "/idle", idleTimeoutMs: 100 }],
      [{ onTextMessage: () => undefined }, { name: "/idle-close", idleTimeoutMs: 100 }],
    ]);
    const a = await open(l.url("/idle"));
    await waitFor(() => idle >= 2, "two idle timeouts");
    expect(a.readyState).toBe(WebSocket.OPEN);
    const b = await open(l.url("/idle-close"));
    expect(await closed(b)).toEqual({ code: 1001, reason: "idle timeout" });
    a.close();
  });

  test("upgrade: auth hook, onUpgrade with a per-connection service, refusals with a status, subprotocols, unknown paths, plain GET", async () => {
    class Conn implements websocket.Service {
      readonly name: string;
      constructor(name: string) {
        this.name = name;
      }
      onTextMessage(text: string, caller: websocket.Caller) {
        return `${this.name} (${caller.negotiatedSubProtocol ?? "-"}): ${text}`;
      }
    }
    const upgrade = {
      onUpgrade(req: websocket.UpgradeRequest) {
        const name = req.query.get("name");
        if (name === "mallory") throw new websocket.WebSocketError("UPGRADE_REFUSED", "not you", { status: 403 });
        if (name === "bug") throw new Error("oops");
        return new Conn(name ?? "anon");
      },
    };
    await using l = await startWs([
      [
        upgrade,
        {
          name: "/chat",
          subProtocols: ["chat.v2", "chat.v1"],
          auth: (req: websocket.UpgradeRequest) => req.headers["authorization"] === "Bearer ok",
        },
      ],
    ]);
    const auth = { headers: { authorization: "Bearer ok" } };
    const ws = await open(l.url("/chat?name=ada"), ["x", "chat.v1", "chat.v2"], auth);
    expect(ws.protocol).toBe("chat.v2");
    ws.send("hi");
    expect(await next(ws)).toBe("ada (chat.v2): hi");
    ws.close();
    expect(await refusedWith(l.url("/chat?name=ada"))).toBe(401);
    expect(await refusedWith(l.url("/chat?name=mallory"), [], auth)).toBe(403);
    expect(await refusedWith(l.url("/chat?name=bug"), [], auth)).toBe(500);
    expect(await refusedWith(l.url("/nowhere"))).toBe(404);
    const res = await fetch(`http://127.0.0.1:${l.port}/chat`);
    expect(res.status).toBe(426);
    await res.arrayBuffer();
  });

  test("sharing an http.Listener: resources and WebSocket on one port", async () => {
    const api = new http.Listener(0, { host: "127.0.0.1" });
    await api.attach({}, { resources: { "GET /health": () => ({ ok: true }) } });
    const ws = new websocket.Listener(api, { closeTimeoutMs: 1000 });
    await ws.attach({ onTextMessage: (t: string) => t.toUpperCase() }, "/shout");
    await api.start();
    await ws.start();
    try {
      expect(ws.port).toBe(api.port);
      expect(await (await fetch(`http://127.0.0.1:${api.port}/health`)).json()).toEqual({ ok: true });
      const c = await open(`ws://127.0.0.1:${api.port}/shout`);
      c.send("hey");
      expect(await next(c)).toBe("HEY");
      const done = closed(c);
      await ws.gracefulStop();
      expect((await done).code).toBe(1001);
      expect(await (await fetch(`http://127.0.0.1:${api.port}/health`)).json()).toEqual({ ok: true });
    } finally {
      await ws.gracefulStop();
      await api.gracefulStop();
    }
  });

  test("gracefulStop lets a running handler finish, then closes with 1001; immediateStop terminates", async () => {
    let finished = false;
    const svc = {
      async onTextMessage() {
        await sleep(200);
        finished = true;
        return "late reply";
      },
    };
    const l = await startWs([[svc, "/g"]]);
    const ws = await open(l.url("/g"));
    const got: string[] = [];
    ws.on("message", (d: Buffer) => got.push(d.toString()));
    ws.send("go");
    await sleep(50);
    const done = closed(ws);
    await l.gracefulStop();
    expect(finished).toBe(true);
    expect(got).toEqual(["late reply"]);
    expect((await done).code).toBe(1001);

    const l2 = await startWs([[{ onTextMessage: () => undefined }, "/i"]]);
    const ws2 = await open(l2.url("/i"));
    const done2 = closed(ws2);
    await l2.immediateStop();
    expect((await done2).code).toBe(1006);
  });

  test("decorators: @service with @ServiceConfig and @payload; a standard decorator call works too", async () => {
    const listener = new websocket.Listener(0, { host: "127.0.0.1" });
    @service(listener)
    @websocket.ServiceConfig({ path: "/deco", dispatcherKey: "kind" })
    class Deco {
      @payload(z.object({ kind: z.literal("add"), a: z.number(), b: z.number() }))
      onAdd(msg: { a: number; b: number }, _caller: websocket.Caller, ctx: HandlerContext) {
        return { sum: msg.a + msg.b, path: ctx.coordinates["path"] };
      }
    }
    void Deco;
    await listener.start();
    try {
      const ws = await open(`ws://127.0.0.1:${listener.port}/deco`);
      ws.send(JSON.stringify({ kind: "add", a: 2, b: 3 }));
      expect(JSON.parse((await next(ws)) as string)).toEqual({ sum: 5, path: "/deco" });
    } finally {
      await listener.gracefulStop();
    }
    // Standard decorators: `@websocket.ServiceConfig(...)` receives (class, context).
    class Std {
      onTextMessage() {
        return "std";
      }
    }
    websocket.ServiceConfig({ path: "/std" })(Std, { kind: "class", name: "Std", addInitializer: () => undefined } as unknown as ClassDecoratorContext<typeof Std>);
    await using l2 = await startWs([[new Std(), {}]]);
    const ws2 = await open(l2.url("/std"));
    ws2.send("x");
    expect(await next(ws2)).toBe("std");
  });

  test("TLS: wss with our client trusting the listener's certificate", async () => {
    const { key, cert } = await selfSigned();
    await using l = await startWs([[{ onTextMessage: (t: string, c: websocket.Caller) => `${t} secure=${String(c.isSecure)}` }, "/s"]], { tls: { key, cert } });
    const client = new websocket.Client(`wss://127.0.0.1:${l.port}/s`, { tls: { ca: cert } });
    await client.writeTextMessage("hi");
    expect(await client.readTextMessage()).toBe("hi secure=true");
    await client.close();
    await expect(new websocket.Client(`wss://127.0.0.1:${l.port}/s`).connect()).rejects.toMatchObject({ code: "CONNECTION" });
  });

  test("attach validates services and paths", async () => {
    const l = new websocket.Listener(0);
    await expect(l.attach({ onTextMesage() {} }, "/a")).rejects.toMatchObject({ code: "WEBSOCKET_UNKNOWN_METHOD", name: "WebSocketError" });
    await expect(l.attach({ onHeartbeat() {} }, "/a")).rejects.toMatchObject({ code: "WEBSOCKET_UNKNOWN_METHOD" });
    await l.attach({ onHeartbeat() {} }, { name: "/a", dispatcherKey: "event" });
    await expect(l.attach({ onTextMessage() {} }, "/a")).rejects.toMatchObject({ code: "INVALID_ARGUMENT" });
  });
});
