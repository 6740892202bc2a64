/**
 * Unit tests without a broker: service validation, configuration, errors, body encoding,
 * reconnection delays and acknowledgement bookkeeping.
 */
import { EventEmitter } from "node:events";
import type { ChannelModel } from "amqplib";
import { describe, expect, test } from "vitest";
import { PirouetteError, silentLogger } from "@pirouette/core";
import * as rabbitmq from "../src/index.ts";
import type { Connection, Generation } from "../src/internal/connection.ts";
import { Publisher } from "../src/internal/publisher.ts";
import { encodeContent, publishOptions, toProperties } from "../src/internal/message.ts";
import { backoffDelay, connectionParams } from "../src/internal/params.ts";
import { deferAck, settle, type Origin } from "../src/internal/settle.ts";
import { toRabbitMqError } from "../src/internal/amqp-errors.ts";

describe("service validation (attach)", () => {
  const listener = (): rabbitmq.Listener => new rabbitmq.Listener();

  test.each([
    [{ onMesage() {} }, "RABBITMQ_UNKNOWN_METHOD", /did you mean onMessage/],
    [{}, "RABBITMQ_MISSING_METHOD", /one of onMessage, onRequest/],
    [{ onError() {} }, "RABBITMQ_MISSING_METHOD", /one of onMessage, onRequest/],
    [{ onMessage() {}, onRequest() {} }, "RABBITMQ_METHOD_CONFLICT", /only one of/],
  ])("%o is rejected with %s", async (service, code, message) => {
    const err = (await listener()
      .attach(service, "q")
      .catch((e: unknown) => e)) as rabbitmq.RabbitMqError;
    expect(err).toBeInstanceOf(rabbitmq.RabbitMqError);
    expect(err.code).toBe(code);
    expect(err.message).toMatch(message);
  });

  test("the queue comes from ServiceConfig or the attach name", async () => {
    const l = listener();
    await expect(l.attach({ onMessage() {} })).rejects.toMatchObject({ code: "RABBITMQ_MISSING_QUEUE" });
    await expect(l.attach({ onMessage() {} }, ["a", "b"])).rejects.toMatchObject({ code: "RABBITMQ_MISSING_QUEUE" });
    await l.attach({ onMessage() {} }, "by-name");
    await l.attach({ onMessage() {} }, { queueName: "by-option" });

    @rabbitmq.ServiceConfig({ queueName: "by-decorator", declare: "passive" })
    class Decorated {
      onRequest(): string {
        return "pong";
      }
    }
    await l.attach(new Decorated());
  });

  test("config values are checked", async () => {
    const l = listener();
    await expect(l.attach({ onMessage() {} }, { name: "q", declare: "yes" })).rejects.toMatchObject({ code: "RABBITMQ_INVALID_CONFIG" });
    await expect(l.attach({ onMessage() {} }, { name: "q", autoAck: "no" })).rejects.toMatchObject({ code: "RABBITMQ_INVALID_CONFIG" });
    await expect(l.attach({ onMessage() {} }, { name: "q", mode: "raw" })).rejects.toMatchObject({ code: "RABBITMQ_INVALID_CONFIG" });
    await expect(l.attach({ onMessage() {} }, { name: "q", bindings: [{ routingKey: "x" }] as never })).rejects.toMatchObject({
      code: "RABBITMQ_INVALID_CONFIG",
    });
  });

  test("constructor options are checked", () => {
    expect(() => new rabbitmq.Listener("h", 5672, { prefetchCount: 0 })).toThrow(expect.objectContaining({ code: "RABBITMQ_INVALID_CONFIG" }));
    expect(() => new rabbitmq.Listener("h", 5672, { prefetchCount: 10, prefetchSize: 1024 })).toThrow(/prefetchSize/);
    expect(() => new rabbitmq.Listener("h", 70000)).toThrow(/port/);
    expect(() => new rabbitmq.Listener("http://h")).toThrow(/scheme/);
    expect(() => new rabbitmq.Listener("h", 5672, undefined, { concurrency: 0 })).toThrow(/concurrency/);
    expect(() => new rabbitmq.Listener("h", 5672, undefined, { reconnect: { jitter: 2 } })).toThrow(/jitter/);
    expect(() => new rabbitmq.Client("h", 5672).stream("q", { prefetch: 0 })).toThrow(/prefetch/);
  });
});

describe("RabbitMqError", () => {
  test("is a branded PirouetteError with a code and the AMQP reply code", () => {
    const e = new rabbitmq.RabbitMqError("RABBITMQ_NOT_FOUND", "no queue", { replyCode: 404, cause: new Error("secret") });
    expect(e.name).toBe("RabbitMqError");
    expect(PirouetteError.is(e)).toBe(true);
    expect(rabbitmq.RabbitMqError.isRabbitMqError(e)).toBe(true);
    expect(rabbitmq.RabbitMqError.isRabbitMqError(new PirouetteError("X", "y"))).toBe(false);
    expect(JSON.parse(JSON.stringify(e))).toEqual({ name: "RabbitMqError", code: "RABBITMQ_NOT_FOUND", message: "no queue", replyCode: 404 });
  });

  test("amqplib errors are mapped by reply code or kind", () => {
    const close = Object.assign(new Error("Channel closed by server: 406 (PRECONDITION-FAILED) with message ..."), { code: 406 });
    expect(toRabbitMqError(close, "declare")).toMatchObject({ code: "RABBITMQ_PRECONDITION_FAILED", replyCode: 406 });
    expect(toRabbitMqError(new Error("Handshake terminated by server: 403 (ACCESS-REFUSED)"), "connect").code).toBe("RABBITMQ_ACCESS_REFUSED");
    expect(toRabbitMqError(Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" }), "connect").code).toBe("RABBITMQ_CONNECTION");
    const illegal = Object.assign(new Error("Channel closed"), { name: "IllegalOperationError" });
    expect(toRabbitMqError(illegal, "ack").code).toBe("RABBITMQ_CONNECTION");
  });
});

describe("connection parameters", () => {
  test("a URL host gives credentials, port and vhost; the display form has no password", () => {
    const p = connectionParams("amqp://us%40er:p%40ss@broker.example:5673/shop%2Feu", undefined, {}, "test");
    expect(p.connect).toMatchObject({ protocol: "amqp", hostname: "broker.example", port: 5673, username: "us@er", password: "p@ss" });
    expect(decodeURIComponent(p.connect.vhost!)).toBe("shop/eu");
    expect(p.display).toBe("amqp://us%40er@broker.example:5673/shop%2Feu");
    expect(p.display).not.toContain("p@ss");
  });

  test("defaults: localhost:5672, guest/guest, vhost /; amqps defaults to 5671", () => {
    const p = connectionParams(undefined, undefined, {}, "test");
    expect(p.connect).toMatchObject({ hostname: "localhost", port: 5672, username: "guest", password: "guest", vhost: "%2F" });
    expect(p.reconnect).toMatchObject({ initialDelayMs: 200, maxDelayMs: 5000, multiplier: 2, jitter: 0.2, connectRetries: 0 });
    expect(connectionParams("amqps://h", undefined, {}, "t").connect.port).toBe(5671);
    expect(connectionParams("h", 1234, { secureSocket: {}, heartbeat: 5, connectionTimeout: 2 }, "t")).toMatchObject({
      connect: { protocol: "amqps", port: 1234, heartbeat: 5 },
      socket: { timeout: 2000 },
    });
  });

  test("backoff: exponential, capped, jittered", () => {
    const r = { initialDelayMs: 100, maxDelayMs: 1000, multiplier: 2, jitter: 0.2, maxRetries: Infinity, connectRetries: 0 };
    for (let i = 0; i < 200; i++) {
      const d1 = backoffDelay(r, 1);
      expect(d1).toBeGreaterThanOrEqual(80);
      expect(d1).toBeLessThanOrEqual(120);
      expect(backoffDelay(r, 3)).toBeGreaterThanOrEqual(320);
      expect(backoffDelay(r, 20)).toBeLessThanOrEqual(1000);
    }
    expect(backoffDelay({ ...r, jitter: 0 }, 4)).toBe(800);
    expect(backoffDelay({ ...r, jitter: 0 }, 10)).toBe(1000);
  });
});

describe("message bodies and properties", () => {
  test("bytes as is, strings as UTF-8 text, the rest as JSON", () => {
    const u8 = new Uint8Array([0, 1, 2]);
    expect(encodeContent(u8)).toMatchObject({ contentType: undefined });
    expect([...encodeContent(u8).content]).toEqual([0, 1, 2]);
    expect(encodeContent("é")).toEqual({ content: Buffer.from("é"), contentType: "text/plain; charset=utf-8" });
    expect(encodeContent({ a: 1 })).toEqual({ content: Buffer.from('{"a":1}'), contentType: "application/json" });
    expect(encodeContent(undefined).content).toHaveLength(0);
    expect(() => encodeContent(10n)).toThrow(expect.objectContaining({ code: "RABBITMQ_ENCODE" }));
    expect(() => encodeContent(() => 1)).toThrow(expect.objectContaining({ code: "RABBITMQ_ENCODE" }));
  });

  test("publish options: persistent and mandatory defaults, overrides and properties", () => {
    expect(publishOptions(undefined, { persistent: true, mandatory: true, contentType: "application/json" })).toEqual({
      mandatory: true,
      persistent: true,
      contentType: "application/json",
    });
    expect(
      publishOptions({ persistent: false, contentType: "text/csv", correlationId: "c", headers: { h: 1 }, expiration: 500 }, {
        persistent: true,
        mandatory: false,
        contentType: "application/json",
      }),
    ).toEqual({ mandatory: false, persistent: false, contentType: "text/csv", correlationId: "c", headers: { h: 1 }, expiration: 500 });
    expect(toProperties({ contentType: "x", headers: undefined, replyTo: null } as never)).toEqual({ contentType: "x" });
  });
});

describe("acknowledgement bookkeeping", () => {
  function fakeGen(): Generation & { sent: string[] } {
    const sent: string[] = [];
    const gen = {
      id: 1,
      open: true,
      ready: true,
      closeError: undefined,
      unsettled: new Set<number>(),
      blocked: false,
      drainWaiters: [],
      pendingAcks: [],
      flushScheduled: false,
      sent,
      channel: {
        ack: (m: { fields: { deliveryTag: number } }, multiple: boolean) => sent.push(`ack ${m.fields.deliveryTag}${multiple ? " multiple" : ""}`),
        nack: (m: { fields: { deliveryTag: number } }, multiple: boolean, requeue: boolean) =>
          sent.push(`nack ${m.fields.deliveryTag}${multiple ? " multiple" : ""}${requeue ? " requeue" : ""}`),
      },
    };
    return gen as unknown as Generation & { sent: string[] };
  }

  test("once per message; a second settle is a typed error (strict) or a no-op", () => {
    const gen = fakeGen();
    gen.unsettled.add(1);
    const o: Origin = { gen, tag: 1 };
    const caller = new rabbitmq.Caller(o);
    expect(caller.isSettled).toBe(false);
    expect(caller.basicAck()).toBe(true);
    expect(caller.isSettled).toBe(true);
    expect(() => caller.basicNack()).toThrow(expect.objectContaining({ code: "RABBITMQ_ALREADY_SETTLED" }));
    expect(settle(o, "ack", false, false, false)).toBe(false);
    expect(gen.sent).toEqual(["ack 1"]);
  });

  test("multiple settles every earlier unsettled tag of the channel", () => {
    const gen = fakeGen();
    for (const t of [1, 2, 3, 4]) gen.unsettled.add(t);
    expect(settle({ gen, tag: 3 }, "nack", true, false, true)).toBe(true);
    expect([...gen.unsettled]).toEqual([4]);
    expect(settle({ gen, tag: 1 }, "ack", false, false, false)).toBe(false);
    expect(gen.sent).toEqual(["nack 3 multiple"]);
  });

  test("a settle for a closed channel is dropped, never sent", () => {
    const gen = fakeGen();
    gen.unsettled.add(7);
    gen.open = false;
    expect(new rabbitmq.Caller({ gen, tag: 7 }).basicAck()).toBe(false);
    expect(gen.sent).toEqual([]);
    const racing = fakeGen();
    racing.unsettled.add(8);
    (racing.channel as unknown as { ack: () => void }).ack = () => {
      throw Object.assign(new Error("Channel closed"), { name: "IllegalOperationError" });
    };
    expect(settle({ gen: racing, tag: 8 }, "ack", false, false, true)).toBe(false);
    expect(racing.open).toBe(false);
  });

  test("acks decided in one tick go out together: one multiple ack for the settled prefix, the rest one by one", async () => {
    const gen = fakeGen();
    for (const t of [1, 2, 3, 4, 5, 6]) gen.unsettled.add(t);
    expect(deferAck({ gen, tag: 2 })).toBe("queued");
    expect(deferAck({ gen, tag: 1 })).toBe("queued");
    expect(deferAck({ gen, tag: 3 })).toBe("queued");
    expect(deferAck({ gen, tag: 6 })).toBe("queued"); // 4 and 5 are still being handled
    expect(deferAck({ gen, tag: 6 })).toBe("already-settled");
    expect(gen.sent).toEqual([]);
    await Promise.resolve();
    expect(gen.sent).toEqual(["ack 3 multiple", "ack 6"]);
    // A user settle flushes what is pending first, so the broker sees them in order.
    expect(deferAck({ gen, tag: 4 })).toBe("queued");
    new rabbitmq.Caller({ gen, tag: 5 }).basicNack(false, true);
    expect(gen.sent).toEqual(["ack 3 multiple", "ack 6", "ack 4", "nack 5 requeue"]);
    await Promise.resolve();
    expect(gen.sent).toHaveLength(4);
    gen.unsettled.add(7);
    gen.open = false;
    expect(deferAck({ gen, tag: 7 })).toBe("stale");
  });

  test("autoAck deliveries cannot be settled", () => {
    const caller = new rabbitmq.Caller({ gen: undefined, tag: 3 });
    expect(caller.isSettled).toBe(true);
    expect(() => caller.basicAck()).toThrow(expect.objectContaining({ code: "RABBITMQ_AUTO_ACK" }));
    expect(() => caller.basicNack(false, false)).toThrow(expect.objectContaining({ code: "RABBITMQ_AUTO_ACK" }));
  });
});

describe("client without a broker", () => {
  test("write() needs a PublishMessage or the sink option", async () => {
    const client = new rabbitmq.Client("127.0.0.1", 1);
    await expect(client.write({ just: "data" })).rejects.toMatchObject({ code: "RABBITMQ_INVALID_CONFIG" });
    await client.close();
  });
});

describe("publisher confirms bookkeeping (a scripted confirm channel)", () => {
  /** A confirm channel that records publishes and confirms only when told to. */
  class FakeChannel extends EventEmitter {
    published: string[] = [];
    publish(_exchange: string, routingKey: string): boolean {
      this.published.push(routingKey);
      return true;
    }
    close(): Promise<void> {
      this.emit("close");
      return Promise.resolve();
    }
  }

  async function publisher(operationTimeoutMs: number): Promise<{ pub: Publisher; ch: FakeChannel }> {
    const ch = new FakeChannel();
    const model = { createConfirmChannel: () => Promise.resolve(ch) } as unknown as ChannelModel;
    const conn = {
      params: { operationTimeoutMs, reconnect: { initialDelayMs: 10, maxDelayMs: 10, multiplier: 1, jitter: 0, maxRetries: 0, connectRetries: 0 }, display: "fake" },
      logger: silentLogger,
      fatal: undefined,
      observe: () => () => true,
      waitLive: () => Promise.resolve(model),
      live: () => model,
    } as unknown as Connection;
    const pub = new Publisher(conn, "test");
    await pub.start();
    return { pub, ch };
  }

  const outcome = (p: Promise<void>): Promise<string> =>
    p.then(
      () => "confirmed",
      (e: unknown) => (e as rabbitmq.RabbitMqError).code,
    );

  test("confirms settle their publishes (single and multiple); the unconfirmed time out in publish order", async () => {
    const { pub, ch } = await publisher(150);
    const results = ["a", "b", "c", "d", "e"].map((k) => outcome(pub.publish("", k, Buffer.from(k), {})));
    ch.emit("ack", { deliveryTag: 2, multiple: false });
    ch.emit("ack", { deliveryTag: 1, multiple: false });
    ch.emit("nack", { deliveryTag: 4, multiple: false });
    const later = outcome(pub.publish("", "f", Buffer.from("f"), {}));
    ch.emit("ack", { deliveryTag: 6, multiple: false });
    expect(await Promise.all(results)).toEqual(["confirmed", "confirmed", "RABBITMQ_TIMEOUT", "RABBITMQ_NACKED", "RABBITMQ_TIMEOUT"]);
    expect(await later).toBe("confirmed");
    expect(ch.published).toEqual(["a", "b", "c", "d", "e", "f"]);
    await pub.close();
  });

  test("close() rejects what is still unconfirmed; a multiple ack settles every earlier publish", async () => {
    const { pub, ch } = await publisher(60_000);
    const results = ["a", "b", "c", "d"].map((k) => outcome(pub.publish("", k, Buffer.from(k), {})));
    ch.emit("ack", { deliveryTag: 2, multiple: true });
    await pub.close();
    expect(await Promise.all(results)).toEqual(["confirmed", "confirmed", "RABBITMQ_NOT_CONFIRMED", "RABBITMQ_NOT_CONFIRMED"]);
  });
});
