import { connect, type Socket } from "node:net";
import * as websocket from "@pirouette/websocket";
import { WebSocket, type ClientOptions, type RawData } from "ws";

/** A started listener on 127.0.0.1:0, stopped by `await using`. */
export async function startWs(
  services: readonly [object, string | Record<string, unknown>][],
  options: websocket.WebSocketListenerOptions = {},
): Promise<websocket.Listener & AsyncDisposable & { url: (path: string) => string }> {
  const l = new websocket.Listener(0, { host: "127.0.0.1", gracefulStopTimeoutMs: 2000, closeTimeoutMs: 1000, ...options });
  for (const [svc, opts] of services) await l.attach(svc, opts);
  await l.start();
  return Object.assign(l, { url: (path: string) => `ws://127.0.0.1:${l.port}${path}` });
}

/** A plain `ws` client (a peer we did not write), open. */
export function open(url: string, protocols?: string[], options: ClientOptions = {}): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, protocols, options);
    ws.once("open", () => resolve(ws));
    ws.once("error", reject);
  });
}

/** The next message on a plain client, as text (or bytes for binary). */
export function next(ws: WebSocket): Promise<string | Buffer> {
  return new Promise((resolve) => ws.once("message", (data: RawData, isBinary: boolean) => resolve(isBinary ? (data as Buffer) : (data as Buffer).toString("utf8"))));
}

/** Collect `n` messages. */
export function take(ws: WebSocket, n: number): Promise<(string | Buffer)[]> {
  return new Promise((resolve) => {
    const got: (string | Buffer)[] = [];
    const on = (data: RawData, isBinary: boolean): void => {
      got.push(isBinary ? (data as Buffer) : (data as Buffer).toString("utf8"));
      if (got.length === n) {
        ws.off("message", on);
        resolve(got);
      }
    };
    ws.on("message", on);
  });
}

/** Resolves with the close code and reason. */
export function closed(ws: WebSocket): Promise<{ code: number; reason: string }> {
  return new Promise((resolve) => {
    if (ws.readyState === WebSocket.CLOSED) resolve({ code: 1006, reason: "" });
    ws.once("close", (code: number, reason: Buffer) => resolve({ code, reason: reason.toString("utf8") }));
  });
}

/** The upgrade's HTTP status when it is refused. */
export function refusedWith(url: string, protocols?: string[], options: ClientOptions = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, protocols, options);
    ws.on("unexpected-response", (_req, res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
      ws.terminate();
    });
    ws.on("error", () => undefined);
    ws.once("open", () => reject(new Error("the upgrade was accepted")));
  });
}

/** A raw TCP socket, upgraded (we write frames by hand). */
export async function rawUpgrade(port: number, path: string): Promise<Socket> {
  const s = await new Promise<Socket>((resolve, reject) => {
    const sock = connect(port, "127.0.0.1", () => resolve(sock));
    sock.once("error", reject);
  });
  s.on("error", () => undefined);
  s.write(
    `GET ${path} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`,
  );
  await new Promise<void>((resolve, reject) => {
    let got = "";
    const on = (d: Buffer): void => {
      got += d.toString("latin1");
      if (got.includes("\r\n\r\n")) {
        s.off("data", on);
        if (got.startsWith("HTTP/1.1 101")) resolve();
        else reject(new Error(got));
      }
    };
    s.on("data", on);
  });
  return s;
}

/** A client frame: first byte (FIN/RSV/opcode), payload, masked unless told otherwise. */
export function frame(first: number, payload: Buffer, masked = true): Buffer {
  const len = payload.length;
  const header: number[] = [first];
  const maskBit = masked ? 0x80 : 0;
  if (len < 126) header.push(maskBit | len);
  else if (len < 65536) header.push(maskBit | 126, len >> 8, len & 0xff);
  else throw new Error("test frames are small");
  if (!masked) return Buffer.concat([Buffer.from(header), payload]);
  const mask = Buffer.from([1, 2, 3, 4]);
  const body = Buffer.from(payload.map((b, i) => b ^ (mask[i % 4] as number)));
  return Buffer.concat([Buffer.from(header), mask, body]);
}

export async function waitFor(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A throwaway self-signed certificate for 127.0.0.1 (openssl). */
export async function selfSigned(): Promise<{ key: string; cert: string }> {
  const { execFileSync } = await import("node:child_process");
  const { mkdtempSync, readFileSync, rmSync } = await import("node:fs");
  const { tmpdir } = await import("node:os");
  const { join } = await import("node:path");
  const dir = mkdtempSync(join(tmpdir(), "pirouette-tls-"));
  try {
    execFileSync("openssl", [
      "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
      "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
      "-keyout", join(dir, "key.pem"), "-out", join(dir, "cert.pem"),
    ], { stdio: "ignore" });
    return { key: readFileSync(join(dir, "key.pem"), "utf8"), cert: readFileSync(join(dir, "cert.pem"), "utf8") };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
