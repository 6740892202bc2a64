/**
 * nats.Client against the real NATS server: publish/subscribe as a Stream, request with a
 * timeout, no responders, stream overflow, JetStream publish with acknowledgement and
 * deduplication, the Sink side, limits and lifecycle errors.
 */
import { afterEach, describe, expect, test } from "vitest";
import { Stream } from "@pirouette/core";
import * as nats from "../src/index.ts";
import { body, NATS_URL, sleep, Streams, unique, uniqueName, waitFor } from "./helpers.ts";

const cleanups: (() => Promise<unknown>)[] = [];
const streams = new Streams();
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
  await streams.cleanup();
});

async function client(options: nats.NatsClientOptions = {}): Promise<nats.Client> {
  const c = new nats.Client(NATS_URL, options);
  cleanups.push(() => c.close());
  await c.start();
  return c;
}

describe("nats.Client", () => {
  test("subscribe() streams the messages of a wildcard subject, with headers", async () => {
    const base = unique("sub");
    const c = await client();
    await c.start();
    const stream = c.subscribe(`${base}.*`);
    await c.flush();
    c.publish(`${base}.a`, { n: 1 }, { headers: { tenant: "acme", tags: ["x", "y"] } });
    c.publish(`${base}.b`, "two");
    c.publish(`${base}.c`, new Uint8Array([3]));
    const got = await stream.take(3).toArray();
    expect(got.map((m) => m.subject)).toEqual([`${base}.a`, `${base}.b`, `${base}.c`]);
    expect(body(got[0]?.content ?? new Uint8Array())).toEqual({ n: 1 });
    expect(got[0]?.headers).toMatchObject({ tenant: "acme", tags: ["x", "y"] });
    expect(Buffer.from(got[1]?.content ?? []).toString()).toBe("two");
    expect([...(got[2]?.content ?? [])]).toEqual([3]);
  });

  test("request(): NATS_NO_RESPONDERS at once when nobody listens, NATS_TIMEOUT when nobody answers", async () => {
    const c = await client();
    await expect(c.request(unique("nobody"), 1, { timeoutMs: 2000 })).rejects.toMatchObject({ code: "NATS_NO_RESPONDERS" });
    const silent = unique("silent");
    const s = c.subscribe(silent); // listens, never answers
    await c.flush();
    await expect(c.request(silent, 1, { timeoutMs: 200 })).rejects.toMatchObject({ code: "NATS_TIMEOUT" });
    await s.close();
  });

  test("a subscribe() stream whose consumer falls behind its limit fails with NATS_BACKPRESSURE (or drops)", async () => {
    const subject = unique("overflow");
    const c = await client();
    await c.start();
    const failing = c.subscribe(subject, { limit: 10 });
    const dropping = c.subscribe(subject, { limit: 10, overflow: "drop-oldest" });
    await c.flush();
    for (let i = 0; i < 50; i++) c.publish(subject, { i });
    await c.flush();
    await sleep(100);
    const r = await failing.toArray().catch((e: unknown) => e);
    expect(r).toMatchObject({ code: "NATS_BACKPRESSURE", name: "NatsError" });
    const kept = await dropping.take(10).toArray();
    expect(kept.map((m) => body<{ i: number }>(m.content).i)).toEqual([40, 41, 42, 43, 44, 45, 46, 47, 48, 49]);
  });

  test("subscribe with max ends the stream after that many messages", async () => {
    const subject = unique("max");
    const c = await client();
    await c.start();
    const s = c.subscribe(subject, { max: 2 });
    await c.flush();
    for (let i = 0; i < 5; i++) c.publish(subject, i);
    expect((await s.toArray()).length).toBe(2);
  });

  test("JetStream publish: acknowledged with stream and sequence; msgId deduplicates; expectations are checked", async () => {
    const base = unique("jspub");
    const c = await client();
    const name = streams.add(uniqueName("pub"));
    await c.jetstream.addStream({ name, subjects: [`${base}.>`], storage: "memory" });
    const a1 = await c.jetstream.publish(`${base}.orders`, { id: "O-1" }, { msgId: "O-1" });
    const a2 = await c.jetstream.publish(`${base}.orders`, { id: "O-1" }, { msgId: "O-1" });
    expect(a1).toEqual({ stream: name, seq: 1, duplicate: false });
    expect(a2).toEqual({ stream: name, seq: 1, duplicate: true });
    await c.jetstream.publish(`${base}.orders`, { id: "O-2" }, { expect: { lastSequence: 1 } });
    await expect(c.jetstream.publish(`${base}.orders`, { id: "O-3" }, { expect: { lastSequence: 1 } })).rejects.toMatchObject({ code: "NATS_JETSTREAM" });
    expect((await c.jetstream.streamInfo(name)).messages).toBe(2);
    await expect(c.jetstream.publish(unique("no_stream"), 1)).rejects.toMatchObject({ code: "NATS_NO_RESPONDERS" });
    expect(await c.jetstream.deleteStream(name)).toBe(true);
    expect(await c.jetstream.deleteStream(name)).toBe(false);
  });

  test("as a Sink: pipeTo publishes every element (JetStream: each one acknowledged)", async () => {
    const base = unique("sink");
    const admin = await client();
    const name = streams.add(uniqueName("sink"));
    await admin.jetstream.addStream({ name, subjects: [`${base}.>`], storage: "memory" });
    const sink = new nats.Client(NATS_URL, { sink: { subject: `${base}.events`, jetstream: true } });
    await Stream.from(Array.from({ length: 100 }, (_, i) => ({ i }))).pipeTo(sink); // closes the sink
    expect((await admin.jetstream.streamInfo(name)).messages).toBe(100);
    const plain = await client();
    const s = plain.subscribe(`${base}.plain`);
    await plain.flush();
    await plain.write({ subject: `${base}.plain`, data: "routed by the value" });
    const [m] = await s.take(1).toArray();
    expect(Buffer.from(m?.content ?? []).toString()).toBe("routed by the value");
    await expect(plain.write(42)).rejects.toMatchObject({ code: "NATS_INVALID_CONFIG" });
  });

  test("a message over the server's max_payload fails with NATS_MAX_PAYLOAD", async () => {
    const c = await client();
    expect(() => c.publish(unique("big"), new Uint8Array(2 * 1024 * 1024))).toThrow(expect.objectContaining({ code: "NATS_MAX_PAYLOAD" }));
  });

  test("bad subjects are refused with NATS_INVALID_SUBJECT", async () => {
    const c = await client();
    expect(() => c.publish("a.*", 1)).toThrow(expect.objectContaining({ code: "NATS_INVALID_SUBJECT" }));
    expect(() => c.publish("a..b", 1)).toThrow(expect.objectContaining({ code: "NATS_INVALID_SUBJECT" }));
    expect(() => c.publish("a b", 1)).toThrow(expect.objectContaining({ code: "NATS_INVALID_SUBJECT" }));
    expect(() => c.subscribe("a.>.b")).toThrow(/must be the last token/);
  });

  test("close(): subscription streams end; later calls fail with NATS_CLOSED", async () => {
    const c = new nats.Client(NATS_URL);
    await c.start();
    const s = c.subscribe(unique("closing"));
    await c.close();
    expect(await s.toArray()).toEqual([]);
    expect(() => c.publish("x", 1)).toThrow(expect.objectContaining({ code: "NATS_CLOSED" }));
    await c.close();
  });

  test("an unreachable server fails start() with NATS_CONNECTION; connectRetries retries", async () => {
    const c = new nats.Client("nats://127.0.0.1:1", { connectionTimeout: 1 });
    await expect(c.start()).rejects.toMatchObject({ code: "NATS_CONNECTION" });
    await c.close();
    const started = Date.now();
    const r = new nats.Client("nats://127.0.0.1:1", { connectionTimeout: 1, reconnect: { connectRetries: 2, initialDelayMs: 50 } });
    await expect(r.start()).rejects.toMatchObject({ code: "NATS_CONNECTION" });
    expect(Date.now() - started).toBeGreaterThanOrEqual(100);
    await r.close();
    await waitFor(() => true, "");
  });
});
