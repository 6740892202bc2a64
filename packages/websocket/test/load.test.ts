import type * as websocket from "@pirouette/websocket";
import { describe, expect, test } from "vitest";
import type { WebSocket } from "ws";
import { open, sleep, startWs, waitFor } from "./helpers.ts";

const CLIENTS = 1000;
const SLOW = 100;

describe("websocket under load", () => {
  test("1,000 plain ws clients, 100 never read: RSS stays bounded and fast clients keep receiving", async () => {
    const callers = new Set<websocket.Caller>();
    let closes = 0;
    const svc = {
      onOpen: (caller: websocket.Caller) => void callers.add(caller),
      onClose: (_f: websocket.CloseFrame, caller: websocket.Caller) => {
        callers.delete(caller);
        closes++;
      },
      onError: () => undefined,
    };
    await using l = await startWs([[svc, "/prices"]], { pingIntervalMs: 0 });
    const clients: WebSocket[] = [];
    const received = new Array<number>(CLIENTS).fill(0);
    for (let batch = 0; batch < CLIENTS; batch += 100) {
      await Promise.all(
        Array.from({ length: 100 }, async (_, j) => {
          const i = batch + j;
          const ws = await open(l.url("/prices"));
          ws.on("error", () => undefined);
          if (i < SLOW) ws.pause(); // never reads
          else ws.on("message", () => void (received[i] = (received[i] as number) + 1));
          clients[i] = ws;
        }),
      );
    }
    await waitFor(() => callers.size === CLIENTS, "every connection to open", 20_000);
    await sleep(200);
    global.gc?.();
    const baseline = process.memoryUsage().rss;

    // 1 KiB prices at 50/s for 3 s, to every connection.
    const payload = "p".repeat(1024);
    let ticks = 0;
    const timer = setInterval(() => {
      ticks++;
      const msg = `${ticks} ${payload}`;
      for (const c of callers) if (c.isOpen) void c.writeTextMessage(msg);
    }, 20);
    let peak = baseline;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 50);
    await sleep(3000);
    const before = received.slice();
    await sleep(500);
    clearInterval(timer);
    clearInterval(sampler);

    const fast = received.slice(SLOW);
    expect(Math.min(...fast)).toBeGreaterThan(ticks / 2);
    for (let i = SLOW; i < CLIENTS; i++) expect(received[i]).toBeGreaterThan(before[i] as number);
    expect(peak - baseline).toBeLessThan(200 * 1024 * 1024);

    for (const ws of clients) ws.terminate();
    await waitFor(() => closes === CLIENTS, "every onClose", 20_000);
    expect(l.connectionCount).toBe(0);
  }, 60_000);
});
