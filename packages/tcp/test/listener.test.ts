import net from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { json, PirouetteError, type HandlerContext } from "@pirouette/core";
import { afterEach, describe, expect, test } from "vitest";
import * as tcp from "../src/index.ts";
import { rawConnect, waitFor, type RawPeer } from "./helpers.ts";

const cleanups: (() => PromiseLike<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function listen<T = Buffer>(service: tcp.Service<T>, options: tcp.ListenerOptions = {}): Promise<tcp.Listener<T>> {
  const listener = new tcp.Listener<T>(0, { localHost: "127.0.0.1", gracefulStopTimeoutMs: 5_000, ...options });
  await listener.attach(service);
  await listener.start();
  cleanups.push(() => listener.immediateStop());
  return listener;
}

async function peer(listener: tcp.Listener<never> | tcp.Listener<Buffer> | tcp.Listener<unknown>): Promise<RawPeer> {
  const p = await rawConnect(listener.port);
  cleanups.push(() => p[Symbol.asyncDispose]());
  return p;
}

function lengthFrame(payload: string | Buffer): Buffer {
  const b = Buffer.from(payload);
  const h = Buffer.alloc(4);
  h.writeUInt32BE(b.length);
  return Buffer.concat([h, b]);
}

describe("tcp.Listener: the service model", () => {
  test("echo without framing; the caller describes the connection", async () => {
    const callers: tcp.Caller[] = [];
    const listener = await listen({
      onBytes(data, caller) {
        callers.push(caller);
        return data;
      },
    });
    expect(listener.port).toBeGreaterThan(0);
    const p = await peer(listener);
    p.socket.write("hello");
    expect((await p.waitBytes(5)).toString()).toBe("hello");
    const c = callers[0]!;
    expect(c.remoteHost).toBe("127.0.0.1");
    expect(c.remotePort).toBe(p.socket.localPort);
    expect(c.localPort).toBe(listener.port);
    expect(c.localHost).toBe("127.0.0.1");
    expect(c.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(c.isSecure).toBe(false);
    expect(c.bytesRead).toBe(5);
    expect(listener.connectionCount).toBe(1);
  });

  test("onConnect returns a per-connection service; onClose runs once per connection", async () => {
    const events: string[] = [];
    let n = 0;
    const listener = await listen({
      onConnect(caller) {
        const me = ++n;
        events.push(`connect ${me}`);
        let count = 0;
        return {
          onBytes: (data: Buffer) => `${me}:${++count}:${data.toString()}`,
          onClose: (c: tcp.Caller) => {
            expect(c).toBe(caller);
            events.push(`close ${me}`);
          },
        };
      },
    });
    const a = await peer(listener);
    a.socket.write("x");
    expect((await a.waitBytes(5)).toString()).toBe("1:1:x");
    const b = await peer(listener);
    b.socket.write("y");
    expect((await b.waitBytes(5)).toString()).toBe("2:1:y");
    a.socket.write("z");
    expect((await a.waitBytes(10)).toString()).toBe("1:1:x1:2:z");
    a.socket.end();
    await waitFor(() => events.includes("close 1"));
    b.socket.destroy();
    await waitFor(() => events.includes("close 2"));
    expect(events).toEqual(["connect 1", "connect 2", "close 1", "close 2"]);
    await waitFor(() => listener.connectionCount === 0);
  });

  test("no bytes are handled before an async onConnect returns", async () => {
    const seen: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const listener = await listen({
      async onConnect() {
        await gate;
        seen.push("connected");
        return { onBytes: (d: Buffer) => void seen.push(d.toString()) };
      },
    });
    const p = await peer(listener);
    p.socket.write("early");
    await sleep(50);
    expect(seen).toEqual([]);
    release();
    await waitFor(() => seen.length === 2);
    expect(seen).toEqual(["connected", "early"]);
  });

  test("line framing: frames split and merged arbitrarily by the sender, replies framed", async () => {
    const listener = await listen({ onBytes: (line) => line.toString().toUpperCase() }, { framing: "line" });
    const p = await peer(listener);
    for (const piece of ["he", "llo\r\nwor", "ld\n\n", "a\nb\nc", "\n"]) {
      p.socket.write(piece);
      await sleep(2);
    }
    expect((await p.waitBytes(19)).toString()).toBe("HELLO\nWORLD\n\nA\nB\nC\n");
  });

  test("length-prefixed framing: an async onBytes keeps the order of frames", async () => {
    const listener = await listen(
      {
        async onBytes(frame) {
          await sleep(frame.length % 3);
          return Buffer.concat([frame, frame]);
        },
      },
      { framing: "length-prefixed" },
    );
    const p = await peer(listener);
    const frames = Array.from({ length: 50 }, (_, i) => "f" + "x".repeat(i));
    p.socket.write(Buffer.concat(frames.map(lengthFrame)));
    const expected = Buffer.concat(frames.map((f) => lengthFrame(f + f)));
    expect((await p.waitBytes(expected.length)).equals(expected)).toBe(true);
  });

  test("a failing onBytes goes to onError with the caller; the other frames and the connection go on", async () => {
    const errors: [Error, tcp.Caller][] = [];
    const listener = await listen(
      {
        onConnect: () => ({
          onBytes(line: Buffer) {
            if (line.toString() === "bad") throw new Error("boom");
            return line;
          },
          onError(err: Error, caller: tcp.Caller) {
            errors.push([err, caller]);
          },
        }),
      },
      { framing: "line" },
    );
    const p = await peer(listener);
    p.socket.write("a\nbad\nb\n");
    expect((await p.waitBytes(4)).toString()).toBe("a\nb\n");
    expect(errors).toHaveLength(1);
    expect(errors[0]![0].message).toBe("boom");
    expect(errors[0]![1].remotePort).toBe(p.socket.localPort);
    p.socket.write("c\n");
    expect((await p.waitBytes(6)).toString()).toBe("a\nb\nc\n");
  });

  test("errors of a connection without onError go to the attached service's onError", async () => {
    const errors: Error[] = [];
    const listener = await listen(
      {
        onConnect: () => ({
          onBytes() {
            throw new Error("no handler of mine");
          },
        }),
        onError: (e) => void errors.push(e),
      },
      { framing: "line" },
    );
    const p = await peer(listener);
    p.socket.write("x\n");
    await waitFor(() => errors.length === 1);
    expect(errors[0]!.message).toBe("no handler of mine");
  });

  test("a retry policy retries the failing frame, not the ones before it", async () => {
    const calls: string[] = [];
    let failures = 0;
    const listener = await listen(
      {
        onBytes(line) {
          const s = line.toString();
          calls.push(s);
          if (s === "flaky" && failures++ < 2) throw new TypeError("transient");
          return s;
        },
      },
      { framing: "line", retry: { maxAttempts: 3, initialDelayMs: 1, jitter: false } },
    );
    const p = await peer(listener);
    p.socket.write("one\nflaky\ntwo\n");
    expect((await p.waitBytes(14)).toString()).toBe("one\nflaky\ntwo\n");
    expect(calls).toEqual(["one", "flaky", "flaky", "flaky", "two"]);
  });

  test("onConnect failing, or returning a bad service, refuses the connection with onError", async () => {
    const errors: Error[] = [];
    let mode = "throw";
    const listener = await listen({
      onConnect() {
        if (mode === "throw") throw new Error("not today");
        return { onMesage: () => undefined } as never;
      },
      onError: (e) => void errors.push(e),
    });
    const a = await peer(listener);
    await a.closed;
    expect(errors[0]!.message).toBe("not today");
    mode = "bad";
    const b = await peer(listener);
    await b.closed;
    expect(errors[1]).toMatchObject({ name: "TcpError", code: "TCP_UNKNOWN_METHOD" });
    expect(errors[1]!.message).toContain("onMesage");
  });

  test("a returned value that is not bytes or a string is an INVALID_ARGUMENT error", async () => {
    const errors: Error[] = [];
    const listener = await listen({ onBytes: () => ({ not: "bytes" }), onError: (e) => void errors.push(e) }, { framing: "line" });
    const p = await peer(listener);
    p.socket.write("x\n");
    await waitFor(() => errors.length === 1);
    expect(errors[0]).toMatchObject({ code: "INVALID_ARGUMENT" });
  });

  test("with a codec and a payload schema, frames are bound; bad ones go to onError and the connection goes on", async () => {
    interface Order {
      id: string;
      qty: number;
    }
    const Order = {
      "~standard": {
        version: 1 as const,
        vendor: "test",
        validate: (v: unknown) =>
          typeof v === "object" && v !== null && typeof (v as Order).id === "string" && Number.isInteger((v as Order).qty)
            ? { value: v as Order }
            : { issues: [{ message: "not an order", path: [] }] },
      },
    };
    const errors: Error[] = [];
    const listener = new tcp.Listener<Order>(0, { localHost: "127.0.0.1", framing: "line", codec: json() });
    await listener.attach({ onBytes: (o) => ({ ok: o.id, double: o.qty * 2 }), onError: (e) => void errors.push(e) }, { payload: Order });
    await listener.start();
    cleanups.push(() => listener.immediateStop());
    const p = await peer(listener);
    p.socket.write('{"id":"a","qty":2}\n{not json\n{"id":"b"}\n{"id":"c","qty":5}\n');
    const out = (await p.waitBytes(40)).toString();
    expect(out.trim().split("\n").map((l) => JSON.parse(l))).toEqual([
      { ok: "a", double: 4 },
      { ok: "c", double: 10 },
    ]);
    expect(errors.map((e) => (e as PirouetteError).code)).toEqual(["PAYLOAD_BINDING", "PAYLOAD_VALIDATION"]);
    expect((errors[0] as PirouetteError).coordinates).toMatchObject({ remotePort: p.socket.localPort });
  });

  test("caller.writeBytes pushes from outside a handler; caller.close ends the connection", async () => {
    let caller!: tcp.Caller;
    const listener = await listen(
      {
        onConnect(c) {
          caller = c;
        },
        onBytes: () => undefined,
      },
      { framing: "length-prefixed" },
    );
    const p = await peer(listener);
    await waitFor(() => caller !== undefined);
    await caller.writeBytes("tick");
    await caller.writeBytes(new Uint8Array([1, 2]));
    expect((await p.waitBytes(14)).equals(Buffer.concat([lengthFrame("tick"), lengthFrame(Buffer.from([1, 2]))]))).toBe(true);
    await caller.close();
    await p.closed;
    expect(caller.isClosed).toBe(true);
    await expect(caller.writeBytes("late")).rejects.toMatchObject({ code: "CLOSED" });
  });
  test("close() inside onBytes: the reply is written first, later frames of the read are dropped", async () => {
    const seen: string[] = [];
    const listener = await listen(
      {
        async onBytes(line, caller) {
          seen.push(line.toString());
          if (line.toString() === "bye") {
            await caller.close(); // must not wait for the handler itself
            return "goodbye";
          }
          return line;
        },
      },
      { framing: "line" },
    );
    const p = await peer(listener);
    p.socket.write("hi\nbye\nignored\n");
    await p.closed;
    expect(p.received().toString()).toBe("hi\ngoodbye\n");
    expect(seen).toEqual(["hi", "bye"]);
  });
});

describe("tcp.Listener: validation and lifecycle", () => {
  test("services are checked at attach", async () => {
    const l = new tcp.Listener(0);
    await expect(l.attach({ onByte: () => undefined } as never)).rejects.toMatchObject({ name: "TcpError", code: "TCP_UNKNOWN_METHOD" });
    await expect(l.attach({ onClose: () => undefined })).rejects.toMatchObject({ code: "TCP_MISSING_METHOD" });
    await l.attach({ onBytes: () => undefined });
    await expect(l.attach({ onBytes: () => undefined })).rejects.toMatchObject({ code: "STATE" });
    await l.gracefulStop();
  });

  test("bad options are INVALID_ARGUMENT", () => {
    expect(() => new tcp.Listener(70_000)).toThrow(expect.objectContaining({ code: "INVALID_ARGUMENT" }));
    expect(() => new tcp.Listener(0, { maxConnections: 0 })).toThrow(expect.objectContaining({ code: "INVALID_ARGUMENT" }));
    expect(() => new tcp.Listener(0, { idleTimeoutMs: -1 })).toThrow(expect.objectContaining({ code: "INVALID_ARGUMENT" }));
    expect(() => new tcp.Listener(0, { framing: { type: "fixed", size: 0 } })).toThrow(expect.objectContaining({ code: "INVALID_ARGUMENT" }));
  });

  test("a port in use fails start() with CONNECTION (EADDRINUSE)", async () => {
    const a = await listen({ onBytes: () => undefined });
    const b = new tcp.Listener(a.port, { localHost: "127.0.0.1" });
    await b.attach({ onBytes: () => undefined });
    const err = await b.start().catch((e: unknown) => e);
    expect(err).toMatchObject({ name: "TcpError", code: "CONNECTION" });
    expect(((err as Error).cause as NodeJS.ErrnoException).code).toBe("EADDRINUSE");
    expect(tcp.TcpError.is(err)).toBe(true);
    expect(PirouetteError.is(err)).toBe(true);
  });

  test("detach closes the service's connections; a later attach serves new ones", async () => {
    const first = { onBytes: () => "first" };
    const listener = await listen(first);
    const p = await peer(listener);
    p.socket.write("x");
    await p.waitBytes(5);
    await listener.detach(first);
    await p.closed;
    await listener.attach({ onBytes: () => "second" });
    const q = await peer(listener);
    q.socket.write("x");
    expect((await q.waitBytes(6)).toString()).toBe("second");
  });

  test("gracefulStop: stops accepting, lets a running handler finish and deliver its reply, then closes", async () => {
    let started = false;
    const closed: string[] = [];
    const listener = await listen({
      async onBytes(data) {
        started = true;
        await sleep(200);
        return Buffer.concat([Buffer.from("done:"), data]);
      },
      onClose: (c) => void closed.push(c.id),
    });
    const port = listener.port;
    const p = await peer(listener);
    p.socket.write("job");
    await waitFor(() => started);
    const stopping = listener.gracefulStop();
    await sleep(20);
    await expect(rawConnect(port)).rejects.toMatchObject({ code: "ECONNREFUSED" });
    await stopping;
    expect(p.received().toString()).toBe("done:job");
    await p.closed;
    expect(closed).toHaveLength(1);
  });

  test("immediateStop is real: handlers are aborted through their signal and sockets destroyed", async () => {
    let ctxSeen: HandlerContext | undefined;
    const closed: string[] = [];
    const listener = await listen({
      onBytes(_data, _caller, ctx) {
        ctxSeen = ctx;
        return new Promise(() => undefined); // never settles, ignores the signal
      },
      onClose: (c) => void closed.push(c.id),
    });
    const p = await peer(listener);
    p.socket.write("hang");
    await waitFor(() => ctxSeen !== undefined);
    const t0 = Date.now();
    await listener.immediateStop();
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(ctxSeen!.signal.aborted).toBe(true);
    await p.closed;
    expect(closed).toHaveLength(1);
    expect(listener.connectionCount).toBe(0);
  });

  test("the listener works with serve()-style disposal", async () => {
    const listener = new tcp.Listener(0, { localHost: "127.0.0.1" });
    await listener.attach({ onBytes: (d) => d });
    await listener.start();
    const p = await rawConnect(listener.port);
    p.socket.write("ok");
    await p.waitBytes(2);
    await listener[Symbol.asyncDispose]();
    await p.closed;
  });
});

describe("tcp.Listener: limits and backpressure", () => {
  test("a frame over maxFrameSize: frames before it are handled, TCP_FRAME_TOO_LARGE to onError, connection closed", async () => {
    const errors: Error[] = [];
    const seen: string[] = [];
    const listener = await listen(
      {
        onBytes: (f) => void seen.push(f.toString()),
        onError: (e) => void errors.push(e),
      },
      { framing: "length-prefixed", maxFrameSize: 1024 },
    );
    const p = await peer(listener);
    const localPort = p.socket.localPort;
    const header = Buffer.alloc(4);
    header.writeUInt32BE(1025);
    p.socket.write(Buffer.concat([lengthFrame("ok"), header, Buffer.alloc(100)]));
    await p.closed;
    await waitFor(() => errors.length === 1);
    expect(seen).toEqual(["ok"]);
    expect(errors[0]).toMatchObject({ name: "TcpError", code: "TCP_FRAME_TOO_LARGE" });
    expect((errors[0] as tcp.TcpError).coordinates).toMatchObject({ maxFrameSize: 1024, remotePort: localPort });
  });

  test("a line longer than maxFrameSize is refused before its end arrives", async () => {
    const errors: Error[] = [];
    const listener = await listen({ onBytes: () => undefined, onError: (e) => void errors.push(e) }, { framing: "line", maxFrameSize: 4096 });
    const p = await peer(listener);
    p.socket.write("x".repeat(5000)); // no newline
    await p.closed;
    expect(errors[0]).toMatchObject({ code: "TCP_FRAME_TOO_LARGE" });
  });

  test("idle timeout: a peer dribbling one byte at a time, never finishing a frame, is closed", async () => {
    const errors: Error[] = [];
    const listener = await listen(
      { onBytes: (l) => l, onError: (e) => void errors.push(e) },
      { framing: "line", idleTimeoutMs: 400 },
    );
    const slow = await peer(listener);
    const timer = setInterval(() => slow.socket.write("x"), 100); // 10 bytes/s, no newline
    try {
      await slow.closed;
    } finally {
      clearInterval(timer);
    }
    expect(errors[0]).toMatchObject({ code: "TCP_IDLE_TIMEOUT" });
  });

  test("idle timeout: a peer completing frames often enough stays connected", async () => {
    const listener = await listen({ onBytes: (l) => l }, { framing: "line", idleTimeoutMs: 1000 });
    const p = await peer(listener);
    for (let i = 0; i < 8; i++) {
      p.socket.write(`${i}\n`);
      await sleep(150);
    }
    expect(p.socket.destroyed).toBe(false);
    expect((await p.waitBytes(16)).toString()).toBe("0\n1\n2\n3\n4\n5\n6\n7\n");
  });

  test("a handler running longer than the idle timeout does not count as idle", async () => {
    const listener = await listen(
      {
        async onBytes(l) {
          await sleep(500);
          return l;
        },
      },
      { framing: "line", idleTimeoutMs: 200 },
    );
    const p = await peer(listener);
    p.socket.write("slow\n");
    expect((await p.waitBytes(5)).toString()).toBe("slow\n");
  });

  test("maxConnections: the connection over the cap is refused and reported", async () => {
    const errors: Error[] = [];
    let connects = 0;
    const listener = await listen(
      {
        onConnect() {
          connects++;
        },
        onBytes: (d) => d,
        onError: (e) => void errors.push(e),
      },
      { maxConnections: 3 },
    );
    const peers = [await peer(listener), await peer(listener), await peer(listener)];
    await waitFor(() => connects === 3);
    const extra = await peer(listener);
    await extra.closed;
    expect(connects).toBe(3);
    expect(listener.droppedConnections).toBe(1);
    await waitFor(() => errors.length === 1);
    expect(errors[0]).toMatchObject({ code: "TCP_CONNECTION_LIMIT" });
    // the others still work, and a freed slot is usable again
    peers[0]!.socket.write("hi");
    expect((await peers[0]!.waitBytes(2)).toString()).toBe("hi");
    peers[1]!.socket.destroy();
    await waitFor(() => listener.connectionCount === 2);
    const again = await peer(listener);
    again.socket.write("yo");
    expect((await again.waitBytes(2)).toString()).toBe("yo");
  });

  test("reads pause while onBytes runs: a fast sender cannot make the server buffer more than a few reads", async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let caller!: tcp.Caller;
    let received = 0;
    let calls = 0;
    const listener = await listen({
      async onBytes(data, c) {
        caller = c;
        calls++;
        if (calls === 1) await gate; // the first read blocks
        received += data.length;
      },
    });
    const p = await peer(listener);
    const total = 32 * 1024 * 1024;
    const block = Buffer.alloc(64 * 1024, 1);
    let written = 0;
    const writeAll = (async () => {
      while (written < total) {
        written += block.length;
        if (!p.socket.write(block)) await new Promise((r) => p.socket.once("drain", r));
      }
    })();
    await waitFor(() => caller !== undefined);
    await sleep(300); // let the sender run into the wall
    const readWhileBlocked = caller.bytesRead;
    // The kernel buffers what the server does not read; node itself holds at most a few reads.
    expect(readWhileBlocked).toBeLessThan(1024 * 1024);
    expect(written - readWhileBlocked).toBeGreaterThan(0);
    expect(calls).toBe(1);
    release();
    await writeAll;
    await waitFor(() => received === total, 20_000, "all bytes");
    expect(caller.bytesRead).toBe(total);
  });

  test("a peer that does not read the replies makes the server stop reading too", async () => {
    let caller!: tcp.Caller;
    const listener = await listen({
      onBytes(data, c) {
        caller = c;
        return data; // echo
      },
    });
    const socket = net.connect({ port: listener.port, host: "127.0.0.1" });
    socket.on("error", () => undefined);
    cleanups.push(async () => void socket.destroy());
    await new Promise((r) => socket.once("connect", r));
    socket.pause(); // never read the echo
    const block = Buffer.alloc(64 * 1024, 2);
    let written = 0;
    const deadline = Date.now() + 3000;
    while (Date.now() < deadline && written < 256 * 1024 * 1024) {
      written += block.length;
      if (!socket.write(block)) {
        const drained = await Promise.race([new Promise((r) => socket.once("drain", () => r(true))), sleep(300).then(() => false)]);
        if (!drained) break; // the wall: the server stopped reading
      }
    }
    expect(caller).toBeDefined();
    const readAtWall = caller.bytesRead;
    await sleep(200);
    expect(caller.bytesRead).toBe(readAtWall);
    expect(written).toBeLessThan(256 * 1024 * 1024);
    // echoes still buffered in the server are bounded by what it read
    expect(caller.bytesWritten).toBeLessThanOrEqual(readAtWall);
  });
});

describe("tcp.Listener: read-ahead and batches", () => {
  test("while a batch runs the socket is read ahead; what was read is handled after it, in order, then onClose", async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const seen: string[] = [];
    let caller!: tcp.Caller;
    const listener = await listen(
      {
        async onBytes(frame, c) {
          caller = c;
          if (seen.length === 0) await gate;
          seen.push(frame.toString());
        },
        onClose() {
          seen.push("closed");
        },
      },
      { framing: "length-prefixed" },
    );
    const p = await peer(listener);
    const frames = Array.from({ length: 200 }, (_, i) => `frame-${i}`);
    let total = 0;
    for (let i = 0; i < frames.length; i++) {
      const f = lengthFrame(frames[i] as string);
      total += f.length;
      p.socket.write(f);
      if (i % 20 === 0) await sleep(2); // several reads
    }
    p.socket.end(); // the peer is gone before the first frame is handled
    await waitFor(() => caller !== undefined && caller.bytesRead === total, 10_000, "the frames read ahead");
    expect(seen).toEqual([]);
    release();
    await waitFor(() => seen.at(-1) === "closed", 10_000, "onClose");
    expect(seen).toEqual([...frames, "closed"]);
  });

  test("close() inside onBytes also drops the frames read ahead after its batch", async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const seen: string[] = [];
    let caller!: tcp.Caller;
    const listener = await listen(
      {
        async onBytes(line, c) {
          caller = c;
          seen.push(line.toString());
          if (line.toString() === "bye") {
            await gate;
            await c.close();
            return "goodbye";
          }
          return line;
        },
      },
      { framing: "line" },
    );
    const p = await peer(listener);
    p.socket.write("hi\nbye\n");
    await waitFor(() => seen.includes("bye"));
    p.socket.write("late\n");
    await waitFor(() => caller.bytesRead === "hi\nbye\nlate\n".length);
    release();
    await p.closed;
    expect(p.received().toString()).toBe("hi\ngoodbye\n");
    expect(seen).toEqual(["hi", "bye"]);
  });

  test("an oversize frame read ahead: the frames before it are handled, then TCP_FRAME_TOO_LARGE and the connection closes", async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const seen: string[] = [];
    const errors: unknown[] = [];
    const listener = await listen(
      {
        async onBytes(frame) {
          if (seen.length === 0) await gate;
          seen.push(frame.toString());
        },
        onError(e) {
          errors.push(e);
        },
      },
      { framing: "length-prefixed", maxFrameSize: 100 },
    );
    const p = await peer(listener);
    p.socket.write(lengthFrame("one"));
    await sleep(20);
    p.socket.write(Buffer.concat([lengthFrame("two"), lengthFrame("three")]));
    await sleep(20);
    const huge = Buffer.alloc(4);
    huge.writeUInt32BE(101);
    p.socket.write(huge);
    await sleep(50);
    expect(seen).toEqual([]);
    release();
    await p.closed;
    await waitFor(() => errors.length === 1);
    expect(seen).toEqual(["one", "two", "three"]);
    expect(errors[0]).toMatchObject({ code: "TCP_FRAME_TOO_LARGE" });
  });

  test("without framing, a fast sender's burst arrives whole and in order (reads gathered into batches)", async () => {
    const total = 8 * 1024 * 1024;
    let got = 0;
    let bad = -1;
    let calls = 0;
    const listener = await listen({
      onBytes(data) {
        calls++;
        for (let i = 0; i < data.length; i++) if (data[i] !== (got + i) % 251 && bad < 0) bad = got + i;
        got += data.length;
      },
    });
    const p = await peer(listener);
    const block = Buffer.alloc(256 * 1024);
    for (let sent = 0; sent < total; sent += block.length) {
      for (let i = 0; i < block.length; i++) block[i] = (sent + i) % 251;
      if (!p.socket.write(Buffer.from(block))) await new Promise((r) => p.socket.once("drain", r));
    }
    await waitFor(() => got === total, 20_000, "all bytes");
    expect(bad).toBe(-1);
    expect(calls).toBeGreaterThan(0);
  });
});
