import { setTimeout as sleep } from "node:timers/promises";
import { PirouetteError, Stream } from "@pirouette/core";
import { afterEach, describe, expect, test } from "vitest";
import * as udp from "../src/index.ts";
import { freePort, rawSocket, waitFor, type RawSocket } from "./helpers.ts";

const cleanups: (() => PromiseLike<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function track<T extends AsyncDisposable>(x: T): T {
  cleanups.push(() => x[Symbol.asyncDispose]());
  return x;
}

async function echoPeer(): Promise<RawSocket> {
  const p = track(await rawSocket());
  p.socket.on("message", (m, r) => p.socket.send(m, r.port, r.address));
  return p;
}

describe("udp.Client", () => {
  test("sendDatagram / receiveDatagram; binds on first use", async () => {
    const echo = await echoPeer();
    const c = track(new udp.Client({ localHost: "127.0.0.1" }));
    expect(c.localPort).toBeUndefined();
    await c.sendDatagram({ remoteHost: "127.0.0.1", remotePort: echo.port, data: "ping" });
    expect(c.localPort).toBeGreaterThan(0);
    const d = await c.receiveDatagram(2000);
    expect(d).toMatchObject({ remoteHost: "127.0.0.1", remotePort: echo.port });
    expect(d.data.toString()).toBe("ping");
  });

  test("receiveDatagram timing out loses nothing", async () => {
    const c = track(new udp.Client({ localHost: "127.0.0.1", timeoutMs: 30 }));
    await c.bind();
    await expect(c.receiveDatagram()).rejects.toMatchObject({ name: "UdpError", code: "TIMEOUT" });
    const p = track(await rawSocket());
    await p.send("late", c.localPort!);
    expect((await c.receiveDatagram(2000)).data.toString()).toBe("late");
  });

  test("stream() of datagrams; take() closes the client", async () => {
    const c = new udp.Client({ localHost: "127.0.0.1" });
    await c.bind();
    const p = track(await rawSocket());
    const got = c
      .stream()
      .map((d) => `${d.remotePort}:${d.data.toString()}`)
      .take(3)
      .toArray();
    for (const m of ["a", "b", "c", "d"]) await p.send(m, c.localPort!);
    expect(await got).toEqual([`${p.port}:a`, `${p.port}:b`, `${p.port}:c`]);
    expect(c.isClosed).toBe(true);
  });

  test("a Sink: pipeTo sends a stream of datagrams", async () => {
    const p = track(await rawSocket());
    const c = new udp.Client({ localHost: "127.0.0.1" });
    await Stream.from([1, 2, 3])
      .map((i) => ({ remoteHost: "127.0.0.1", remotePort: p.port, data: `n${i}` }))
      .pipeTo(c);
    await waitFor(() => p.messages.length === 3);
    expect(p.messages.map((m) => m.data.toString())).toEqual(["n1", "n2", "n3"]);
    expect(c.isClosed).toBe(true);
  });

  test("datagrams beyond highWaterMark unread are dropped and counted", async () => {
    const c = track(new udp.Client({ localHost: "127.0.0.1", highWaterMark: 10 }));
    await c.bind();
    const p = track(await rawSocket());
    for (let i = 0; i < 50; i++) await p.send(`m${i}`, c.localPort!);
    await waitFor(() => c.droppedDatagrams === 40);
    const first = await c.receiveDatagram(1000);
    expect(first.data.toString()).toBe("m0");
  });

  test("broadcast: refused without broadcast: true (EACCES), delivered with it", async () => {
    const seen: string[] = [];
    const port = await freePort();
    const listener = new udp.Listener(port, { localHost: "0.0.0.0" });
    await listener.attach({ onBytes: (d) => void seen.push(d.toString()) });
    await listener.start();
    cleanups.push(() => listener.gracefulStop());
    const plain = track(new udp.Client());
    const err = await plain.sendDatagram({ remoteHost: "255.255.255.255", remotePort: port, data: "x" }).catch((e: unknown) => e);
    expect(err).toMatchObject({ name: "UdpError", code: "CONNECTION" });
    expect(((err as Error).cause as NodeJS.ErrnoException).code).toBe("EACCES");
    const bc = track(new udp.Client({ broadcast: true }));
    await bc.sendDatagram({ remoteHost: "255.255.255.255", remotePort: port, data: "to all" });
    await waitFor(() => seen.length === 1);
    expect(seen).toEqual(["to all"]);
  });

  test("multicast on loopback: two listeners sharing a port both get a group's datagram", async () => {
    const group = "239.255.77.7";
    const port = await freePort();
    const got: string[][] = [[], []];
    for (const i of [0, 1]) {
      const l = new udp.Listener(port, { localHost: "0.0.0.0", reuseAddr: true, multicast: { groups: [group], interface: "127.0.0.1" } });
      await l.attach({ onDatagram: (d) => void got[i]!.push(d.data.toString()) });
      await l.start();
      cleanups.push(() => l.gracefulStop());
    }
    const sender = track(new udp.Client({ localHost: "127.0.0.1", multicast: { interface: "127.0.0.1", loopback: true, ttl: 1 } }));
    await sender.sendDatagram({ remoteHost: group, remotePort: port, data: "hello group" });
    await waitFor(() => got[0]!.length === 1 && got[1]!.length === 1);
    expect(got).toEqual([["hello group"], ["hello group"]]);
  });

  test("joining a group that is not multicast fails the start with CONNECTION", async () => {
    const l = new udp.Listener(0, { multicast: { groups: ["10.1.2.3"] } });
    await l.attach({ onBytes: () => undefined });
    await expect(l.start()).rejects.toMatchObject({ code: "CONNECTION" });
  });

  test("invalid arguments and closed clients", async () => {
    expect(() => new udp.Client({ localPort: 70_000 })).toThrow(expect.objectContaining({ code: "INVALID_ARGUMENT" }));
    expect(() => new udp.Client({ highWaterMark: 0 })).toThrow(expect.objectContaining({ code: "INVALID_ARGUMENT" }));
    const c = new udp.Client();
    await expect(c.sendDatagram({ remoteHost: "127.0.0.1", remotePort: 0, data: "x" })).rejects.toMatchObject({ code: "INVALID_ARGUMENT" });
    await expect(c.sendDatagram({ remoteHost: "127.0.0.1", data: "x" } as never)).rejects.toMatchObject({ code: "INVALID_ARGUMENT" });
    await expect(c.sendDatagram({ remoteHost: "127.0.0.1", remotePort: 9, data: 5 as never })).rejects.toMatchObject({ code: "INVALID_ARGUMENT" });
    await c.close();
    await c.close();
    await expect(c.sendDatagram({ remoteHost: "127.0.0.1", remotePort: 9, data: "x" })).rejects.toMatchObject({ code: "CLOSED" });
    await expect(c.receiveDatagram(10)).rejects.toMatchObject({ code: "CLOSED" });
  });
});

describe("udp.ConnectClient", () => {
  test("writeBytes / readBytes with one peer; other senders are filtered out", async () => {
    const echo = await echoPeer();
    const c = track(new udp.ConnectClient("127.0.0.1", echo.port, { timeoutMs: 2000 }));
    await c.writeBytes("one");
    expect((await c.readBytes()).toString()).toBe("one");
    const stranger = track(await rawSocket());
    await stranger.send("noise", c.localPort!);
    await c.writeBytes(new Uint8Array([1, 2]));
    expect([...(await c.readBytes())]).toEqual([1, 2]);
    await sleep(20);
    await expect(c.readBytes(50)).rejects.toMatchObject({ code: "TIMEOUT" });
  });

  test("stream() and Sink", async () => {
    const echo = await echoPeer();
    const c = new udp.ConnectClient("127.0.0.1", echo.port);
    const replies = c
      .stream()
      .map((b) => b.toString())
      .take(3)
      .toArray();
    await Stream.of("x", "y", "z").pipeTo(c, { preventClose: true });
    expect(await replies).toEqual(["x", "y", "z"]);
    expect(c.isClosed).toBe(true);
  });

  test("a closed peer port: ICMP port unreachable fails the read with CONNECTION (ECONNREFUSED)", async () => {
    const port = await freePort();
    const c = track(new udp.ConnectClient("127.0.0.1", port));
    await c.writeBytes("anyone?");
    const err = await c.readBytes(2000).catch((e: unknown) => e);
    expect(PirouetteError.is(err)).toBe(true);
    expect(err).toMatchObject({ code: "CONNECTION" });
    expect(((err as Error).cause as NodeJS.ErrnoException).code).toBe("ECONNREFUSED");
  });

  test("with a udp.Listener: request/response", async () => {
    const listener = new udp.Listener(0, { localHost: "127.0.0.1" });
    await listener.attach({ onBytes: (d) => d.toString().toUpperCase() });
    await listener.start();
    cleanups.push(() => listener.gracefulStop());
    const c = track(new udp.ConnectClient("127.0.0.1", listener.port, { timeoutMs: 2000 }));
    for (const w of ["alpha", "beta"]) {
      await c.writeBytes(w);
      expect((await c.readBytes()).toString()).toBe(w.toUpperCase());
    }
  });
});

describe("UdpError", () => {
  test("name, brand and aliases", () => {
    const e = new udp.UdpError("TIMEOUT", "slow");
    expect(e.name).toBe("UdpError");
    expect(udp.UdpError.is(e)).toBe(true);
    expect(udp.UdpError.is(new PirouetteError("TIMEOUT", "slow"))).toBe(false);
    expect(PirouetteError.is(e)).toBe(true);
    expect(udp.Listener).toBe(udp.UdpListener);
    expect(udp.Client).toBe(udp.UdpClient);
    expect(udp.ConnectClient).toBe(udp.UdpConnectClient);
    expect(udp.Caller).toBe(udp.UdpCaller);
  });
});
