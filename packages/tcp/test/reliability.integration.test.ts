/**
 * The TCP part of reference/reliability.md §4: maxFrame + 1 closes the connection with
 * FrameTooLarge and the heap stays flat; a 1 byte/s dribble hits the idle timeout; connection
 * 1,001 is refused at a cap of 1,000.
 */
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { afterEach, describe, expect, test } from "vitest";
import * as tcp from "../src/index.ts";
import { rawConnect, waitFor, type RawPeer } from "./helpers.ts";

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

const cleanups: (() => PromiseLike<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function listen(service: tcp.Service, options: tcp.ListenerOptions): Promise<tcp.Listener> {
  const listener = new tcp.Listener(0, { localHost: "127.0.0.1", ...options });
  await listener.attach(service);
  await listener.start();
  cleanups.push(() => listener.immediateStop());
  return listener;
}

function heapMiB(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed / 1024 / 1024;
}

describe("reliability: TCP", () => {
  test("maxFrameSize + 1, 100 times per framing: each connection closed with TCP_FRAME_TOO_LARGE, heap flat", async () => {
    const max = 1024 * 1024;
    for (const framing of ["length-prefixed", "line"] as const) {
      const errors: Error[] = [];
      const handled: number[] = [];
      const listener = await listen(
        { onBytes: (f) => void handled.push(f.length), onError: (e) => void errors.push(e) },
        { framing, maxFrameSize: max },
      );
      const oversize =
        framing === "line"
          ? Buffer.concat([Buffer.alloc(max + 1, 0x61), Buffer.from("\n")])
          : Buffer.concat([Buffer.from([0x00, 0x10, 0x00, 0x01]), Buffer.alloc(max + 1)]);
      const exact = framing === "line" ? Buffer.concat([Buffer.alloc(max, 0x62), Buffer.from("\n")]) : Buffer.concat([Buffer.from([0x00, 0x10, 0x00, 0x00]), Buffer.alloc(max)]);
      const before = heapMiB();
      for (let i = 0; i < 100; i++) {
        const p = await rawConnect(listener.port);
        p.socket.write(exact); // exactly maxFrameSize: accepted
        p.socket.write(oversize);
        await p.closed;
      }
      await waitFor(() => errors.length === 100);
      const after = heapMiB();
      expect(errors.every((e) => (e as tcp.TcpError).code === "TCP_FRAME_TOO_LARGE")).toBe(true);
      expect(handled).toEqual(Array.from({ length: 100 }, () => max));
      // 100 × 2 MiB went through; what stays is noise.
      expect(after - before).toBeLessThan(16);
      await waitFor(() => listener.connectionCount === 0);
    }
  });

  test("a 1 byte/s client is closed by the idle timeout", async () => {
    const errors: Error[] = [];
    const listener = await listen({ onBytes: (l) => l, onError: (e) => void errors.push(e) }, { framing: "line", idleTimeoutMs: 2500 });
    const p = await rawConnect(listener.port);
    cleanups.push(() => p[Symbol.asyncDispose]());
    const t0 = Date.now();
    p.socket.write("x");
    const timer = setInterval(() => p.socket.write("x"), 1000);
    try {
      await p.closed;
    } finally {
      clearInterval(timer);
    }
    expect(Date.now() - t0).toBeGreaterThanOrEqual(2400);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ code: "TCP_IDLE_TIMEOUT" });
    expect(p.received().length).toBe(0);
  });

  test("connection 1,001 is refused at maxConnections 1,000; the first 1,000 are served", async () => {
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
      { maxConnections: 1000 },
    );
    const peers: RawPeer[] = [];
    cleanups.push(async () => {
      for (const p of peers) p.socket.destroy();
      await Promise.all(peers.map((p) => p.closed));
    });
    for (let i = 0; i < 1000; i += 50) {
      peers.push(...(await Promise.all(Array.from({ length: 50 }, () => rawConnect(listener.port)))));
    }
    await waitFor(() => connects === 1000, 30_000, "1000 connections");
    const extra = await rawConnect(listener.port);
    await extra.closed;
    expect(connects).toBe(1000);
    expect(listener.droppedConnections).toBe(1);
    await waitFor(() => errors.length === 1);
    expect(errors[0]).toMatchObject({ code: "TCP_CONNECTION_LIMIT" });
    // every accepted connection still echoes
    await Promise.all(
      peers.map(async (p, i) => {
        p.socket.write(`#${i}`);
        expect((await p.waitBytes(`#${i}`.length, 20_000)).toString()).toBe(`#${i}`);
      }),
    );
    expect(listener.connectionCount).toBe(1000);
  });
});
