import type { Socket } from "node:net";
import { PushSource } from "@pirouette/core";
import type * as http from "@pirouette/http";
import { describe, expect, test } from "vitest";
import { sleep, socketTo, startListener, waitFor } from "./helpers.ts";

const CLIENTS = 1000;
const SLOW = 100;

describe("server-sent events under load", () => {
  test("1,000 clients, 100 never read: RSS stays bounded, fast clients keep receiving, disconnects close every source", async () => {
    const hub = new Set<PushSource<http.SseEvent>>();
    let sourcesClosed = 0;
    await using l = await startListener(
      [
        [
          {},
          {
            resources: {
              "GET /prices": () => {
                const src: PushSource<http.SseEvent> = new PushSource<http.SseEvent>({
                  highWaterMark: 64,
                  limit: 256,
                  overflow: "drop-oldest", // a slow subscriber loses old prices, it never grows the heap
                  onClose: () => {
                    hub.delete(src);
                    sourcesClosed++;
                  },
                });
                hub.add(src);
                return src.stream;
              },
            },
          },
        ],
      ],
      { sse: { heartbeatIntervalMs: 0, stallTimeoutMs: 60_000 } },
    );

    const sockets: Socket[] = [];
    const received = new Array<number>(CLIENTS).fill(0);
    for (let batch = 0; batch < CLIENTS; batch += 100) {
      await Promise.all(
        Array.from({ length: 100 }, async (_, j) => {
          const i = batch + j;
          const s = await socketTo(l.port);
          s.on("error", () => undefined);
          s.write("GET /prices HTTP/1.1\r\nHost: load\r\n\r\n");
          if (i < SLOW) {
            s.pause(); // never reads
          } else {
            s.on("data", (d: Buffer) => {
              let at = d.indexOf("data: ");
              while (at >= 0) {
                received[i] = (received[i] as number) + 1;
                at = d.indexOf("data: ", at + 6);
              }
            });
          }
          sockets[i] = s;
        }),
      );
    }
    await waitFor(() => hub.size === CLIENTS, "every client to be subscribed", 20_000);
    await sleep(200);
    global.gc?.();
    const baseline = process.memoryUsage().rss;

    // 1 KiB prices at 50/s for 3 s.
    const payload = "p".repeat(1024);
    let ticks = 0;
    const timer = setInterval(() => {
      ticks++;
      const e = { id: String(ticks), event: "price", data: payload };
      for (const src of hub) src.push(e);
    }, 20);
    let peak = baseline;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 50);
    await sleep(3000);
    const before = received.slice();
    await sleep(500);
    clearInterval(timer);
    clearInterval(sampler);

    const fast = received.slice(SLOW);
    const minFast = Math.min(...fast);
    // Fast clients kept receiving while 100 others never read (and still in the last 500 ms).
    expect(minFast).toBeGreaterThan(ticks / 2);
    for (let i = SLOW; i < CLIENTS; i++) expect(received[i]).toBeGreaterThan(before[i] as number);
    // Bounded memory: the server does not buffer for the slow clients beyond the socket buffers.
    expect(peak - baseline).toBeLessThan(200 * 1024 * 1024);
    expect(l.activeEventStreams).toBe(CLIENTS);

    for (const s of sockets) s.destroy();
    await waitFor(() => sourcesClosed === CLIENTS, "every source to be closed after the disconnects", 20_000);
    await waitFor(() => l.activeEventStreams === 0, "every session to end");
    expect(hub.size).toBe(0);
  }, 60_000);
});
