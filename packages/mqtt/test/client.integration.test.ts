/**
 * mqtt.Client against the real Mosquitto: QoS 0/1/2 publishing, retained messages, receive()
 * as a Stream with backpressure, the Sink side, request/response, MQTT 5 properties, MQTT 3.1.1,
 * lifecycle errors.
 */
import { afterEach, describe, expect, test } from "vitest";
import { Stream } from "@pirouette/core";
import * as mqtt from "../src/index.ts";
import { body, clearRetained, MQTT_URL, sleep, unique, waitFor } from "./helpers.ts";

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

/** Read `n` messages with Ballerina-style `next()`, leaving the stream open. */
async function take(stream: Stream<mqtt.Message, mqtt.MqttError>, n: number): Promise<mqtt.Message[]> {
  const out: mqtt.Message[] = [];
  while (out.length < n) {
    const r = await stream.next();
    if (r === undefined) break;
    if (r instanceof Error) throw r;
    out.push(r.value);
  }
  return out;
}

function client(options: mqtt.MqttClientOptions = {}, clientId?: string): mqtt.Client {
  const c = new mqtt.Client(MQTT_URL, clientId, options);
  cleanups.push(() => c.close());
  return c;
}

describe("mqtt.Client", () => {
  test("publish at QoS 0, 1 and 2 resolves with a delivery token; receive() streams what was subscribed", async () => {
    const topic = `${unique("qos")}/t`;
    const sub = client();
    const stream = sub.receive();
    await sub.subscribe({ topic, qos: 2 });
    const pub = client();
    const t0 = await pub.publish(topic, { payload: "zero", qos: 0 });
    const t1 = await pub.publish(topic, { payload: "one", qos: 1 });
    const t2 = await pub.publish(topic, { payload: "two", qos: 2 });
    expect(t0).toEqual({ messageId: 0, topic });
    expect(t1.messageId).toBeGreaterThan(0);
    expect(t2.messageId).toBeGreaterThan(0);
    const got = await stream.take(3).toArray();
    expect(got.map((m) => Buffer.from(m.payload).toString())).toEqual(["zero", "one", "two"]);
    expect(got.map((m) => m.qos)).toEqual([0, 1, 2]);
  });

  test("retained messages reach later subscribers (even before receive() is called)", async () => {
    const topic = `${unique("retain")}/status`;
    cleanups.push(() => clearRetained(topic));
    await client().publish(topic, { payload: { up: true }, retained: true });
    const late = client();
    await late.subscribe(topic);
    await sleep(100); // the retained message arrives before anyone reads
    const [m] = await late.receive().take(1).toArray();
    expect(m?.retained).toBe(true);
    expect(body(m?.payload ?? new Uint8Array())).toEqual({ up: true });
  });

  test("MQTT 5 properties travel: user properties, content type, expiry", async () => {
    const topic = `${unique("props")}/t`;
    const sub = client();
    const stream = sub.receive();
    await sub.subscribe(topic);
    await client({ sendContentType: true }).publish(topic, {
      payload: { a: 1 },
      properties: { userProperties: { tenant: "acme", tags: ["x", "y"] }, messageExpiryInterval: 60 },
    });
    const [m] = await stream.take(1).toArray();
    expect(m?.properties?.contentType).toBe("application/json");
    expect(m?.properties?.userProperties).toMatchObject({ tenant: "acme", tags: ["x", "y"] });
    expect(m?.properties?.messageExpiryInterval).toBeGreaterThan(0);
  });

  test("receive() applies backpressure: a slow consumer still gets every message, in order", async () => {
    const topic = `${unique("slow")}/t`;
    const sub = client();
    const stream = sub.receive({ highWaterMark: 8 });
    await sub.subscribe(topic);
    const pub = client();
    await Promise.all(Array.from({ length: 300 }, (_, i) => pub.publish(topic, { payload: { i } })));
    const got: number[] = [];
    for await (const m of stream) {
      got.push(body<{ i: number }>(m.payload).i);
      if (got.length % 50 === 0) await sleep(20);
      if (got.length === 300) break;
    }
    expect(got).toEqual(Array.from({ length: 300 }, (_, i) => i));
  });

  test("unsubscribe stops delivery", async () => {
    const base = unique("unsub");
    const sub = client();
    const stream = sub.receive();
    await sub.subscribe([`${base}/a`, `${base}/b`]);
    await sub.unsubscribe(`${base}/a`);
    const pub = client();
    await pub.publish(`${base}/a`, { payload: "a" });
    await pub.publish(`${base}/b`, { payload: "b" });
    const [m] = await stream.take(1).toArray();
    expect(m?.topic).toBe(`${base}/b`);
  });

  test("as a Sink: stream.pipeTo(client) publishes every element", async () => {
    const topic = `${unique("sink")}/t`;
    const sub = client();
    const stream = sub.receive();
    await sub.subscribe(topic);
    const sink = new mqtt.Client(MQTT_URL, undefined, { sink: { topic, qos: 1 } });
    await Stream.from([1, 2, 3, 4, 5]).map((n) => ({ n })).pipeTo(sink); // closes the sink
    const got = await take(stream, 5);
    expect(got.map((m) => body<{ n: number }>(m.payload).n)).toEqual([1, 2, 3, 4, 5]);

    const plain = client();
    await plain.write({ topic, payload: "routed by the value", qos: 0 });
    const [m] = await take(stream, 1);
    expect(Buffer.from(m?.payload ?? []).toString()).toBe("routed by the value");
    await expect(plain.write(42)).rejects.toMatchObject({ code: "MQTT_INVALID_CONFIG" });
  });

  test("request() times out with MQTT_TIMEOUT when nobody answers", async () => {
    const c = client();
    await expect(c.request(`${unique("nobody")}/rpc`, { payload: 1 }, { timeoutMs: 200 })).rejects.toMatchObject({ code: "MQTT_TIMEOUT" });
  });

  test("MQTT 3.1.1: publish and receive work; request/response is refused with MQTT_PROTOCOL", async () => {
    const topic = `${unique("v311")}/t`;
    const sub = client({ protocolVersion: 4 });
    const stream = sub.receive();
    await sub.subscribe(topic);
    const pub = client({ protocolVersion: 4 });
    await pub.publish(topic, { payload: "old school", properties: { userProperties: { dropped: "yes" } } });
    const [m] = await stream.take(1).toArray();
    expect(Buffer.from(m?.payload ?? []).toString()).toBe("old school");
    expect(m?.properties).toBeUndefined();
    await expect(pub.request(topic, { payload: 1 })).rejects.toMatchObject({ code: "MQTT_PROTOCOL" });
  });

  test("bad topics are refused with MQTT_INVALID_TOPIC before anything is sent", async () => {
    const c = client();
    await expect(c.publish("a/+/b", { payload: 1 })).rejects.toMatchObject({ code: "MQTT_INVALID_TOPIC" });
    await expect(c.publish("", { payload: 1 })).rejects.toMatchObject({ code: "MQTT_INVALID_TOPIC" });
    await expect(c.subscribe("a/#/b")).rejects.toMatchObject({ code: "MQTT_INVALID_TOPIC" });
    await expect(c.subscribe("a/b+")).rejects.toMatchObject({ code: "MQTT_INVALID_TOPIC" });
  });

  test("disconnect() and reconnect(): subscriptions come back", async () => {
    const topic = `${unique("recon")}/t`;
    const c = client();
    const stream = c.receive();
    await c.subscribe(topic);
    await c.disconnect();
    expect(c.isConnected()).toBe(false);
    await c.reconnect();
    expect(c.isConnected()).toBe(true);
    await client().publish(topic, { payload: "back" });
    const [m] = await stream.take(1).toArray();
    expect(Buffer.from(m?.payload ?? []).toString()).toBe("back");
  });

  test("close(): streams end, pending requests and later calls fail with MQTT_CLOSED", async () => {
    const c = new mqtt.Client(MQTT_URL);
    await c.start();
    const stream = c.receive();
    const pending = c.request(`${unique("closing")}/rpc`, { payload: 1 }, { timeoutMs: 10_000 });
    await sleep(50);
    await c.close();
    await expect(pending).rejects.toMatchObject({ code: "MQTT_CLOSED" });
    expect(await stream.toArray()).toEqual([]);
    await expect(c.publish("x", { payload: 1 })).rejects.toMatchObject({ code: "MQTT_CLOSED" });
    await c.close(); // idempotent
  });

  test("publishing many QoS 1 messages concurrently keeps the queue accounting right", async () => {
    const topic = `${unique("many")}/t`;
    const c = client();
    await Promise.all(Array.from({ length: 500 }, (_, i) => c.publish(topic, { payload: { i } })));
    expect(c.queued).toBe(0);
    await waitFor(() => c.queued === 0, "nothing queued");
  });
});
