import { connect } from "node:net";
import type * as websocket from "@pirouette/websocket";
import { describe, expect, test } from "vitest";
import { closed, frame, next, open, rawUpgrade, sleep, waitFor } from "./helpers.ts";
import { startWs } from "./helpers.ts";

function recorder() {
  const errors: websocket.WebSocketError[] = [];
  const closes: number[] = [];
  return {
    errors,
    closes,
    service: {
      onTextMessage: (t: string) => `ok ${t.length}`,
      onBinaryMessage: () => undefined,
      onError: (e: Error) => void errors.push(e as websocket.WebSocketError),
      onClose: (f: websocket.CloseFrame) => void closes.push(f.status),
    },
  };
}

describe("websocket bad input", () => {
  test("a message over maxFrameSize (1 MiB by default) closes with 1009 and reaches onError; others are unaffected", async () => {
    const r = recorder();
    await using l = await startWs([[r.service, "/x"]]);
    const bystander = await open(l.url("/x"));
    const ws = await open(l.url("/x"));
    ws.send("a".repeat(1024 * 1024)); // exactly the limit: fine
    expect(await next(ws)).toBe(`ok ${1024 * 1024}`);
    const done = closed(ws);
    ws.send("a".repeat(1024 * 1024 + 1));
    expect((await done).code).toBe(1009);
    await waitFor(() => r.errors.length === 1, "onError");
    expect(r.errors[0]).toMatchObject({ code: "MESSAGE_TOO_LARGE", closeCode: 1009 });
    bystander.send("still here");
    expect(await next(bystander)).toBe("ok 10");
  });

  test("malformed frames (RSV1, unmasked, bad opcode, bad UTF-8, reserved close code) close the connection without a crash", async () => {
    const r = recorder();
    await using l = await startWs([[r.service, "/x"]]);
    const cases: [string, Buffer][] = [
      ["rsv1", frame(0xc1, Buffer.from("hi"))],
      ["unmasked", frame(0x81, Buffer.from("hi"), false)],
      ["opcode", frame(0x83, Buffer.from("hi"))],
      ["utf8", frame(0x81, Buffer.from([0xc3, 0x28]))],
      ["close-1006", frame(0x88, Buffer.from([0x03, 0xee]))],
      ["fragmented-control", frame(0x09, Buffer.from("p"))],
    ];
    for (const [name, bytes] of cases) {
      const s = await rawUpgrade(l.port, "/x");
      const gone = new Promise<Buffer>((resolve) => {
        const parts: Buffer[] = [];
        s.on("data", (d: Buffer) => parts.push(d));
        s.once("close", () => resolve(Buffer.concat(parts)));
      });
      s.write(bytes);
      const answer = await gone;
      // The server's close frame: opcode 0x88 and a status of 1002 (protocol) or 1007 (bad data).
      expect(answer[0], name).toBe(0x88);
      expect([1002, 1007], name).toContain(answer.readUInt16BE(2));
    }
    await waitFor(() => r.errors.length === cases.length, "onError for each");
    expect(new Set(r.errors.map((e) => e.code))).toEqual(new Set(["PROTOCOL"]));
    const ok = await open(l.url("/x"));
    ok.send("fine");
    expect(await next(ok)).toBe("ok 4");
  });

  test("an upgrade with 2,000 headers or a garbage request does not crash the listener", async () => {
    const r = recorder();
    await using l = await startWs([[r.service, "/x"]]);
    const headers = Array.from({ length: 2000 }, (_, i) => `x-h${i}: ${i}`).join("\r\n");
    for (const req of [
      `GET /x HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n${headers}\r\n\r\n`,
      `GET /x HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 99\r\n\r\n`,
      "\x16\x03\x01 garbage\r\n\r\n",
    ]) {
      const s = connect(l.port, "127.0.0.1");
      s.on("error", () => undefined);
      let got = "";
      s.on("data", (d: Buffer) => (got += d.toString("latin1")));
      await new Promise<void>((resolve) => s.once("connect", () => resolve()));
      s.write(req);
      await new Promise((resolve) => s.once("close", resolve));
      expect(got).toMatch(/^HTTP\/1\.1 4\d\d/);
    }
    const ok = await open(l.url("/x"));
    ok.send("alive");
    expect(await next(ok)).toBe("ok 5");
  });

  test("fan-out to a client that does not read: closed as a slow consumer (1008) once maxBufferedBytes is queued", async () => {
    const r = recorder();
    let timer: NodeJS.Timeout | undefined;
    let sent = 0;
    const svc = {
      ...r.service,
      onOpen(caller: websocket.Caller) {
        const chunk = "z".repeat(16 * 1024);
        // A broadcaster that does not await its writes.
        timer = setInterval(() => {
          if (!caller.isOpen) return clearInterval(timer);
          sent++;
          void caller.writeTextMessage(chunk);
        }, 1);
      },
    };
    await using l = await startWs([[svc, "/fanout"]], { maxBufferedBytes: 256 * 1024 });
    const ws = await open(l.url("/fanout"));
    ws.pause(); // never reads
    await waitFor(() => r.closes.length === 1, "the connection to close", 20_000);
    clearInterval(timer);
    expect(r.errors.map((e) => [e.code, e.closeCode])).toEqual([["SLOW_CONSUMER", 1008]]);
    expect(sent * 16 * 1024).toBeLessThan(512 * 1024 * 1024);
    ws.terminate();
  });

  test("a writer that awaits its writes to a client that does not read: closed after sendTimeoutMs", async () => {
    const r = recorder();
    const svc = {
      ...r.service,
      async onTextMessage(_t: string, caller: websocket.Caller) {
        const chunk = "z".repeat(64 * 1024);
        while (caller.isOpen) await caller.writeTextMessage(chunk).catch(() => undefined);
      },
    };
    await using l = await startWs([[svc, "/flood"]], { sendTimeoutMs: 300 });
    const ws = await open(l.url("/flood"));
    ws.pause();
    ws.send("go");
    await waitFor(() => r.closes.length === 1, "the connection to close", 20_000);
    expect(r.errors.map((e) => [e.code, e.closeCode])).toEqual([["SLOW_CONSUMER", 1008]]);
    ws.terminate();
  });

  test("half-open connections (no pong) are terminated by the ping sweep", async () => {
    const r = recorder();
    await using l = await startWs([[r.service, "/x"]], { pingIntervalMs: 100 });
    const healthy = await open(l.url("/x"));
    const silent = await open(l.url("/x"), undefined, { autoPong: false });
    const gone = closed(silent);
    await gone;
    await waitFor(() => r.closes.includes(1006), "the silent connection to close");
    await sleep(300);
    healthy.send("still");
    expect(await next(healthy)).toBe("ok 5");
  });
});
