/**
 * Interop with peers we did not write: OpenBSD netcat and socat (Debian packages
 * `netcat-openbsd` and `socat`).
 */
import { afterEach, describe, expect, test } from "vitest";
import * as udp from "../src/index.ts";
import { freePort, run, spawnPeer } from "./helpers.ts";

const cleanups: (() => PromiseLike<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function upper(): Promise<udp.Listener> {
  const listener = new udp.Listener(0, { localHost: "127.0.0.1" });
  await listener.attach({ onBytes: (d) => d.toString().toUpperCase() });
  await listener.start();
  cleanups.push(() => listener.gracefulStop());
  return listener;
}

describe("interop: other programs as clients of udp.Listener", () => {
  test("nc -u", async () => {
    const listener = await upper();
    const r = await run("nc", ["-u", "-w", "1", "127.0.0.1", String(listener.port)], "datagram from nc\n");
    expect(r.stdout).toBe("DATAGRAM FROM NC\n");
  });

  test("socat UDP", async () => {
    const listener = await upper();
    const r = await run("socat", ["-t", "1", "-", `UDP:127.0.0.1:${listener.port}`], "datagram from socat\n");
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("DATAGRAM FROM SOCAT\n");
  });
});

describe("interop: our clients against socat as a UDP server", () => {
  test("udp.ConnectClient ↔ socat UDP-LISTEN … PIPE (echo)", async () => {
    const port = await freePort();
    await using _peer = await spawnPeer("socat", ["-d", "-d", "-T", "10", `UDP-LISTEN:${port},bind=127.0.0.1`, "PIPE"], /listening on/);
    await using client = new udp.ConnectClient("127.0.0.1", port, { timeoutMs: 5000 });
    for (const m of ["one", "two", "three"]) {
      await client.writeBytes(m);
      expect((await client.readBytes()).toString()).toBe(m);
    }
  });

  test("udp.Client ↔ socat UDP-RECVFROM … fork PIPE (echo)", async () => {
    const port = await freePort();
    await using _peer = await spawnPeer("socat", ["-d", "-d", `UDP-RECVFROM:${port},bind=127.0.0.1,fork`, "PIPE"], /receiving on/);
    await using client = new udp.Client({ localHost: "127.0.0.1", timeoutMs: 5000 });
    await client.sendDatagram({ remoteHost: "127.0.0.1", remotePort: port, data: "ping" });
    const d = await client.receiveDatagram();
    expect(d.data.toString()).toBe("ping");
    expect(d.remotePort).toBe(port);
  });
});
