/**
 * Fault injection against the real Mosquitto (reliability.md §4, MQTT): persistent sessions,
 * a connection cut mid-stream (through a TCP proxy we control, instead of restarting the
 * shared broker), reconnect backoff, duplicate clientIds, the bounded offline queue, packet
 * size limits, the last will, an unreachable broker.
 */
import { afterEach, describe, expect, test } from "vitest";
import * as mqtt from "../src/index.ts";
import { body, captureLogger, discardSession, MQTT_URL, sleep, TcpProxy, unique, uniqueClientId, waitFor } from "./helpers.ts";

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

async function proxy(): Promise<TcpProxy> {
  const p = await new TcpProxy().start();
  cleanups.push(() => p.close());
  return p;
}

function client(url = MQTT_URL, clientId?: string, options: mqtt.MqttClientOptions = {}): mqtt.Client {
  const c = new mqtt.Client(url, clientId, options);
  cleanups.push(() => c.close());
  return c;
}

const fast: mqtt.ReconnectOptions = { initialDelayMs: 50, maxDelayMs: 400 };

/** A per-run ledger: ids 0..n-1, counts sightings per id. */
class Ledger {
  readonly seen = new Map<number, number>();
  readonly n: number;
  constructor(n: number) {
    this.n = n;
  }
  add(id: number): void {
    this.seen.set(id, (this.seen.get(id) ?? 0) + 1);
  }
  get lost(): number {
    let lost = 0;
    for (let i = 0; i < this.n; i++) if (!this.seen.has(i)) lost++;
    return lost;
  }
  get duplicates(): number {
    let d = 0;
    for (const c of this.seen.values()) d += c - 1;
    return d;
  }
}

describe("mqtt reliability", () => {
  test("QoS 1 persistent session: stop the subscriber, publish, restart it → 0 lost", async () => {
    const topic = `${unique("persist")}/orders`;
    const clientId = uniqueClientId("persist");
    cleanups.push(() => discardSession(clientId));
    const N = 500;
    const ledger = new Ledger(N);
    const onMessage = (m: mqtt.Message): void => ledger.add(body<{ id: number }>(m.payload).id);

    const l1 = new mqtt.Listener(MQTT_URL, clientId, topic, { cleanStart: false });
    await l1.attach({ onMessage });
    await l1.start(); // creates the session and its subscription
    await l1.gracefulStop();

    const pub = client();
    await Promise.all(Array.from({ length: N }, (_, id) => pub.publish(topic, { payload: { id }, qos: 1 })));

    const l2 = new mqtt.Listener(MQTT_URL, clientId, topic, { cleanStart: false, concurrency: 4, orderBy: false });
    cleanups.push(() => l2.immediateStop());
    await l2.attach({ onMessage });
    await l2.start();
    await waitFor(() => ledger.seen.size === N, `${N} messages`, 30_000);
    expect(ledger.lost).toBe(0);
    expect(ledger.duplicates).toBe(0);
  });

  test("connection cut mid-stream (broker 'restart'): the listener reconnects, resumes its session, 0 lost", async () => {
    const topic = `${unique("cut")}/orders`;
    const clientId = uniqueClientId("cut");
    cleanups.push(() => discardSession(clientId));
    const p = await proxy();
    // Mosquitto queues at most max_queued_messages (1000 by default) for an offline session and
    // drops the rest: fewer than that are published during the outage.
    const N = 1000;
    const ledger = new Ledger(N);
    const errors: Error[] = [];
    const l = new mqtt.Listener(p.url, clientId, topic, { cleanStart: false, reconnect: fast, concurrency: 8, orderBy: false });
    cleanups.push(() => l.immediateStop());
    await l.attach({
      async onMessage(m: mqtt.Message) {
        await sleep(0);
        ledger.add(body<{ id: number }>(m.payload).id);
      },
      onError: (e: Error) => void errors.push(e),
    });
    await l.start();
    const pub = client();
    const publishing = (async () => {
      for (let id = 0; id < N; id++) {
        await pub.publish(topic, { payload: { id }, qos: 1 });
        if (id % 100 === 0) await sleep(10);
      }
    })();
    await waitFor(() => ledger.seen.size > N / 4, "a quarter of the messages");
    p.down(); // every proxied connection dies; new ones are refused
    await sleep(800);
    p.up();
    await publishing;
    await waitFor(() => ledger.seen.size === N, `all ${N} messages`, 30_000);
    expect(ledger.lost).toBe(0);
    expect(l.reconnects).toBeGreaterThanOrEqual(1);
    expect(errors.some((e) => mqtt.MqttError.isMqttError(e) && e.code === "MQTT_CONNECTION")).toBe(true);
    // At least once: duplicates are possible (messages handled whose PUBACK the cut swallowed), bounded by the in-flight window.
    expect(ledger.duplicates).toBeLessThanOrEqual(32);
  });

  test("a message whose handler was running when the connection died is redelivered (duplicate flag)", async () => {
    const topic = `${unique("inflight")}/x`;
    const clientId = uniqueClientId("inflight");
    cleanups.push(() => discardSession(clientId));
    const p = await proxy();
    const deliveries: mqtt.Message[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const l = new mqtt.Listener(p.url, clientId, topic, { cleanStart: false, reconnect: fast });
    cleanups.push(() => l.immediateStop());
    await l.attach({
      async onMessage(m: mqtt.Message) {
        deliveries.push(m);
        if (deliveries.length === 1) await gate; // still running when the connection dies
      },
    });
    await l.start();
    await client().publish(topic, { payload: "once", qos: 1 });
    await waitFor(() => deliveries.length === 1, "the first delivery");
    p.cut();
    await waitFor(() => l.reconnects >= 1, "the reconnect");
    release(); // its PUBACK belongs to the dead connection and is dropped
    await waitFor(() => deliveries.length === 2, "the redelivery");
    expect(deliveries[1]?.duplicate).toBe(true);
    expect(Buffer.from(deliveries[1]?.payload ?? []).toString()).toBe("once");
  });

  test("a clean-session listener gets its subscriptions restored after the connection is lost", async () => {
    const topic = `${unique("resub")}/x`;
    const p = await proxy();
    const got: string[] = [];
    const l = new mqtt.Listener(p.url, undefined, topic, { reconnect: fast });
    cleanups.push(() => l.immediateStop());
    await l.attach({ onMessage: (m: mqtt.Message) => void got.push(Buffer.from(m.payload).toString()) });
    await l.start();
    p.cut();
    await waitFor(() => l.reconnects >= 1 && l.isConnected, "the reconnect");
    await sleep(100); // the SUBSCRIBE goes out right after the CONNACK
    await client().publish(topic, { payload: "after" });
    await waitFor(() => got.includes("after"), "a message after the reconnect");
  });

  test("reconnect backoff is capped exponential with jitter: few attempts during an outage", async () => {
    const p = await proxy();
    const l = new mqtt.Listener(p.url, undefined, `${unique("backoff")}/x`, {
      reconnect: { initialDelayMs: 100, maxDelayMs: 800, jitter: 0.2 },
    });
    cleanups.push(() => l.immediateStop());
    await l.attach({ onMessage: () => undefined, onError: () => undefined });
    await l.start();
    const before = p.attempts;
    p.down();
    await sleep(3000);
    const attempts = p.attempts - before;
    p.up();
    // 100, 200, 400, 800, 800 … ms: about 6 attempts in 3 s (a fixed 100 ms period would make 30).
    expect(attempts).toBeGreaterThanOrEqual(3);
    expect(attempts).toBeLessThanOrEqual(10);
    await waitFor(() => l.isConnected, "the reconnect after the outage", 10_000);
  });

  test("a duplicate clientId ends in MQTT_CLIENT_ID_CONFLICT instead of flapping forever", async () => {
    const topic = `${unique("dup")}/x`;
    const clientId = uniqueClientId("dup");
    const conflicts: mqtt.MqttError[] = [];
    const mk = (): mqtt.Listener => {
      const l = new mqtt.Listener(MQTT_URL, clientId, topic, { reconnect: { initialDelayMs: 50, maxDelayMs: 200 } });
      cleanups.push(() => l.immediateStop());
      return l;
    };
    const a = mk();
    const b = mk();
    const svc = {
      onMessage: () => undefined,
      onError: (e: Error) => {
        if (mqtt.MqttError.isMqttError(e) && e.code === "MQTT_CLIENT_ID_CONFLICT") conflicts.push(e);
      },
    };
    await a.attach({ ...svc });
    await b.attach({ ...svc });
    await a.start();
    await b.start(); // takes the session over from a
    await waitFor(() => conflicts.length >= 1, "a client-id conflict", 20_000);
    // Mosquitto 2.0 closes the socket (no MQTT 5 DISCONNECT 0x8E): detected by the quick closes.
    expect(conflicts[0]?.message).toMatch(/another client probably uses clientId/);
    // The flapping stops: one of them stays connected.
    await sleep(500);
    expect([a.isConnected, b.isConnected].filter(Boolean)).toHaveLength(1);
  });

  test("bounded offline queue: publishes beyond maxQueuedMessages fail with MQTT_BACKPRESSURE; the queued ones are sent after the reconnect", async () => {
    const topic = `${unique("offline")}/x`;
    const p = await proxy();
    const received: number[] = [];
    const watcher = new mqtt.Listener(MQTT_URL, undefined, topic);
    cleanups.push(() => watcher.immediateStop());
    await watcher.attach({ onMessage: (m: mqtt.Message) => void received.push(body<{ i: number }>(m.payload).i) });
    await watcher.start();

    const c = client(p.url, undefined, { maxQueuedMessages: 20, reconnect: fast });
    await c.start();
    p.down();
    await waitFor(() => !c.isConnected(), "the disconnect");
    const queued = Array.from({ length: 20 }, (_, i) => c.publish(topic, { payload: { i }, qos: 1 }));
    expect(c.queued).toBe(20);
    const overflow = await c.publish(topic, { payload: { i: 20 }, qos: 1 }).catch((e: unknown) => e);
    expect(mqtt.MqttError.isMqttError(overflow) && overflow.code).toBe("MQTT_BACKPRESSURE");
    p.up();
    const tokens = await Promise.all(queued);
    expect(tokens.every((t) => t.messageId > 0)).toBe(true);
    expect(c.queued).toBe(0);
    await waitFor(() => received.length === 20, "the 20 queued messages");
    expect([...received].sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i));
  });

  test("the byte cap of the offline queue also applies", async () => {
    const p = await proxy();
    const c = client(p.url, undefined, { maxQueuedBytes: 1000, reconnect: fast });
    await c.start();
    p.down();
    await waitFor(() => !c.isConnected(), "the disconnect");
    const first = c.publish(`${unique("bytes")}/x`, { payload: Buffer.alloc(900) });
    const second = await c.publish(`${unique("bytes")}/x`, { payload: Buffer.alloc(200) }).catch((e: unknown) => e);
    expect((second as mqtt.MqttError).code).toBe("MQTT_BACKPRESSURE");
    p.up();
    await first;
  });

  test("a packet over maxPacketSize is rejected client-side and never sent", async () => {
    const topic = `${unique("size")}/x`;
    const received: number[] = [];
    const watcher = new mqtt.Listener(MQTT_URL, undefined, topic);
    cleanups.push(() => watcher.immediateStop());
    await watcher.attach({ onMessage: (m: mqtt.Message) => void received.push(m.payload.length) });
    await watcher.start();
    const c = client(MQTT_URL, undefined, { maxPacketSize: 1024 });
    const err = await c.publish(topic, { payload: Buffer.alloc(2000) }).catch((e: unknown) => e);
    expect((err as mqtt.MqttError).code).toBe("MQTT_PACKET_TOO_LARGE");
    await c.publish(topic, { payload: Buffer.alloc(900) });
    await waitFor(() => received.length === 1, "the small message");
    await sleep(100);
    expect(received).toEqual([900]);
  });

  test("the last will is published when the connection ends abruptly, not on a clean close", async () => {
    const base = unique("will");
    const wills: string[] = [];
    const watcher = new mqtt.Listener(MQTT_URL, undefined, `${base}/status/#`);
    cleanups.push(() => watcher.immediateStop());
    await watcher.attach({ onMessage: (m: mqtt.Message) => void wills.push(`${m.topic}=${Buffer.from(m.payload).toString()}`) });
    await watcher.start();

    const p = await proxy();
    const abrupt = client(p.url, undefined, { will: { topic: `${base}/status/a`, payload: "offline", qos: 1 }, automaticReconnect: false });
    await abrupt.start();
    const polite = client(MQTT_URL, undefined, { will: { topic: `${base}/status/b`, payload: "offline", qos: 1 } });
    await polite.start();
    p.cut();
    await polite.close();
    await waitFor(() => wills.length >= 1, "the will");
    await sleep(300);
    expect(wills).toEqual([`${base}/status/a=offline`]);
  });

  test("an unreachable broker fails start() with MQTT_CONNECTION; connectRetries waits for it", async () => {
    const c = new mqtt.Client("mqtt://127.0.0.1:1", undefined, { connectionTimeout: 2 });
    await expect(c.start()).rejects.toMatchObject({ code: "MQTT_CONNECTION" });
    await expect(c.publish("x", { payload: 1 })).rejects.toMatchObject({ code: "MQTT_CONNECTION" });
    await c.close();

    const l = new mqtt.Listener("mqtt://127.0.0.1:1", undefined, "x");
    await l.attach({ onMessage: () => undefined });
    await expect(l.start()).rejects.toMatchObject({ code: "MQTT_CONNECTION" });

    const p = await proxy();
    p.down();
    const late = client(p.url, undefined, { reconnect: { initialDelayMs: 100, connectRetries: 20 } });
    setTimeout(() => p.up(), 400);
    await late.start();
    expect(late.isConnected()).toBe(true);
  });

  test("no uncaught errors while the connection flaps under load", async () => {
    const topic = `${unique("flap")}/x`;
    const p = await proxy();
    const logger = captureLogger();
    // Cutting right after each reconnect looks like a clientId conflict: tell the listener to ignore that.
    const l = new mqtt.Listener(p.url, undefined, topic, { reconnect: fast, logger, onClientIdConflict: "ignore" });
    cleanups.push(() => l.immediateStop());
    let n = 0;
    await l.attach({ onMessage: () => void n++, onError: () => undefined });
    await l.start();
    const pub = client(p.url, undefined, { reconnect: fast, defaultQos: 0, onClientIdConflict: "ignore" });
    for (let round = 0; round < 3; round++) {
      const sends = Array.from({ length: 50 }, (_, i) => pub.publish(topic, { payload: { i } }).catch(() => undefined));
      p.cut();
      await Promise.all(sends);
      await waitFor(() => l.isConnected && pub.isConnected(), "both reconnected", 10_000);
    }
    expect(logger.has("warn", "mqtt connection lost; reconnecting")).toBe(true);
  });
});
