/**
 * Unit tests (no network): topic rules, subscription forms, backoff, packet sizes, payload
 * encoding, option and service validation, the error class.
 */
import { describe, expect, test } from "vitest";
import { json, PirouetteError } from "@pirouette/core";
import * as mqtt from "../src/index.ts";
import { backoffDelay, publishPacketSize, resolveConnectionParams } from "../src/internal/connection.ts";
import { encodePayload, toMessage, toPacketProperties } from "../src/internal/encode.ts";
import { checkTopicFilter, checkTopicName, normalizeSubscriptions, topicMatches } from "../src/internal/topic.ts";

const code = (fn: () => unknown): string | undefined => {
  try {
    fn();
  } catch (e) {
    return (e as { code?: string }).code;
  }
  return undefined;
};

describe("topics", () => {
  test.each([
    ["a/b/c", "a/b/c", true],
    ["a/+/c", "a/b/c", true],
    ["a/+/c", "a/b/d", false],
    ["a/+", "a/b/c", false],
    ["a/#", "a", true],
    ["a/#", "a/b/c", true],
    ["#", "a/b", true],
    ["+/+", "a/b", true],
    ["+", "/a", false],
    ["+/a", "/a", true],
    ["#", "$SYS/broker/load", false],
    ["+/broker/load", "$SYS/broker/load", false],
    ["$SYS/#", "$SYS/broker/load", true],
    ["$share/g/sensors/+", "sensors/t1", true],
    ["a/b", "a/b/c", false],
  ])("filter %s vs topic %s → %s", (filter, topic, expected) => {
    expect(topicMatches(filter, topic)).toBe(expected);
  });

  test("topic names refuse wildcards, NUL and emptiness; filters need whole-level wildcards", () => {
    expect(checkTopicName("a/b")).toBe("a/b");
    expect(code(() => checkTopicName("a/+"))).toBe("MQTT_INVALID_TOPIC");
    expect(code(() => checkTopicName("a/#"))).toBe("MQTT_INVALID_TOPIC");
    expect(code(() => checkTopicName(""))).toBe("MQTT_INVALID_TOPIC");
    expect(code(() => checkTopicName("a\u0000b"))).toBe("MQTT_INVALID_TOPIC");
    expect(checkTopicFilter("a/+/#")).toBe("a/+/#");
    expect(code(() => checkTopicFilter("a/#/b"))).toBe("MQTT_INVALID_TOPIC");
    expect(code(() => checkTopicFilter("a/b#"))).toBe("MQTT_INVALID_TOPIC");
    expect(code(() => checkTopicFilter("a/+b"))).toBe("MQTT_INVALID_TOPIC");
  });

  test("Ballerina's subscription forms: string, string[], Subscription, Subscription[] (QoS 1 by default)", () => {
    expect(normalizeSubscriptions("a").map((s) => [s.topic, s.qos])).toEqual([["a", 1]]);
    expect(normalizeSubscriptions(["a", "b/#"]).map((s) => [s.topic, s.qos])).toEqual([
      ["a", 1],
      ["b/#", 1],
    ]);
    expect(normalizeSubscriptions({ topic: "c", qos: 2 })[0]).toMatchObject({ topic: "c", qos: 2, retainHandling: 0 });
    expect(normalizeSubscriptions([{ topic: "d", qos: 0 }, "e"]).map((s) => s.qos)).toEqual([0, 1]);
    expect(normalizeSubscriptions(undefined)).toEqual([]);
    expect(code(() => normalizeSubscriptions({ topic: "x", qos: 3 as 2 }))).toBe("MQTT_INVALID_CONFIG");
    expect(code(() => normalizeSubscriptions({ topic: "x", retainHandling: 5 as 2 }))).toBe("MQTT_INVALID_CONFIG");
  });
});

describe("reconnect backoff", () => {
  const r = { initialDelayMs: 1000, maxDelayMs: 30_000, multiplier: 2, jitter: 0 };
  test("doubles from the initial delay and stops at the cap", () => {
    expect([1, 2, 3, 4, 5, 6, 7, 20].map((n) => backoffDelay(r, n))).toEqual([1000, 2000, 4000, 8000, 16_000, 30_000, 30_000, 30_000]);
  });
  test("jitter spreads each delay within ± jitter and never over the cap", () => {
    for (let i = 0; i < 200; i++) {
      const d = backoffDelay({ ...r, jitter: 0.2 }, 3);
      expect(d).toBeGreaterThanOrEqual(3200);
      expect(d).toBeLessThanOrEqual(4800);
      expect(backoffDelay({ ...r, jitter: 0.2 }, 10)).toBeLessThanOrEqual(30_000);
    }
  });
  test("a 60 s outage costs about 7 attempts with the defaults (mqtt.js's fixed 1 s period: 60)", () => {
    let elapsed = 0;
    let n = 0;
    while (elapsed < 60_000) elapsed += backoffDelay(r, ++n);
    expect(n).toBeLessThanOrEqual(10);
  });
});

describe("packets and payloads", () => {
  test("publish packet sizes: fixed header, topic, packet id, MQTT 5 properties", () => {
    // 1 (type) + 1 (remaining length) + 2 + 3 ("a/b") + 2 (packet id) + 5 (payload) = 14
    expect(publishPacketSize("a/b", 5, 1, undefined, false)).toBe(14);
    expect(publishPacketSize("a/b", 5, 0, undefined, false)).toBe(12);
    // MQTT 5 adds the properties length (1) and the properties: content type "x" = 1 + 2 + 1
    expect(publishPacketSize("a/b", 5, 1, { contentType: "x" }, true)).toBe(14 + 1 + 4);
    // 200 bytes: the remaining length needs 2 bytes
    expect(publishPacketSize("a/b", 200, 0, undefined, false)).toBe(1 + 2 + 2 + 3 + 200);
  });

  test("payloads: bytes as is, strings as UTF-8, values through the codec with its content type", () => {
    const codec = json();
    expect(encodePayload(new Uint8Array([1, 2]), codec)).toEqual({ bytes: Buffer.from([1, 2]), contentType: undefined });
    expect(encodePayload("hé", codec).bytes.toString("utf8")).toBe("hé");
    expect(encodePayload({ a: 1 }, codec)).toEqual({ bytes: Buffer.from('{"a":1}'), contentType: "application/json" });
    expect(code(() => encodePayload({ n: 10n }, codec))).toBe("MQTT_ENCODE");
  });

  test("properties: trace context goes into user properties without overwriting the application's", () => {
    const p = toPacketProperties({ userProperties: { traceparent: "mine", a: ["1", "2"] } }, "application/json", { traceparent: "otel", tracestate: "s" });
    expect(p).toEqual({ contentType: "application/json", userProperties: { traceparent: "mine", a: ["1", "2"], tracestate: "s" } });
    expect(toPacketProperties(undefined, undefined, {})).toBeUndefined();
  });

  test("an incoming packet becomes a Message", () => {
    const m = toMessage({
      cmd: "publish",
      topic: "t",
      payload: Buffer.from("x"),
      qos: 1,
      retain: true,
      dup: false,
      messageId: 7,
      properties: { responseTopic: "r", correlationData: Buffer.from("c") },
    });
    expect(m).toMatchObject({ topic: "t", qos: 1, retained: true, duplicate: false, messageId: 7 });
    expect(m.properties?.responseTopic).toBe("r");
    expect(toMessage({ cmd: "publish", topic: "t", payload: "s", qos: 0, retain: false, dup: false, messageId: 3 }).messageId).toBeUndefined();
  });
});

describe("options", () => {
  const codec = json();
  test("connection defaults: MQTT 5, clean start, 60 s keep-alive, 1 s → 30 s backoff, 1 MiB packets", () => {
    const p = resolveConnectionParams(undefined, undefined, {}, codec);
    expect(p).toMatchObject({
      url: "tcp://localhost:1883",
      protocolVersion: 5,
      cleanStart: true,
      sessionExpiryInterval: 0,
      keepalive: 60,
      maxPacketSize: 1024 * 1024,
      clientIdGenerated: true,
    });
    expect(p.reconnect).toMatchObject({ initialDelayMs: 1000, maxDelayMs: 30_000, multiplier: 2, jitter: 0.2, maxRetries: Infinity });
    expect(p.clientId).toMatch(/^pirouette-[0-9a-f]{13}$/);
  });

  test("a persistent session never expires by default (as MQTT 3.1.1); Ballerina's maxReconnectDelay caps the backoff", () => {
    const p = resolveConnectionParams("mqtt://h", "me", { cleanStart: false, maxReconnectDelay: 5000 }, codec);
    expect(p.sessionExpiryInterval).toBe(0xffffffff);
    expect(p.reconnect.maxDelayMs).toBe(5000);
    expect(p.clientIdGenerated).toBe(false);
  });

  test("bad options are refused with MQTT_INVALID_CONFIG / MQTT_INVALID_TOPIC", () => {
    expect(code(() => resolveConnectionParams("http://x", undefined, {}, codec))).toBe("MQTT_INVALID_CONFIG");
    expect(code(() => resolveConnectionParams(undefined, "", {}, codec))).toBe("MQTT_INVALID_CONFIG");
    expect(code(() => resolveConnectionParams(undefined, undefined, { protocolVersion: 3 as 4 }, codec))).toBe("MQTT_INVALID_CONFIG");
    expect(code(() => resolveConnectionParams(undefined, undefined, { reconnect: { jitter: 2 } }, codec))).toBe("MQTT_INVALID_CONFIG");
    expect(code(() => resolveConnectionParams(undefined, undefined, { will: { topic: "a/#", payload: "x" } }, codec))).toBe("MQTT_INVALID_TOPIC");
    expect(code(() => new mqtt.Listener(undefined, undefined, "t", { concurrency: 0 }))).toBe("MQTT_INVALID_CONFIG");
    expect(code(() => new mqtt.Listener(undefined, undefined, "t", { concurrency: 8, maxInFlight: 4 }))).toBe("MQTT_INVALID_CONFIG");
    expect(code(() => new mqtt.Listener(undefined, undefined, "t", { deadLetter: { topic: "dead/+" } }))).toBe("MQTT_INVALID_TOPIC");
    expect(code(() => new mqtt.Listener(undefined, undefined, "a/#/b"))).toBe("MQTT_INVALID_TOPIC");
    expect(code(() => new mqtt.Client(undefined, undefined, { defaultQos: 5 as 1 }))).toBe("MQTT_INVALID_CONFIG");
    expect(code(() => new mqtt.Client(undefined, undefined, { sink: { topic: "x/#" } }))).toBe("MQTT_INVALID_TOPIC");
  });
});

describe("service validation", () => {
  test("attach rejects unknown and missing methods with coded MqttErrors", async () => {
    const l = new mqtt.Listener(undefined, undefined, "t");
    await expect(l.attach({ onMesage() {} })).rejects.toMatchObject({ code: "MQTT_UNKNOWN_METHOD", name: "MqttError" });
    await expect(l.attach({ onError() {} })).rejects.toMatchObject({ code: "MQTT_MISSING_METHOD" });
    await expect(l.attach({ onMessage() {} }, { mode: "bytes" })).rejects.toMatchObject({ code: "MQTT_INVALID_CONFIG" });
    await expect(l.attach({ onMessage() {}, onComplete() {}, onError() {} })).resolves.toBeUndefined();
  });

  test("a service needs subscriptions: the listener's or its own", async () => {
    const l = new mqtt.Listener(undefined, undefined, []);
    await expect(l.attach({ onMessage() {} })).rejects.toMatchObject({ code: "MQTT_INVALID_CONFIG" });
    await expect(l.attach({ onMessage() {} }, { subscriptions: "x/#" })).resolves.toBeUndefined();
    await expect(l.attach({ onMessage() {} }, { subscriptions: "x/#/y" })).rejects.toMatchObject({ code: "MQTT_INVALID_TOPIC" });
  });
});

describe("MqttError", () => {
  test("is a PirouetteError with its name, code and reason code", () => {
    const e = new mqtt.MqttError("MQTT_NOT_AUTHORIZED", "no", { reasonCode: 0x87 });
    expect(e.name).toBe("MqttError");
    expect(PirouetteError.is(e)).toBe(true);
    expect(mqtt.MqttError.isMqttError(e)).toBe(true);
    expect(mqtt.MqttError.isMqttError(new PirouetteError("X", "y"))).toBe(false);
    expect(e.toJSON()).toMatchObject({ name: "MqttError", code: "MQTT_NOT_AUTHORIZED", reasonCode: 0x87 });
  });
});
