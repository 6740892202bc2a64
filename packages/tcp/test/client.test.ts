import net from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { Stream, type Sink } from "@pirouette/core";
import { afterEach, describe, expect, test } from "vitest";
import * as tcp from "../src/index.ts";
import { waitFor } from "./helpers.ts";

const cleanups: (() => PromiseLike<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A plain node:net server (not our listener) running `onSocket` for each connection. */
async function rawServer(onSocket: (s: net.Socket) => void): Promise<{ port: number; sockets: net.Socket[] }> {
  const sockets: net.Socket[] = [];
  const server = net.createServer((s) => {
    sockets.push(s);
    s.on("error", () => undefined);
    onSocket(s);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  cleanups.push(async () => {
    for (const s of sockets) s.destroy();
    await new Promise((r) => server.close(r));
  });
  return { port: (server.address() as net.AddressInfo).port, sockets };
}

function client(port: number, options: tcp.ClientOptions = {}): tcp.Client {
  const c = new tcp.Client("127.0.0.1", port, options);
  cleanups.push(() => c.close());
  return c;
}

describe("tcp.Client", () => {
  test("writeBytes / readBytes against an echo server; addresses known once connected", async () => {
    const { port } = await rawServer((s) => s.pipe(s));
    const c = client(port);
    expect(c.localPort).toBeUndefined();
    await c.connect();
    expect(c.remotePort).toBe(port);
    expect(c.remoteHost).toBe("127.0.0.1");
    expect(c.localPort).toBeGreaterThan(0);
    await c.writeBytes("ping");
    expect((await c.readBytes()).toString()).toBe("ping");
    await c.writeBytes(new Uint8Array([1, 2, 3]));
    expect([...(await c.readBytes())]).toEqual([1, 2, 3]);
  });

  test("connecting lazily on first write; framed reads across arbitrary server writes", async () => {
    const { port } = await rawServer((s) => {
      s.write("al");
      setTimeout(() => s.write("pha\nbe"), 20);
      setTimeout(() => s.write("ta\r\ngamma\n"), 40);
    });
    const c = client(port, { framing: "line" });
    const lines = await c
      .stream()
      .map((b) => b.toString())
      .take(3)
      .toArray();
    expect(lines).toEqual(["alpha", "beta", "gamma"]);
    expect(c.isClosed).toBe(true); // the stream owned the connection
  });

  test("readBytes timing out loses nothing: the next call gets the frame", async () => {
    const { port, sockets } = await rawServer(() => undefined);
    const c = client(port, { framing: "length-prefixed", timeoutMs: 50 });
    await c.connect();
    await expect(c.readBytes()).rejects.toMatchObject({ name: "TcpError", code: "TIMEOUT" });
    await waitFor(() => sockets.length === 1);
    sockets[0]!.write(Buffer.from([0, 0, 0, 2, 104, 105]));
    expect((await c.readBytes(1000)).toString()).toBe("hi");
  });

  test("the peer closing: readBytes fails with CLOSED, the stream ends", async () => {
    const { port } = await rawServer((s) => s.end("bye"));
    const c = client(port);
    expect((await c.readBytes()).toString()).toBe("bye");
    await expect(c.readBytes()).rejects.toMatchObject({ code: "CLOSED" });
    await waitFor(() => c.isClosed);
    await expect(c.writeBytes("x")).rejects.toMatchObject({ code: "CLOSED" });
  });

  test("connection refused is CONNECTION with Node's error as cause", async () => {
    const srv = net.createServer();
    await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
    const port = (srv.address() as net.AddressInfo).port;
    await new Promise((r) => srv.close(r));
    const c = new tcp.Client("127.0.0.1", port);
    const err = await c.connect().catch((e: unknown) => e);
    expect(err).toMatchObject({ name: "TcpError", code: "CONNECTION" });
    expect(((err as Error).cause as NodeJS.ErrnoException).code).toBe("ECONNREFUSED");
    // the stream of a failed client fails too
    const r = await c.stream().next();
    expect(r).toMatchObject({ code: "CONNECTION" });
    await c.close();
  });

  test("connect timeout: a server that never finishes the TLS handshake", async () => {
    const { port } = await rawServer(() => undefined); // speaks no TLS
    const c = new tcp.Client("127.0.0.1", port, { secureSocket: {}, connectTimeoutMs: 100 });
    await expect(c.connect()).rejects.toMatchObject({ code: "TIMEOUT" });
    expect(c.isClosed).toBe(true);
  });

  test("a frame over maxFrameSize from the server fails the stream with TCP_FRAME_TOO_LARGE", async () => {
    const { port } = await rawServer((s) => s.write(Buffer.from([0, 0, 0, 1, 65, 0, 1, 0, 0])));
    const c = client(port, { framing: "length-prefixed", maxFrameSize: 1000 });
    expect((await c.readBytes()).toString()).toBe("A");
    await expect(c.readBytes()).rejects.toMatchObject({ code: "TCP_FRAME_TOO_LARGE" });
  });

  test("a client is a Sink: pipeTo writes a stream (chunks corked), then closes the client", async () => {
    const got: Buffer[] = [];
    const done = new Promise<void>((resolve) => {
      void rawServer((s) => {
        s.on("data", (d: Buffer) => got.push(d));
        s.on("end", () => resolve());
      }).then(({ port }) => {
        const c = client(port, { framing: "line" });
        const sink: Sink<string> = c;
        void Stream.from(Array.from({ length: 1000 }, (_, i) => `line ${i}`)).pipeTo(sink);
      });
    });
    await done;
    const lines = Buffer.concat(got).toString().split("\n");
    expect(lines).toHaveLength(1001);
    expect(lines[999]).toBe("line 999");
    expect(lines[1000]).toBe("");
  });

  test("writeBytes waits for drain when the peer does not read (bounded by writeTimeoutMs)", async () => {
    const { port } = await rawServer((s) => s.pause());
    const c = client(port, { writeTimeoutMs: 300 });
    await c.connect();
    const block = Buffer.alloc(1024 * 1024);
    const t0 = Date.now();
    let err: unknown;
    for (let i = 0; i < 512 && err === undefined; i++) {
      await c.writeBytes(block).catch((e: unknown) => (err = e));
    }
    expect(err).toMatchObject({ code: "TIMEOUT" });
    expect(Date.now() - t0).toBeLessThan(10_000);
  });

  test("writeMany with one bad frame writes nothing; small writes of one tick arrive whole and in order", async () => {
    const got: Buffer[] = [];
    const { port } = await rawServer((s) => s.on("data", (c: Buffer) => got.push(c)));
    const c = client(port, { framing: "line", maxFrameSize: 10 });
    await expect(c.writeMany(["ok", "far too long for the cap"])).rejects.toMatchObject({ code: "TCP_FRAME_TOO_LARGE" });
    await expect(c.writeMany(["ok", "a\nb"])).rejects.toMatchObject({ code: "INVALID_ARGUMENT" });
    const lines = Array.from({ length: 1000 }, (_, i) => `l${i}`);
    await Promise.all(lines.map((l) => c.writeBytes(l)));
    await c.writeMany(["x", "y"]);
    const expected = [...lines, "x", "y"].join("\n") + "\n";
    await waitFor(() => Buffer.concat(got).length >= expected.length);
    expect(Buffer.concat(got).toString()).toBe(expected);
  });

  test("abort() right after a write still sends what was written", async () => {
    const got: Buffer[] = [];
    let closed = false;
    const { port } = await rawServer((s) => {
      s.on("data", (c: Buffer) => got.push(c));
      s.on("close", () => (closed = true));
    });
    const c = client(port);
    await c.connect();
    await c.writeBytes("last words");
    c.abort();
    await waitFor(() => closed);
    expect(Buffer.concat(got).toString()).toBe("last words");
  });

  test("invalid arguments", async () => {
    expect(() => new tcp.Client("127.0.0.1", 0)).toThrow(expect.objectContaining({ code: "INVALID_ARGUMENT" }));
    expect(() => new tcp.Client("127.0.0.1", 80, { framing: "nope" as never })).toThrow(expect.objectContaining({ code: "INVALID_ARGUMENT" }));
    const { port } = await rawServer(() => undefined);
    const c = client(port, { framing: "line" });
    await expect(c.writeBytes("a\nb")).rejects.toMatchObject({ code: "INVALID_ARGUMENT" });
    await expect(c.writeBytes(42 as never)).rejects.toMatchObject({ code: "INVALID_ARGUMENT" });
  });

  test("close() is idempotent and a closed client refuses to connect", async () => {
    const { port } = await rawServer((s) => s.pipe(s));
    const c = new tcp.Client("127.0.0.1", port);
    await c.writeBytes("x");
    await Promise.all([c.close(), c.close()]);
    expect(c.isClosed).toBe(true);
    await expect(c.writeBytes("y")).rejects.toMatchObject({ code: "CLOSED" });
    const never = new tcp.Client("127.0.0.1", port);
    await never.close();
    await expect(never.connect()).rejects.toMatchObject({ code: "CLOSED" });
  });
});

describe("tcp.Client with tcp.Listener", () => {
  test("length-prefixed request/response, many frames in flight, stream of replies", async () => {
    const listener = new tcp.Listener(0, { localHost: "127.0.0.1", framing: "length-prefixed" });
    await listener.attach({ onBytes: (f) => Buffer.concat([Buffer.from(">"), f]) });
    await listener.start();
    cleanups.push(() => listener.gracefulStop());
    const c = client(listener.port, { framing: "length-prefixed" });
    const n = 5000;
    const writing = Stream.from(Array.from({ length: n }, (_, i) => `m${i}`)).pipeTo({ write: (v) => c.writeBytes(v), writeMany: (v) => c.writeMany(v), close: () => undefined });
    const replies = await c
      .stream()
      .take(n)
      .map((b) => b.toString())
      .toArray();
    await writing;
    expect(replies[0]).toBe(">m0");
    expect(replies[n - 1]).toBe(`>m${n - 1}`);
    expect(new Set(replies).size).toBe(n);
  });

  test("a listener's gracefulStop ends the client's stream", async () => {
    const listener = new tcp.Listener(0, { localHost: "127.0.0.1", framing: "line" });
    await listener.attach({ onBytes: (l) => l });
    await listener.start();
    const c = client(listener.port, { framing: "line" });
    await c.writeBytes("one");
    expect((await c.readBytes()).toString()).toBe("one");
    const rest = c.stream().toArray();
    await sleep(10);
    await listener.gracefulStop();
    expect(await rest).toEqual([]);
  });
});
