import { request } from "node:http";
import * as http from "@pirouette/http";
import { describe, expect, test } from "vitest";
import { request as httpsRequest } from "node:https";
import { raw, selfSigned, socketTo, startListener, untilClosed } from "./helpers.ts";

const echo = { resources: { "POST /echo": (req: http.Request) => ({ bytes: (req.body as Uint8Array | undefined)?.length ?? 0 }) } };

describe("http limits", () => {
  test("a body over 1 MiB is answered 413 (announced length) and the connection is closed", async () => {
    const errors: Error[] = [];
    await using l = await startListener([[{ onError: (e: Error) => errors.push(e) }, echo]]);
    const ok = await raw(`${l.url}/echo`, { method: "POST", headers: { "content-type": "application/octet-stream" }, body: Buffer.alloc(1024 * 1024) });
    expect([ok.status, JSON.parse(ok.body)]).toEqual([201, { bytes: 1024 * 1024 }]);
    const big = await raw(`${l.url}/echo`, { method: "POST", headers: { "content-type": "application/octet-stream" }, body: Buffer.alloc(1024 * 1024 + 1) });
    expect(big.status).toBe(413);
    expect(big.headers["connection"]).toBe("close");
    expect((JSON.parse(big.body) as { error: { code: string } }).error.code).toBe("PAYLOAD_TOO_LARGE");
    expect(errors).toEqual([]);
  });

  test("a chunked body over the limit is cut off with 413", async () => {
    await using l = await startListener([[{}, echo]], { maxBodyBytes: 64 * 1024 });
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(`${l.url}/echo`, { method: "POST", headers: { "transfer-encoding": "chunked", "content-type": "application/octet-stream" }, agent: false }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on("error", reject);
      const chunk = Buffer.alloc(16 * 1024);
      let sent = 0;
      const pump = (): void => {
        while (sent < 40) {
          sent++;
          if (!req.write(chunk)) {
            req.once("drain", pump);
            return;
          }
        }
        req.end();
      };
      pump();
    }).catch((e: unknown) => (e as NodeJS.ErrnoException).code ?? "error");
    // Either the 413 arrives, or the server closed the connection while we were still sending.
    expect([413, "ECONNRESET", "EPIPE"]).toContain(status);
  });

  test("slow request headers: the connection is closed by headersTimeout", async () => {
    await using l = await startListener([[{}, echo]], { headersTimeoutMs: 300, requestTimeoutMs: 1000 });
    const s = await socketTo(l.port);
    const closed = untilClosed(s);
    s.write("GET /echo HTTP/1.1\r\nHost: x\r\n"); // never finishes the headers
    const started = Date.now();
    const got = await closed;
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(got === "" || got.startsWith("HTTP/1.1 408")).toBe(true);
    // A legitimate request still works.
    expect((await raw(`${l.url}/echo`, { method: "POST" })).status).toBe(201);
  });

  test("maxConnections refuses connections beyond the cap", async () => {
    await using l = await startListener([[{}, echo]], { maxConnections: 2 });
    const a = await socketTo(l.port);
    const b = await socketTo(l.port);
    const c = await socketTo(l.port);
    const cClosed = untilClosed(c);
    await cClosed; // the third is dropped by the server
    a.destroy();
    b.destroy();
  });

  test("TLS: the listener serves HTTPS and the caller reports it", async () => {
    const { key, cert } = await selfSigned();
    await using l = await startListener([[{}, { resources: { "GET /secure": (_r: http.Request, c: http.Caller) => ({ secure: c.isSecure }) } }]], { tls: { key, cert } });
    expect(l.isSecure).toBe(true);
    const body = await new Promise<string>((resolve, reject) => {
      const req = httpsRequest(`https://127.0.0.1:${l.port}/secure`, { ca: cert, agent: false }, (res) => {
        let text = "";
        res.on("data", (d: Buffer) => (text += d.toString()));
        res.on("end", () => resolve(text));
      });
      req.on("error", reject);
      req.end();
    });
    expect(JSON.parse(body)).toEqual({ secure: true });
  });

  test("options are validated", () => {
    expect(() => new http.Listener(70000)).toThrow(/port/);
  });
});
