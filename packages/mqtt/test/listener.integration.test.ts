/**
 * mqtt.Listener against the real Mosquitto: wildcards, payload binding, retained messages,
 * acknowledgement after the handler, retries and dead letters, request/response, manualAcks,
 * per-topic ordering with concurrency.
 */
import { afterEach, describe, expect, test } from "vitest";
import { z } from "zod";
import { payload, PayloadValidationError, service } from "@pirouette/core";
import * as mqtt from "../src/index.ts";
import { body, captureLogger, clearRetained, discardSession, MQTT_URL, sleep, unique, uniqueClientId, waitFor } from "./helpers.ts";

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

function client(options: mqtt.MqttClientOptions = {}): mqtt.Client {
  const c = new mqtt.Client(MQTT_URL, undefined, options);
  cleanups.push(() => c.close());
  return c;
}

function listener(subscriptions: mqtt.Subscriptions, options: mqtt.MqttListenerOptions = {}, clientId?: string): mqtt.Listener {
  const l = new mqtt.Listener(MQTT_URL, clientId, subscriptions, options);
  cleanups.push(() => l.immediateStop());
  return l;
}

const Reading = z.object({ sensor: z.string(), celsius: z.number() });
type Reading = z.infer<typeof Reading>;

describe("mqtt.Listener", () => {
  test("wildcard subscriptions deliver matching messages; a payload schema binds them", async () => {
    const base = unique("wild");
    const got: Reading[] = [];
    const topics: string[] = [];
    const l = listener([`${base}/+/temperature`, { topic: `${base}/alerts/#`, qos: 0 }]);
    await l.attach(
      {
        onMessage(r: Reading, caller: mqtt.Caller) {
          got.push(r);
          topics.push(caller.topic);
        },
      },
      { payload: Reading },
    );
    await l.start();
    const c = client();
    await c.publish(`${base}/s1/temperature`, { payload: { sensor: "s1", celsius: 20.5 } });
    await c.publish(`${base}/s2/humidity`, { payload: { sensor: "s2", celsius: 1 } }); // no match
    await c.publish(`${base}/alerts/high/s3`, { payload: { sensor: "s3", celsius: 99 }, qos: 0 });
    await c.publish(`${base}/s4/temperature`, { payload: { sensor: "s4", celsius: -3 }, qos: 2 });
    await waitFor(() => got.length === 3, "3 matching messages");
    await sleep(100);
    expect(got.map((r) => r.sensor).sort()).toEqual(["s1", "s3", "s4"]);
    expect(topics).not.toContain(`${base}/s2/humidity`);
  });

  test("services route by their own topic filters; without a schema they get the raw message", async () => {
    const base = unique("routes");
    const a: string[] = [];
    const b: mqtt.Message[] = [];
    const l = listener([]);
    await l.attach({ onMessage: (m: mqtt.Message) => void a.push(m.topic) }, { subscriptions: `${base}/a/#` });
    await l.attach({ onMessage: (m: mqtt.Message) => void b.push(m) }, { subscriptions: [{ topic: `${base}/b/+`, qos: 1 }] });
    await l.start();
    const c = client();
    await c.publish(`${base}/a/x/y`, { payload: "to a" });
    await c.publish(`${base}/b/1`, { payload: Buffer.from([1, 2, 3]), qos: 1 });
    await waitFor(() => a.length === 1 && b.length === 1, "one message each");
    expect(a).toEqual([`${base}/a/x/y`]);
    expect(b[0]?.payload).toEqual(Buffer.from([1, 2, 3]));
    expect(b[0]?.qos).toBe(1);
    expect(b[0]?.retained).toBe(false);
    expect(b[0]?.messageId).toBeGreaterThan(0);
  });

  test("a retained message is delivered on subscribe with retained = true", async () => {
    const topic = `${unique("retained")}/status`;
    cleanups.push(() => clearRetained(topic));
    const c = client();
    await c.publish(topic, { payload: "online", retained: true, qos: 1 });
    const got: mqtt.Message[] = [];
    const l = listener(topic);
    await l.attach({ onMessage: (m: mqtt.Message) => void got.push(m) });
    await l.start();
    await waitFor(() => got.length === 1, "the retained message");
    expect(got[0]?.retained).toBe(true);
    expect(Buffer.from(got[0]?.payload ?? []).toString()).toBe("online");
  });

  test("a failing handler is retried; after the retries onError hears and the message goes to the dead-letter topic", async () => {
    const base = unique("dlq");
    const dead: mqtt.Message[] = [];
    const dlqWatcher = listener(`${base}/dead`);
    await dlqWatcher.attach({ onMessage: (m: mqtt.Message) => void dead.push(m) });
    await dlqWatcher.start();

    let calls = 0;
    const errors: [Error, mqtt.Message | undefined][] = [];
    const l = listener(`${base}/in`, {
      retry: { maxAttempts: 3, initialDelayMs: 10, jitter: false },
      deadLetter: { topic: `${base}/dead` },
    });
    await l.attach({
      onMessage(m: mqtt.Message) {
        calls++;
        if (body<{ n: number }>(m.payload).n === 1) throw new Error("declined");
      },
      onError: (e: Error, m: mqtt.Message | undefined) => void errors.push([e, m]),
    });
    await l.start();
    const c = client();
    await c.publish(`${base}/in`, { payload: { n: 1 }, properties: { userProperties: { tenant: "acme" } } });
    await c.publish(`${base}/in`, { payload: { n: 2 } });
    await waitFor(() => dead.length === 1 && calls === 4, "one dead letter");
    expect(errors).toHaveLength(1);
    expect(errors[0]?.[0].message).toBe("declined");
    expect(errors[0]?.[1]?.topic).toBe(`${base}/in`);
    const d = dead[0] as mqtt.Message;
    expect(body(d.payload)).toEqual({ n: 1 });
    const up = d.properties?.userProperties ?? {};
    expect(up["x-pirouette-error"]).toBe("declined");
    expect(up["x-pirouette-attempts"]).toBe("3");
    expect(up["tenant"]).toBe("acme");
    expect(JSON.parse(String(up["x-pirouette-original"]))).toMatchObject({ topic: `${base}/in`, qos: 1 });
  });

  test("a payload that fails validation reaches onError as a PayloadValidationError with coordinates, and is not retried", async () => {
    const topic = `${unique("invalid")}/r`;
    const errors: Error[] = [];
    const good: Reading[] = [];
    const l = listener(topic);
    let invocations = 0;
    class Svc {
      @payload(Reading)
      onMessage(r: Reading) {
        invocations++;
        good.push(r);
      }
      onError(e: Error) {
        errors.push(e);
      }
    }
    await l.attach(new Svc());
    await l.start();
    const c = client();
    await c.publish(topic, { payload: { sensor: "x", celsius: "hot" } });
    await c.publish(topic, { payload: "{not json" });
    await c.publish(topic, { payload: { sensor: "ok", celsius: 1 } });
    await waitFor(() => errors.length === 2 && good.length === 1, "two errors and one good");
    expect(errors[0]).toBeInstanceOf(PayloadValidationError);
    expect((errors[0] as PayloadValidationError).coordinates).toMatchObject({ topic, qos: 1 });
    expect(errors[1]?.name).toBe("PayloadBindingError");
    expect(invocations).toBe(1);
  });

  test("request/response: the returned value goes to the response topic with the correlation data; respond() calls onComplete", async () => {
    const base = unique("rpc");
    const completed: mqtt.DeliveryToken[] = [];
    const l = listener(`${base}/+`);
    await l.attach({
      async onMessage(m: mqtt.Message, caller: mqtt.Caller) {
        const req = body<{ a: number; b: number }>(m.payload);
        if (m.topic.endsWith("/explicit")) {
          await caller.respond({ payload: { product: req.a * req.b } });
          return undefined;
        }
        return { sum: req.a + req.b };
      },
      onComplete: (t: mqtt.DeliveryToken) => void completed.push(t),
    });
    await l.start();
    const c = client();
    const r1 = await c.request(`${base}/add`, { payload: { a: 2, b: 3 } });
    expect(body(r1.payload)).toEqual({ sum: 5 });
    const r2 = await c.request(`${base}/explicit`, { payload: { a: 2, b: 3 } });
    expect(body(r2.payload)).toEqual({ product: 6 });
    // onComplete hears of both responses: the returned value and the explicit respond().
    expect(completed).toHaveLength(2);
    expect(completed[1]?.topic).toBe(`pirouette/responses/${c.clientId}`);
    // A handler returning a value for a message without a response topic: nothing is sent.
    await c.publish(`${base}/add`, { payload: { a: 1, b: 1 } });
  });

  test("respond() without a response topic fails with MQTT_NO_RESPONSE_TOPIC", async () => {
    const topic = `${unique("noresp")}/x`;
    let error: unknown;
    const l = listener(topic);
    await l.attach({
      async onMessage(_m: mqtt.Message, caller: mqtt.Caller) {
        try {
          await caller.respond({ payload: "x" });
        } catch (e) {
          error = e;
        }
      },
    });
    await l.start();
    await client().publish(topic, { payload: "hi" });
    await waitFor(() => error !== undefined, "the respond error");
    expect((error as mqtt.MqttError).code).toBe("MQTT_NO_RESPONSE_TOPIC");
  });

  test("concurrency > 1 keeps per-topic order and runs different topics in parallel", async () => {
    const base = unique("order");
    const seen = new Map<string, number[]>();
    let running = 0;
    let maxRunning = 0;
    const l = listener(`${base}/#`, { concurrency: 4 });
    await l.attach({
      async onMessage(m: mqtt.Message) {
        running++;
        maxRunning = Math.max(maxRunning, running);
        await sleep(5);
        const list = seen.get(m.topic) ?? [];
        list.push(body<{ i: number }>(m.payload).i);
        seen.set(m.topic, list);
        running--;
      },
    });
    await l.start();
    const c = client();
    const sends: Promise<unknown>[] = [];
    for (let i = 0; i < 40; i++) sends.push(c.publish(`${base}/k${i % 4}`, { payload: { i } }));
    await Promise.all(sends);
    await waitFor(() => [...seen.values()].reduce((n, l) => n + l.length, 0) === 40, "40 messages");
    for (const [, list] of seen) expect(list).toEqual([...list].sort((a, b) => a - b));
    expect(maxRunning).toBeGreaterThan(1);
    expect(maxRunning).toBeLessThanOrEqual(4);
  });

  test("@service with ServiceConfig and a decorated payload", async () => {
    const topic = `${unique("decorated")}/r`;
    const l = listener([]);
    const got: Reading[] = [];
    @service(l)
    @mqtt.ServiceConfig({ subscriptions: topic })
    class Temperatures {
      @payload(Reading)
      onMessage(r: Reading) {
        got.push(r);
      }
    }
    void Temperatures;
    await l.start();
    await client().publish(topic, { payload: { sensor: "d", celsius: 3 } });
    await waitFor(() => got.length === 1, "the decorated service");
    expect(got[0]).toEqual({ sensor: "d", celsius: 3 });
  });

  test("graceful stop lets in-flight handlers finish and acknowledges them (no redelivery on the next session)", async () => {
    const topic = `${unique("graceful")}/x`;
    const clientId = uniqueClientId("graceful");
    cleanups.push(() => discardSession(clientId));
    const done: number[] = [];
    const l1 = new mqtt.Listener(MQTT_URL, clientId, topic, { cleanStart: false, concurrency: 5, orderBy: false });
    await l1.attach({
      async onMessage(m: mqtt.Message) {
        await sleep(300);
        done.push(body<{ i: number }>(m.payload).i);
      },
    });
    await l1.start();
    const c = client();
    for (let i = 0; i < 5; i++) await c.publish(topic, { payload: { i } });
    await sleep(100);
    await l1.gracefulStop();
    expect(done.sort()).toEqual([0, 1, 2, 3, 4]);

    const again: number[] = [];
    const l2 = listener(topic, { cleanStart: false }, clientId);
    await l2.attach({ onMessage: (m: mqtt.Message) => void again.push(body<{ i: number }>(m.payload).i) });
    await l2.start();
    await c.publish(topic, { payload: { i: 99 } });
    await waitFor(() => again.includes(99), "the new message");
    expect(again).toEqual([99]);
  });

  test("manualAcks: a message the handler does not complete() is redelivered to the resumed session, with those behind it (PUBACKs leave in order)", async () => {
    const topic = `${unique("manual")}/x`;
    const clientId = uniqueClientId("manual");
    cleanups.push(() => discardSession(clientId));
    const first: number[] = [];
    const l1 = new mqtt.Listener(MQTT_URL, clientId, topic, { cleanStart: false, manualAcks: true });
    await l1.attach({
      async onMessage(m: mqtt.Message, caller: mqtt.Caller) {
        const { i } = body<{ i: number }>(m.payload);
        first.push(i);
        if (i % 2 === 0) await caller.complete();
      },
    });
    await l1.start();
    const c = client();
    for (let i = 0; i < 4; i++) await c.publish(topic, { payload: { i } });
    await waitFor(() => first.length === 4, "first delivery");
    await l1.gracefulStop();

    const second: mqtt.Message[] = [];
    const l2 = listener(topic, { cleanStart: false, manualAcks: true }, clientId);
    await l2.attach({
      async onMessage(m: mqtt.Message, caller: mqtt.Caller) {
        second.push(m);
        await caller.complete();
        await expect(caller.complete()).rejects.toMatchObject({ code: "MQTT_ALREADY_COMPLETED" });
      },
    });
    await l2.start();
    await waitFor(() => second.length >= 3, "the messages from the first uncompleted one on");
    await sleep(200);
    // 0 was completed and acknowledged; 1 was not, so the PUBACK of 2 (completed) waited behind it.
    expect(second.map((m) => body<{ i: number }>(m.payload).i)).toEqual([1, 2, 3]);
    expect(second.every((m) => m.duplicate)).toBe(true);
  });

  test("manualAcks: a failed message that is skipped is acknowledged without complete() and not redelivered", async () => {
    const topic = `${unique("manualskip")}/x`;
    const clientId = uniqueClientId("manualskip");
    cleanups.push(() => discardSession(clientId));
    const first: number[] = [];
    const errors: Error[] = [];
    const l1 = new mqtt.Listener(MQTT_URL, clientId, topic, { cleanStart: false, manualAcks: true, retry: false, onHandlerFailure: "skip" });
    await l1.attach({
      async onMessage(m: mqtt.Message, caller: mqtt.Caller) {
        const { i } = body<{ i: number }>(m.payload);
        first.push(i);
        if (i === 0) throw new Error("cannot handle 0");
        await caller.complete();
      },
      onError(e: Error) {
        errors.push(e);
      },
    });
    await l1.start();
    const c = client();
    for (let i = 0; i < 2; i++) await c.publish(topic, { payload: { i } });
    await waitFor(() => first.length === 2, "first delivery");
    await l1.gracefulStop();
    expect(errors.map((e) => e.message)).toEqual(["cannot handle 0"]);

    const second: number[] = [];
    const l2 = listener(topic, { cleanStart: false, manualAcks: true }, clientId);
    await l2.attach({
      async onMessage(m: mqtt.Message, caller: mqtt.Caller) {
        second.push(body<{ i: number }>(m.payload).i);
        await caller.complete();
      },
    });
    await l2.start();
    await c.publish(topic, { payload: { i: 2 } });
    await waitFor(() => second.includes(2), "the new message");
    // Neither the skipped 0 nor the completed 1 behind it came back.
    expect(second).toEqual([2]);
  });

  test("complete() without manualAcks rejects with MQTT_ACK_MODE", async () => {
    const topic = `${unique("ackmode")}/x`;
    let error: unknown;
    const l = listener(topic);
    await l.attach({
      async onMessage(_m: mqtt.Message, caller: mqtt.Caller) {
        error = await caller.complete().catch((e: unknown) => e);
      },
    });
    await l.start();
    await client().publish(topic, { payload: 1 });
    await waitFor(() => error !== undefined, "complete() error");
    expect((error as mqtt.MqttError).code).toBe("MQTT_ACK_MODE");
  });

  test("persistent-session warnings: generated clientId and QoS 0 subscriptions", async () => {
    const logger = captureLogger();
    const l = listener({ topic: `${unique("warn")}/x`, qos: 0 }, { cleanStart: false, logger, sessionExpiryInterval: 5 });
    await l.attach({ onMessage: () => undefined });
    await l.start();
    expect(logger.has("warn", "generated clientId")).toBe(true);
    expect(logger.has("warn", "QoS 0 subscriptions")).toBe(true);
    await l.immediateStop();
    await discardSession(l.clientId);
  });
});
