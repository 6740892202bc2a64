/**
 * Interop with peers we did not write: socat and OpenBSD netcat (Debian packages `socat` and
 * `netcat-openbsd`), including socat's OpenSSL addresses for TLS.
 */
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, test } from "vitest";
import * as tcp from "../src/index.ts";
import { makeCerts, run, spawnServer, type Certs } from "./helpers.ts";

let certs: Certs;
beforeAll(() => {
  certs = makeCerts();
});
afterAll(() => certs.cleanup());

const cleanups: (() => PromiseLike<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function upperLines(options: tcp.ListenerOptions = {}): Promise<tcp.Listener> {
  const listener = new tcp.Listener(0, { localHost: "127.0.0.1", framing: "line", ...options });
  await listener.attach({ onBytes: (line) => line.toString().toUpperCase() });
  await listener.start();
  cleanups.push(() => listener.gracefulStop());
  return listener;
}

describe("interop: other programs as clients of tcp.Listener", () => {
  test("socat", async () => {
    const listener = await upperLines();
    const r = await run("socat", ["-t", "5", "-", `TCP:127.0.0.1:${listener.port}`], "hello\r\nworld\n");
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("HELLO\nWORLD\n");
  });

  test("nc (OpenBSD netcat)", async () => {
    const listener = await upperLines();
    const r = await run("nc", ["-N", "127.0.0.1", String(listener.port)], "one\ntwo\nthree\n");
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("ONE\nTWO\nTHREE\n");
  });

  test("socat over TLS, verifying our certificate with the test CA; an unknown CA fails", async () => {
    const listener = await upperLines({ secureSocket: { key: certs.serverKey, cert: certs.serverCert } });
    const ok = await run("socat", ["-t", "5", "-", `OPENSSL:127.0.0.1:${listener.port},cafile=${join(certs.dir, "ca.pem")},commonname=localhost`], "secret\n");
    expect(ok.code).toBe(0);
    expect(ok.stdout).toBe("SECRET\n");
    const bad = await run("socat", ["-t", "5", "-", `OPENSSL:127.0.0.1:${listener.port},cafile=${join(certs.dir, "other.pem")},commonname=localhost`], "secret\n");
    expect(bad.code).not.toBe(0);
    expect(bad.stdout).toBe("");
  });

  test("socat presenting a client certificate to a mutual-TLS listener", async () => {
    const listener = await upperLines({ secureSocket: { key: certs.serverKey, cert: certs.serverCert, ca: certs.ca, requestCert: true } });
    const addr = (extra: string): string =>
      `OPENSSL:127.0.0.1:${listener.port},cafile=${join(certs.dir, "ca.pem")},commonname=localhost${extra}`;
    const ok = await run("socat", ["-t", "5", "-", addr(`,cert=${join(certs.dir, "client.pem")},key=${join(certs.dir, "client.key")}`)], "mtls\n");
    expect(ok.stdout).toBe("MTLS\n");
    const anon = await run("socat", ["-t", "5", "-", addr("")], "mtls\n");
    expect(anon.stdout).toBe("");
  });
});

describe("interop: tcp.Client against other programs as servers", () => {
  test("socat echo server (TCP-LISTEN … PIPE)", async () => {
    await using server = await spawnServer("socat", ["-d", "-d", "TCP-LISTEN:0,bind=127.0.0.1,reuseaddr,fork", "PIPE"], /listening on AF=2 127\.0\.0\.1:(\d+)/);
    await using client = new tcp.Client("127.0.0.1", server.port, { framing: { type: "length-prefixed", headerBytes: 2 } });
    const frames = Array.from({ length: 100 }, (_, i) => "x".repeat(i * 7));
    await client.writeMany(frames);
    const got = await client
      .stream()
      .take(frames.length)
      .map((b) => b.toString())
      .toArray();
    expect(got).toEqual(frames);
  });

  test("socat TLS echo server (OPENSSL-LISTEN) verified with the test CA; an unknown CA is refused", async () => {
    await using server = await spawnServer(
      "socat",
      [
        "-d",
        "-d",
        `OPENSSL-LISTEN:0,bind=127.0.0.1,reuseaddr,fork,cert=${join(certs.dir, "server.pem")},key=${join(certs.dir, "server.key")},verify=0`,
        "PIPE",
      ],
      /listening on AF=2 127\.0\.0\.1:(\d+)/,
    );
    await using client = new tcp.Client("localhost", server.port, { framing: "line", secureSocket: { ca: certs.ca } });
    await client.writeBytes("over tls");
    expect((await client.readBytes(5000)).toString()).toBe("over tls");
    const stranger = new tcp.Client("localhost", server.port, { secureSocket: { ca: certs.otherCa } });
    await expect(stranger.connect()).rejects.toMatchObject({ code: "TCP_TLS" });
    await stranger.close();
  });
});
