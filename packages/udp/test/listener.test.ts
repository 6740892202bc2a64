import { setTimeout as sleep } from "node:timers/promises";
import { json, type HandlerContext, type PirouetteError } from "@pirouette/core";
import { afterEach, describe, expect, test } from "vitest";
import * as udp from "../src/index.ts";
import { rawSocket, waitFor, type RawSocket } from "./helpers.ts";

const cleanups: (() => PromiseLike<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function listen<T = Buffer>(service: udp.Service<T>, options: udp.ListenerOptions = {}): Promise<udp.Listener<T>> {
  const listener = new udp.Listener<T>(0, { localHost: "127.0.0.1", gracefulStopTimeoutMs: 5_000, ...options });
  await listener.attach(service);
  await listener.start();
  cleanups.push(() => listener.immediateStop());
  return listener;
}

async function peer(): Promise<RawSocket> {
  const p = await rawSocket();
  cleanups.push(() => p[Symbol.asyncDispose]());
  return p;
}

describe("udp.Listener", () => {
  test("onBytes: the returned value goes back to the sender; the caller knows both ends", async () => {
    const callers: udp.Caller[] = [];
    const listener = await listen({
      onBytes(data, caller) {
        callers.push(caller);
        return Buffer.concat([Buffer.from("echo:"), data]);
      },
    });
    expect(listener.port).toBeGreaterThan(0);
    const p = await peer();
    await p.send("hi", listener.port);
    await waitFor(() => p.messages.length === 1);
    expect(p.messages[0]!.data.toString()).toBe("echo:hi");
    expect(p.messages[0]!.port).toBe(listener.port);
    const c = callers[0]!;
    expect([c.remoteHost, c.remotePort, c.localHost, c.localPort]).toEqual(["127.0.0.1", p.port, "127.0.0.1", listener.port]);
  });

  test("onDatagram: a string reply; a Datagram reply goes to its own address", async () => {
    const other = await peer();
    const listener = await listen({
      onDatagram(d) {
        const text = d.data.toString();
        if (text === "forward") return { remoteHost: "127.0.0.1", remotePort: other.port, data: `from ${d.remotePort}` };
        return `${d.remoteHost}:${d.remotePort} said ${text}`;
      },
    });
    const p = await peer();
    await p.send("hello", listener.port);
    await p.send("forward", listener.port);
    await waitFor(() => p.messages.length === 1 && other.messages.length === 1);
    expect(p.messages[0]!.data.toString()).toBe(`127.0.0.1:${p.port} said hello`);
    expect(other.messages[0]!.data.toString()).toBe(`from ${p.port}`);
  });

  test("datagrams are handled in order; a failing one goes to onError with its caller, the rest go on", async () => {
    const seen: string[] = [];
    const errors: [Error, udp.Caller | undefined][] = [];
    const listener = await listen({
      onBytes(data) {
        const s = data.toString();
        if (s === "bad") throw new Error("bad datagram");
        seen.push(s);
      },
      onError: (e, c) => void errors.push([e, c]),
    });
    const p = await peer();
    for (const m of ["1", "2", "bad", "3", "4"]) await p.send(m, listener.port);
    await waitFor(() => seen.length === 4);
    expect(seen).toEqual(["1", "2", "3", "4"]);
    expect(errors).toHaveLength(1);
    expect(errors[0]![0].message).toBe("bad datagram");
    expect(errors[0]![1]!.remotePort).toBe(p.port);
  });

  test("async handlers, several batches at once with concurrency", async () => {
    let running = 0;
    let maxRunning = 0;
    const listener = await listen(
      {
        async onBytes(data) {
          running++;
          maxRunning = Math.max(maxRunning, running);
          await sleep(20);
          running--;
          return data;
        },
      },
      { concurrency: 4 },
    );
    const p = await peer();
    for (let i = 0; i < 8; i++) {
      await p.send(`m${i}`, listener.port);
      await sleep(2); // separate event-loop turns: separate batches
    }
    await waitFor(() => p.messages.length === 8);
    expect(maxRunning).toBeGreaterThan(1);
    expect(maxRunning).toBeLessThanOrEqual(4);
  });

  test("with a codec and a schema: garbage and invalid payloads go to onError, valid ones are answered", async () => {
    interface Reading {
      sensor: string;
      value: number;
    }
    const Reading = {
      "~standard": {
        version: 1 as const,
        vendor: "test",
        validate: (v: unknown) =>
          typeof v === "object" && v !== null && typeof (v as Reading).sensor === "string" && typeof (v as Reading).value === "number"
            ? { value: v as Reading }
            : { issues: [{ message: "not a reading", path: ["sensor"] }] },
      },
    };
    const errors: Error[] = [];
    const listener = new udp.Listener<Reading>(0, { localHost: "127.0.0.1", codec: json() });
    await listener.attach({ onBytes: (r) => ({ ok: r.sensor, twice: r.value * 2 }), onError: (e) => void errors.push(e) }, { payload: Reading });
    await listener.start();
    cleanups.push(() => listener.immediateStop());
    const p = await peer();
    await p.send('{"sensor":"t1","value":21}', listener.port);
    await p.send(Buffer.from([0xff, 0xfe, 0x00]), listener.port);
    await p.send('{"sensor":7}', listener.port);
    await p.send('{"sensor":"t2","value":1.5}', listener.port);
    await waitFor(() => p.messages.length === 2 && errors.length === 2);
    expect(p.messages.map((m) => JSON.parse(m.data.toString()))).toEqual([
      { ok: "t1", twice: 42 },
      { ok: "t2", twice: 3 },
    ]);
    expect(errors.map((e) => (e as PirouetteError).code).sort()).toEqual(["PAYLOAD_BINDING", "PAYLOAD_VALIDATION"]);
    expect((errors[0] as PirouetteError).coordinates).toMatchObject({ remoteHost: "127.0.0.1", remotePort: p.port, localPort: listener.port });
  });

  test("a datagram over maxDatagramSize is reported (UDP_DATAGRAM_TOO_LARGE) and not handled", async () => {
    const errors: Error[] = [];
    const seen: number[] = [];
    const listener = await listen({ onBytes: (d) => void seen.push(d.length), onError: (e) => void errors.push(e) }, { maxDatagramSize: 100 });
    const p = await peer();
    await p.send(Buffer.alloc(101), listener.port);
    await p.send(Buffer.alloc(100), listener.port);
    await waitFor(() => seen.length === 1 && errors.length === 1);
    expect(seen).toEqual([100]);
    expect(errors[0]).toMatchObject({ name: "UdpError", code: "UDP_DATAGRAM_TOO_LARGE" });
  });

  test("a saturated service drops (and counts) datagrams instead of buffering without bound", async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let handled = 0;
    const listener = await listen(
      {
        async onBytes() {
          await gate;
          handled++;
        },
      },
      { maxPending: 10 },
    );
    const p = await peer();
    for (let i = 0; i < 200; i++) await p.send(`d${i}`, listener.port);
    await waitFor(() => listener.receivedDatagrams === 200);
    expect(listener.droppedDatagrams).toBe(190);
    release();
    await waitFor(() => handled === 10);
    await sleep(20);
    expect(handled).toBe(10);
    // it recovers
    await p.send("after", listener.port);
    await waitFor(() => handled === 11);
  });

  test("caller.sendBytes splits data over sendChunkSize into several datagrams", async () => {
    const listener = await listen(
      {
        async onBytes(_d, caller) {
          await caller.sendBytes(Buffer.alloc(250, 1));
          await caller.sendDatagram({ remoteHost: caller.remoteHost, remotePort: caller.remotePort, data: "done" });
        },
      },
      { sendChunkSize: 100 },
    );
    const p = await peer();
    await p.send("go", listener.port);
    await waitFor(() => p.messages.length === 4);
    expect(p.messages.map((m) => m.data.length)).toEqual([100, 100, 50, 4]);
  });

  test("remoteHost/remotePort: only the given peer is heard", async () => {
    const friend = await peer();
    const stranger = await peer();
    const seen: number[] = [];
    const listener = await listen({ onDatagram: (d) => void seen.push(d.remotePort) }, { remoteHost: "127.0.0.1", remotePort: friend.port });
    await stranger.send("x", listener.port);
    await friend.send("y", listener.port);
    await waitFor(() => seen.length >= 1);
    await sleep(30);
    expect(seen).toEqual([friend.port]);
  });

  test("services and options are checked", async () => {
    const l = new udp.Listener(0);
    await expect(l.attach({ onBytes: () => undefined, onDatagram: () => undefined })).rejects.toMatchObject({ name: "UdpError", code: "UDP_METHOD_CONFLICT" });
    await expect(l.attach({ onError: () => undefined })).rejects.toMatchObject({ code: "UDP_MISSING_METHOD" });
    await expect(l.attach({ onDatagrams: () => undefined } as never)).rejects.toMatchObject({ code: "UDP_UNKNOWN_METHOD" });
    await l.attach({ onBytes: () => undefined });
    await expect(l.attach({ onBytes: () => undefined })).rejects.toMatchObject({ code: "STATE" });
    await l.gracefulStop();
    expect(() => new udp.Listener(-1)).toThrow(expect.objectContaining({ code: "INVALID_ARGUMENT" }));
    expect(() => new udp.Listener(0, { remoteHost: "127.0.0.1" })).toThrow(expect.objectContaining({ code: "INVALID_ARGUMENT" }));
    expect(() => new udp.Listener(0, { sendChunkSize: 70_000 })).toThrow(expect.objectContaining({ code: "INVALID_ARGUMENT" }));
    expect(() => new udp.Listener(0, { maxPending: 0 })).toThrow(expect.objectContaining({ code: "INVALID_ARGUMENT" }));
  });

  test("a port in use fails start() with CONNECTION (EADDRINUSE)", async () => {
    const a = await listen({ onBytes: () => undefined });
    const b = new udp.Listener(a.port, { localHost: "127.0.0.1" });
    await b.attach({ onBytes: () => undefined });
    const err = await b.start().catch((e: unknown) => e);
    expect(err).toMatchObject({ name: "UdpError", code: "CONNECTION" });
    expect(((err as Error).cause as NodeJS.ErrnoException).code).toBe("EADDRINUSE");
  });

  test("gracefulStop lets a running handler finish and send its reply", async () => {
    let started = false;
    const listener = await listen({
      async onBytes(d) {
        started = true;
        await sleep(100);
        return d;
      },
    });
    const p = await peer();
    await p.send("late", listener.port);
    await waitFor(() => started);
    await listener.gracefulStop();
    await waitFor(() => p.messages.length === 1);
    expect(p.messages[0]!.data.toString()).toBe("late");
  });

  test("immediateStop aborts running handlers through their signal", async () => {
    let ctx: HandlerContext | undefined;
    const listener = await listen({
      onBytes(_d, _c, context) {
        ctx = context;
        return new Promise(() => undefined);
      },
    });
    const p = await peer();
    await p.send("hang", listener.port);
    await waitFor(() => ctx !== undefined);
    const t0 = Date.now();
    await listener.immediateStop();
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(ctx!.signal.aborted).toBe(true);
  });
});
