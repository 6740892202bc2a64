/**
 * rabbitmq.Client against the real broker.
 */
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { z } from "zod";
import { PayloadValidationError, Stream, text } from "@pirouette/core";
import type { Duplex } from "node:stream";
import { connect } from "amqplib";
import * as rabbitmq from "../src/index.ts";
import { coalescerOf } from "../src/internal/coalesce.ts";
import { RABBITMQ_URL, Topology, body, queueField, unique, waitFor } from "./helpers.ts";

let topo: Topology;
let client: rabbitmq.Client;

beforeEach(async () => {
  topo = new Topology();
  client = new rabbitmq.Client(RABBITMQ_URL);
});

afterEach(async () => {
  await client.close();
  await topo.cleanup();
});

async function count(queue: string): Promise<number> {
  return (await client.queueDeclare(queue)).messageCount;
}

describe("publishMessage", () => {
  test("encodes bytes, text and JSON, passes properties through and awaits the confirm", async () => {
    const queue = topo.queue(unique("encode"));
    await client.queueDeclare(queue);
    await client.publishMessage({ routingKey: queue, content: new Uint8Array([1, 2, 3]) });
    await client.publishMessage({ routingKey: queue, content: "héllo" });
    await client.publishMessage({
      routingKey: queue,
      content: { id: 1 },
      properties: { messageId: "m-1", correlationId: "c-1", headers: { tenant: "acme", n: 7 }, priority: 3, type: "order", appId: "tests" },
    });
    await client.publishMessage({ routingKey: queue, content: "{}", properties: { contentType: "application/json", persistent: false } });
    expect(await count(queue)).toBe(4); // confirmed means enqueued

    const [bytes, str, obj, raw] = [1, 2, 3, 4].map(() => client.consumeMessage(queue));
    const b = (await bytes)!;
    expect([...b.content]).toEqual([1, 2, 3]);
    expect(b.properties.contentType).toBeUndefined();
    expect(b.properties.deliveryMode).toBe(2); // persistent by default
    const s = (await str)!;
    expect(Buffer.from(s.content).toString("utf8")).toBe("héllo");
    expect(s.properties.contentType).toBe("text/plain; charset=utf-8");
    const o = (await obj)!;
    expect(body(o)).toEqual({ id: 1 });
    expect(o.properties).toMatchObject({
      contentType: "application/json",
      messageId: "m-1",
      correlationId: "c-1",
      headers: { tenant: "acme", n: 7 },
      priority: 3,
      type: "order",
      appId: "tests",
    });
    const r = (await raw)!;
    expect(r.properties.contentType).toBe("application/json");
    expect(r.properties.deliveryMode).toBe(1);
    expect(await client.consumeMessage(queue)).toBeUndefined();
  });

  test("an unroutable mandatory message rejects with RABBITMQ_UNROUTABLE; mandatory: false does not", async () => {
    await expect(client.publishMessage({ routingKey: unique("nowhere"), content: 1 })).rejects.toMatchObject({
      name: "RabbitMqError",
      code: "RABBITMQ_UNROUTABLE",
      replyCode: 312,
    });
    await client.publishMessage({ routingKey: unique("nowhere"), content: 1, mandatory: false });
  });

  test("a missing exchange rejects with RABBITMQ_NOT_FOUND and the client keeps publishing", async () => {
    const queue = topo.queue(unique("after-404"));
    await client.queueDeclare(queue);
    await expect(client.publishMessage({ exchange: unique("no-exchange"), routingKey: "x", content: 1 })).rejects.toMatchObject({
      code: "RABBITMQ_NOT_FOUND",
      replyCode: 404,
    });
    await client.publishMessage({ routingKey: queue, content: 2 });
    expect(await count(queue)).toBe(1);
  });

  test("many concurrent publishes are all confirmed", async () => {
    const queue = topo.queue(unique("burst"));
    await client.queueDeclare(queue);
    await Promise.all(Array.from({ length: 2000 }, (_, i) => client.publishMessage({ routingKey: queue, content: { i } })));
    expect(await count(queue)).toBe(2000);
  });

  test("the publishes of one tick reach the socket in one write, after amqplib's muxer ran", async () => {
    const queue = topo.queue(unique("coalesce"));
    const model = await connect(RABBITMQ_URL, { noDelay: true });
    try {
      const ch = await model.createConfirmChannel();
      await ch.assertQueue(queue, { durable: false });
      // Count what reaches the socket (node calls _write for one chunk, _writev for several).
      const socket = (model as unknown as { connection: { stream: Duplex } }).connection.stream;
      let writes = 0;
      let chunks = 0;
      const write1 = socket._write.bind(socket);
      const writev = (socket._writev as NonNullable<Duplex["_writev"]>).bind(socket);
      socket._write = (chunk, encoding, cb) => {
        writes++;
        chunks++;
        write1(chunk, encoding, cb);
      };
      socket._writev = (list, cb) => {
        writes++;
        chunks += list.length;
        writev(list, cb);
      };
      const coalescer = coalescerOf(model);
      expect(coalescer).toBeDefined();
      const burst = async (hold: boolean): Promise<void> => {
        writes = 0;
        chunks = 0;
        for (let i = 0; i < 50; i++) {
          ch.publish("", queue, Buffer.from(`m${i}`));
          if (hold) coalescer?.hold();
        }
        await ch.waitForConfirms();
      };
      await burst(false);
      expect(chunks).toBe(50);
      expect(writes).toBeGreaterThan(1); // amqplib alone: a write per publish (fewer only if the socket is busy)
      await burst(true);
      expect([writes, chunks]).toEqual([1, 50]);
      expect((await ch.checkQueue(queue)).messageCount).toBe(100);
    } finally {
      await model.close();
    }
  });

  test("is a Sink: stream.pipeTo(client) publishes every element", async () => {
    const queue = topo.queue(unique("sink"));
    await client.queueDeclare(queue);
    const sink = new rabbitmq.Client(RABBITMQ_URL, undefined, { sink: { routingKey: queue } });
    await Stream.of({ n: 1 }, { n: 2 }, { n: 3 }).pipeTo(sink); // closes the sink at the end
    await Stream.of<rabbitmq.PublishMessage>({ routingKey: queue, content: "four" }).pipeTo(client, { preventClose: true });
    const got = await client.stream(queue).take(4).toArray();
    expect(got.slice(0, 3).map((m) => body(m))).toEqual([{ n: 1 }, { n: 2 }, { n: 3 }]);
    expect(Buffer.from(got[3]!.content).toString()).toBe("four");
    await expect(sink.publishMessage({ routingKey: queue, content: 5 })).rejects.toMatchObject({ code: "RABBITMQ_CLOSED" });
  });
});

describe("topology", () => {
  test("declare, bind, unbind, purge and delete, with typed errors for conflicts", async () => {
    const ex = topo.exchange(unique("ex"));
    const queue = topo.queue(unique("q"));
    for (const type of ["direct", "fanout", "topic", "headers"] as const) {
      const name = topo.exchange(`${ex}.${type}`);
      await client.exchangeDeclare(name, type);
      await client.exchangeDeclare(name, type); // idempotent
    }
    await expect(client.exchangeDeclare(ex, "nonsense" as rabbitmq.ExchangeType)).rejects.toMatchObject({ code: "RABBITMQ_INVALID_CONFIG" });
    await expect(client.exchangeDeclare(`${ex}.direct`, "topic")).rejects.toMatchObject({ code: "RABBITMQ_PRECONDITION_FAILED", replyCode: 406 });

    const info = await client.queueDeclare(queue, { arguments: { "x-max-length": 100 } });
    expect(info).toEqual({ queue, messageCount: 0, consumerCount: 0 });
    await expect(client.queueDeclare(queue, { durable: false })).rejects.toMatchObject({ code: "RABBITMQ_PRECONDITION_FAILED" });

    await client.queueBind(queue, `${ex}.topic`, "a.*");
    await client.publishMessage({ exchange: `${ex}.topic`, routingKey: "a.b", content: 1 });
    await client.publishMessage({ exchange: `${ex}.topic`, routingKey: "a.c", content: 2 });
    expect(await client.queuePurge(queue)).toBe(2);
    await client.queueUnbind(queue, `${ex}.topic`, "a.*");
    await expect(client.publishMessage({ exchange: `${ex}.topic`, routingKey: "a.b", content: 1 })).rejects.toMatchObject({
      code: "RABBITMQ_UNROUTABLE",
    });

    const generated = await client.queueAutoGenerate();
    expect(generated).toMatch(/^amq\.gen-/);
    await client.publishMessage({ routingKey: generated, content: 1 });
    await expect(client.queueDelete(generated, { ifEmpty: true })).rejects.toMatchObject({ code: "RABBITMQ_PRECONDITION_FAILED" });
    expect(await client.queueDelete(generated)).toBe(1);
    await client.exchangeDelete(`${ex}.fanout`);
    await expect(client.publishMessage({ exchange: `${ex}.fanout`, routingKey: "", content: 1 })).rejects.toMatchObject({
      code: "RABBITMQ_NOT_FOUND",
    });
    await expect(client.queuePurge(unique("missing"))).rejects.toMatchObject({ code: "RABBITMQ_NOT_FOUND" });
  });
});

describe("consumeMessage / consumePayload / basicAck", () => {
  test("autoAck (default) removes the message; manual ack, nack with requeue and double-ack errors", async () => {
    const queue = topo.queue(unique("get"));
    await client.queueDeclare(queue);
    for (const n of [1, 2, 3]) await client.publishMessage({ routingKey: queue, content: { n } });

    const first = await client.consumeMessage(queue);
    expect(body(first!)).toEqual({ n: 1 });
    expect(() => client.basicAck(first!)).toThrow(expect.objectContaining({ code: "RABBITMQ_AUTO_ACK" }));

    const second = (await client.consumeMessage(queue, { autoAck: false }))!;
    expect(body(second)).toEqual({ n: 2 });
    expect(client.basicNack(second)).toBe(true); // requeue
    expect(() => client.basicNack(second)).toThrow(expect.objectContaining({ code: "RABBITMQ_ALREADY_SETTLED" }));

    const again = (await client.consumeMessage(queue, { autoAck: false }))!; // back at the head
    const third = (await client.consumeMessage(queue, { autoAck: false }))!;
    expect([body(again), body(third)]).toEqual([{ n: 2 }, { n: 3 }]);
    expect(again.redelivered).toBe(true);
    expect(client.basicAck(third.deliveryTag, true)).toBe(true); // multiple, by tag: both
    expect(() => client.basicAck(again)).toThrow(expect.objectContaining({ code: "RABBITMQ_ALREADY_SETTLED" }));
    expect(await client.consumeMessage(queue)).toBeUndefined();
    expect(await count(queue)).toBe(0);
  });

  test("consumePayload binds with a codec and a schema; failures carry the coordinates", async () => {
    const queue = topo.queue(unique("payload"));
    await client.queueDeclare(queue);
    const Order = z.object({ id: z.string() });
    await client.publishMessage({ routingKey: queue, content: { id: "o-1" } });
    await client.publishMessage({ routingKey: queue, content: { id: 1 } });
    await client.publishMessage({ routingKey: queue, content: "plain" });

    const order = await client.consumePayload(queue, { schema: Order });
    expect(order).toEqual({ id: "o-1" });
    const err = await client.consumePayload(queue, { schema: Order }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PayloadValidationError);
    expect((err as PayloadValidationError).coordinates).toMatchObject({ queue, routingKey: queue });
    expect(await client.consumePayload<string>(queue, { codec: text() })).toBe("plain");
    expect(await client.consumePayload(queue)).toBeUndefined();
  });
});

describe("stream(queue)", () => {
  test("take(n) acknowledges exactly n; the rest stays in the queue", async () => {
    const queue = topo.queue(unique("take"));
    await client.queueDeclare(queue);
    await Promise.all(Array.from({ length: 30 }, (_, i) => client.publishMessage({ routingKey: queue, content: { i } })));
    const got = await client.stream(queue, { prefetch: 20 }).take(5).map((m) => body<{ i: number }>(m).i).toArray();
    expect(got).toEqual([0, 1, 2, 3, 4]);
    await waitFor(async () => (await count(queue)) === 25, "25 messages back in the queue");
  });

  test("prefetch bounds what the broker sends ahead of a slow consumer (manual ack)", async () => {
    const queue = topo.queue(unique("backpressure"));
    await client.queueDeclare(queue);
    await Promise.all(Array.from({ length: 200 }, (_, i) => client.publishMessage({ routingKey: queue, content: { i } })));
    const stream = client.stream(queue, { prefetch: 10, ack: "manual" });
    const held: rabbitmq.Message[] = [];
    for await (const msg of stream) {
      held.push(msg);
      if (held.length === 10) break; // closes the stream: the 10 unacked go back
    }
    expect(held).toHaveLength(10);
    await waitFor(async () => (await count(queue)) === 200, "all 200 back");

    const s2 = client.stream(queue, { prefetch: 10, ack: "manual" });
    let seen = 0;
    let maxUnacked = 0;
    for await (const msg of s2) {
      seen++;
      if (seen === 55 || seen === 145) maxUnacked = Math.max(maxUnacked, await queueField(queue, "messages_unacknowledged"));
      expect(client.basicAck(msg)).toBe(true);
      if (seen === 200) break;
    }
    expect(maxUnacked).toBeGreaterThan(0);
    expect(maxUnacked).toBeLessThanOrEqual(10);
    await waitFor(async () => (await count(queue)) === 0, "an empty queue");
  });

  test("fails with RABBITMQ_NOT_FOUND for a missing queue and RABBITMQ_CONSUMER_CANCELLED when it is deleted", async () => {
    const missing = client.stream(unique("missing"));
    await expect(missing.toArray()).rejects.toMatchObject({ code: "RABBITMQ_NOT_FOUND" });

    const queue = topo.queue(unique("deleted"));
    await client.queueDeclare(queue);
    await client.publishMessage({ routingKey: queue, content: 1 });
    const stream = client.stream(queue);
    const first = await stream.next();
    expect(first).toMatchObject({ value: { queue } });
    const other = new rabbitmq.Client(RABBITMQ_URL);
    await other.queueDelete(queue);
    await other.close();
    const next = await stream.next();
    expect(next).toMatchObject({ name: "RabbitMqError", code: "RABBITMQ_CONSUMER_CANCELLED" });
  });
});

describe("lifecycle", () => {
  test("operations after close reject with RABBITMQ_CLOSED; wrong credentials with RABBITMQ_ACCESS_REFUSED", async () => {
    await client.start();
    await client.close();
    await expect(client.queueDeclare("x")).rejects.toMatchObject({ code: "RABBITMQ_CLOSED" });
    await expect(client.publishMessage({ routingKey: "x", content: 1 })).rejects.toMatchObject({ code: "RABBITMQ_CLOSED" });

    const bad = new rabbitmq.Client("127.0.0.1", Number(new URL(RABBITMQ_URL).port || 5672), { username: "nobody", password: "wrong" });
    await expect(bad.publishMessage({ routingKey: "x", content: 1 })).rejects.toMatchObject({ code: "RABBITMQ_ACCESS_REFUSED" });
    await bad.close();
  });

  test("await using closes the client", async () => {
    const queue = topo.queue(unique("using"));
    {
      await using c = new rabbitmq.Client(RABBITMQ_URL);
      await c.queueDeclare(queue);
    }
    expect(await count(queue)).toBe(0);
  });
});
