import { afterAll, afterEach, beforeAll, describe, expect, test } from "vitest";
import * as tcp from "../src/index.ts";
import { makeCerts, waitFor, type Certs } from "./helpers.ts";

let certs: Certs;
beforeAll(() => {
  certs = makeCerts(); // a throwaway CA and certificates, made by openssl
});
afterAll(() => certs.cleanup());

const cleanups: (() => PromiseLike<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function tlsListener(options: tcp.ListenerOptions = {}, errors: Error[] = []): Promise<tcp.Listener> {
  const listener = new tcp.Listener(0, {
    localHost: "127.0.0.1",
    framing: "line",
    ...options,
    secureSocket: { key: certs.serverKey, cert: certs.serverCert, ...options.secureSocket },
  });
  await listener.attach({
    onBytes: (line, caller) => `${caller.isSecure ? "secure" : "plain"}:${line.toString()}`,
    onError: (e) => void errors.push(e),
  });
  await listener.start();
  cleanups.push(() => listener.immediateStop());
  return listener;
}

function client(port: number, options: tcp.ClientOptions, host = "127.0.0.1"): tcp.Client {
  const c = new tcp.Client(host, port, { framing: "line", connectTimeoutMs: 5000, ...options });
  cleanups.push(() => c.close());
  return c;
}

describe("TLS", () => {
  test("a client trusting the CA talks to a TLS listener (by IP and by host name)", async () => {
    const listener = await tlsListener();
    const c = client(listener.port, { secureSocket: { ca: certs.ca } });
    await c.writeBytes("hi");
    expect((await c.readBytes()).toString()).toBe("secure:hi");
    const byName = client(listener.port, { secureSocket: { ca: certs.ca } }, "localhost");
    await byName.writeBytes("there");
    expect((await byName.readBytes()).toString()).toBe("secure:there");
  });

  test("verification is on by default: a CA the client does not know is rejected (TCP_TLS)", async () => {
    const errors: Error[] = [];
    const listener = await tlsListener({}, errors);
    const c = client(listener.port, { secureSocket: {} });
    const err = await c.connect().catch((e: unknown) => e);
    expect(err).toMatchObject({ name: "TcpError", code: "TCP_TLS" });
    expect(((err as Error).cause as NodeJS.ErrnoException).code).toMatch(/UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED|UNABLE_TO_GET_ISSUER_CERT/);
    // the wrong CA is no better
    const other = client(listener.port, { secureSocket: { ca: certs.otherCa } });
    await expect(other.connect()).rejects.toMatchObject({ code: "TCP_TLS" });
    // the server hears about the failed handshakes
    await waitFor(() => errors.length >= 1);
    expect(errors[0]).toMatchObject({ code: "TCP_TLS" });
  });

  test("a certificate for another name is rejected (wrong SAN)", async () => {
    const listener = await tlsListener();
    const c = client(listener.port, { secureSocket: { ca: certs.ca, servername: "wrong.example" } });
    const err = await c.connect().catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "TCP_TLS" });
    expect(((err as Error).cause as NodeJS.ErrnoException).code).toBe("ERR_TLS_CERT_ALTNAME_INVALID");
  });

  test("rejectUnauthorized: false is an explicit opt-out", async () => {
    const listener = await tlsListener();
    const c = client(listener.port, { secureSocket: { rejectUnauthorized: false } });
    await c.writeBytes("insecure");
    expect((await c.readBytes()).toString()).toBe("secure:insecure");
  });

  test("mutual TLS: the listener requires a client certificate from its CA", async () => {
    const errors: Error[] = [];
    const listener = await tlsListener({ secureSocket: { ca: certs.ca, requestCert: true } }, errors);
    const good = client(listener.port, { secureSocket: { ca: certs.ca, key: certs.clientKey, cert: certs.clientCert } });
    await good.writeBytes("me");
    expect((await good.readBytes()).toString()).toBe("secure:me");

    // With TLS 1.3 the client may finish its handshake before the server checks its
    // certificate; either the connect or the first read fails.
    const expectRefused = async (c: tcp.Client): Promise<void> => {
      const err = await c
        .connect()
        .then(() => c.writeBytes("let me in"))
        .then(() => c.readBytes())
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      expect(err).toMatchObject({ name: "TcpError" });
      expect(["TCP_TLS", "CLOSED"]).toContain((err as tcp.TcpError).code);
    };
    await expectRefused(client(listener.port, { secureSocket: { ca: certs.ca } }));
    await expectRefused(client(listener.port, { secureSocket: { ca: certs.ca, key: certs.otherClientKey, cert: certs.otherClientCert } }));
    await waitFor(() => errors.filter((e) => (e as tcp.TcpError).code === "TCP_TLS").length >= 2);
  });
});
