/**
 * rabbitmq.Listener against the real broker (RABBITMQ_URL, default amqp://guest:guest@127.0.0.1:5672).
 */
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { z } from "zod";
import { DeadLetterHeaders, PayloadBindingError, PayloadValidationError, payload, type HandlerContext } from "@pirouette/core";
import * as rabbitmq from "../src/index.ts";
import { RABBITMQ_URL, Topology, body, captureLogger, sleep, unique, waitFor } from "./helpers.ts";

const Order = z.object({ id: z.string(), amount: z.number() });
type Order = z.infer<typeof Order>;

let topo: Topology;
let client: rabbitmq.Client;
const listeners: rabbitmq.Listener[] = [];

function newListener(qos?: rabbitmq.QosSettings, options: rabbitmq.RabbitMqListenerOptions = {}): rabbitmq.Listener {
  const l = new rabbitmq.Listener(RABBITMQ_URL, undefined, qos, { gracefulStopTimeoutMs: 5000, ...options });
  listeners.push(l);
  return l;
}

beforeEach(async () => {
  topo = new Topology();
  client = new rabbitmq.Client(RABBITMQ_URL);
  await client.start();
});

afterEach(async () => {
  for (const l of listeners.splice(0)) await l.immediateStop();
  await client.close();
  await topo.cleanup();
});

/** Read `n` messages from a queue (acknowledging them). */
async function drainQueue(queue: string, n: number): Promise<rabbitmq.Message[]> {
  return client.stream(queue, { prefetch: 50 }).take(n).toArray();
}

describe("exchange types", () => {
  test("direct: a decorated service bound with a routing key gets only matching messages", async () => {
    const exchange = topo.exchange(unique("direct"));
    const queue = topo.serviceQueue(unique("direct-q"));
    const got: Order[] = [];

    @rabbitmq.ServiceConfig({ queueName: queue, bindings: [{ exchange, exchangeType: "direct", routingKey: "paid" }] })
    class PaidOrders {
      @payload(Order)
      onMessage(order: Order): void {
        got.push(order);
      }
    }

    const listener = newListener();
    await listener.attach(new PaidOrders());
    await listener.start();

    await client.publishMessage({ exchange, routingKey: "paid", content: { id: "o-1", amount: 10 } });
    await expect(client.publishMessage({ exchange, routingKey: "refunded", content: { id: "o-2", amount: 1 } })).rejects.toMatchObject({
      code: "RABBITMQ_UNROUTABLE",
      replyCode: 312,
    });
    await waitFor(() => got.length === 1, "the paid order");
    expect(got).toEqual([{ id: "o-1", amount: 10 }]);
  });

  test("fanout: every bound queue gets a copy", async () => {
    const exchange = topo.exchange(unique("fanout"));
    const [qa, qb] = [topo.serviceQueue(unique("fan-a")), topo.serviceQueue(unique("fan-b"))];
    const a: unknown[] = [];
    const b: unknown[] = [];
    const listener = newListener();
    const bindings = [{ exchange, exchangeType: "fanout" as const }];
    await listener.attach({ onMessage: (p: unknown) => void a.push(p) }, { name: qa, mode: "payload", bindings });
    await listener.attach({ onMessage: (p: unknown) => void b.push(p) }, { name: qb, mode: "payload", bindings });
    await listener.start();

    await client.publishMessage({ exchange, routingKey: "ignored", content: { n: 1 } });
    await waitFor(() => a.length === 1 && b.length === 1, "both copies");
    expect(a).toEqual([{ n: 1 }]);
    expect(b).toEqual([{ n: 1 }]);
  });

  test("topic: a pattern binding routes order.* but not invoice.*", async () => {
    const exchange = topo.exchange(unique("topic"));
    const queue = topo.serviceQueue(unique("topic-q"));
    const keys: string[] = [];
    const listener = newListener();
    await listener.attach(
      { onMessage: (msg: rabbitmq.Message) => void keys.push(msg.routingKey) },
      { name: queue, bindings: [{ exchange, exchangeType: "topic", routingKey: "order.*" }] },
    );
    await listener.start();

    await client.publishMessage({ exchange, routingKey: "order.created", content: "a" });
    await client.publishMessage({ exchange, routingKey: "order.paid", content: "b" });
    await expect(client.publishMessage({ exchange, routingKey: "invoice.created", content: "c" })).rejects.toMatchObject({
      code: "RABBITMQ_UNROUTABLE",
    });
    await waitFor(() => keys.length === 2, "two order events");
    expect(keys.sort()).toEqual(["order.created", "order.paid"]);
  });

  test("headers: x-match all routes on header values", async () => {
    const exchange = topo.exchange(unique("headers"));
    const queue = topo.serviceQueue(unique("headers-q"));
    const got: rabbitmq.Message[] = [];
    const listener = newListener();
    await listener.attach(
      { onMessage: (msg: rabbitmq.Message) => void got.push(msg) },
      {
        name: queue,
        bindings: [{ exchange, exchangeType: "headers", arguments: { "x-match": "all", region: "eu", kind: "order" } }],
      },
    );
    await listener.start();

    await client.publishMessage({ exchange, routingKey: "", content: { ok: true }, properties: { headers: { region: "eu", kind: "order" } } });
    await expect(
      client.publishMessage({ exchange, routingKey: "", content: { ok: false }, properties: { headers: { region: "us", kind: "order" } } }),
    ).rejects.toMatchObject({ code: "RABBITMQ_UNROUTABLE" });
    await waitFor(() => got.length === 1, "the eu order");
    expect(body(got[0]!)).toEqual({ ok: true });
    expect(got[0]!.properties.headers).toMatchObject({ region: "eu", kind: "order" });
    expect(got[0]!.properties.contentType).toBe("application/json");
  });
});

describe("onRequest (RPC)", () => {
  test("the return value is published to replyTo with the correlationId copied", async () => {
    const queue = topo.serviceQueue(unique("rpc"));
    const listener = newListener();
    const Sum = z.object({ a: z.number(), b: z.number() });
    await listener.attach(
      {
        onRequest: (req: z.infer<typeof Sum>) => (req.a < 0 ? `negative: ${req.a}` : { sum: req.a + req.b }),
      },
      { name: queue, payload: Sum },
    );
    await listener.start();

    const replyQueue = await client.queueAutoGenerate();
    const replies = client.stream(replyQueue);
    await client.publishMessage({ routingKey: queue, content: { a: 2, b: 3 }, properties: { replyTo: replyQueue, correlationId: "c-1" } });
    await client.publishMessage({ routingKey: queue, content: { a: -1, b: 0 }, properties: { replyTo: replyQueue, correlationId: "c-2" } });
    const got = await replies.take(2).toArray();
    const byId = new Map(got.map((m) => [m.properties.correlationId, m]));
    expect(body(byId.get("c-1")!)).toEqual({ sum: 5 });
    expect(byId.get("c-1")!.properties.contentType).toBe("application/json");
    expect(Buffer.from(byId.get("c-2")!.content).toString()).toBe("negative: -1");
    expect(byId.get("c-2")!.properties.contentType).toBe("text/plain; charset=utf-8");
    // The requests were acknowledged after the replies were confirmed.
    await waitFor(async () => (await client.queueDeclare(queue)).messageCount === 0, "the requests to be acked");
  });

  test("a service with both onMessage and onRequest is rejected", async () => {
    const listener = newListener();
    await expect(listener.attach({ onMessage() {}, onRequest() {} }, "q")).rejects.toMatchObject({
      name: "RabbitMqError",
      code: "RABBITMQ_METHOD_CONFLICT",
    });
  });
});

describe("payload binding", () => {
  test("malformed and invalid payloads go to onError(msg, err) with coordinates, then to the dead-letter queue", async () => {
    const queue = topo.serviceQueue(unique("binding"));
    const handled: Order[] = [];
    const errors: { msg: rabbitmq.Message | undefined; err: Error }[] = [];
    const listener = newListener();
    await listener.attach(
      {
        onMessage: (o: Order) => void handled.push(o),
        onError: (msg: rabbitmq.Message | undefined, err: Error) => void errors.push({ msg, err }),
      },
      { name: queue, payload: Order },
    );
    await listener.start();

    await client.publishMessage({ routingKey: queue, content: "not json {" });
    await client.publishMessage({ routingKey: queue, content: { id: 7, amount: "x" } });
    await client.publishMessage({ routingKey: queue, content: { id: "o-3", amount: 3 } });
    await waitFor(() => handled.length === 1 && errors.length === 2, "one order and two errors");

    const malformed = errors.find((e) => !(e.err instanceof PayloadValidationError))!;
    const invalid = errors.find((e) => e.err instanceof PayloadValidationError)!;
    expect(malformed.err).toBeInstanceOf(PayloadBindingError);
    expect(malformed.err).toMatchObject({ code: "PAYLOAD_BINDING", coordinates: { queue } });
    expect(Buffer.from(malformed.msg!.content).toString()).toBe("not json {");
    expect(invalid.err).toMatchObject({ code: "PAYLOAD_VALIDATION", coordinates: { queue } });
    expect((invalid.err as PayloadValidationError).issues.map((i) => i.path.join("."))).toEqual(["id", "amount"]);
    expect(typeof (invalid.err as PayloadValidationError).coordinates?.["deliveryTag"]).toBe("number");

    const dead = await drainQueue(`${queue}.dlq`, 2);
    expect(dead.map((m) => m.properties.headers?.[DeadLetterHeaders.errorCode]).sort()).toEqual(["PAYLOAD_BINDING", "PAYLOAD_VALIDATION"]);
    expect(dead.every((m) => m.properties.headers?.[DeadLetterHeaders.attempts] === "1")).toBe(true); // never retried
    expect(dead.every((m) => m.routingKey === queue)).toBe(true);
  });
});

describe("acknowledgement", () => {
  test("a second basicAck is a typed error and the listener does not ack again", async () => {
    const queue = topo.serviceQueue(unique("double-ack"));
    const outcomes: unknown[] = [];
    const errors: Error[] = [];
    const listener = newListener();
    await listener.attach(
      {
        onMessage: (_m: rabbitmq.Message, caller: rabbitmq.Caller) => {
          outcomes.push(caller.basicAck());
          try {
            caller.basicAck();
          } catch (e) {
            outcomes.push(e);
          }
        },
        onError: (_m: unknown, err: Error) => void errors.push(err),
      },
      { name: queue },
    );
    await listener.start();
    for (let i = 0; i < 3; i++) await client.publishMessage({ routingKey: queue, content: { i } });
    await waitFor(() => outcomes.length === 6, "three handled messages");
    expect(outcomes.filter((o) => o === true)).toHaveLength(3);
    const failures = outcomes.filter((o) => o instanceof Error) as rabbitmq.RabbitMqError[];
    expect(failures.map((f) => [f.name, f.code])).toEqual(Array(3).fill(["RabbitMqError", "RABBITMQ_ALREADY_SETTLED"]));
    await waitFor(async () => (await client.queueDeclare(queue)).messageCount === 0, "an empty queue");
    // No 406 (which would close the channel and be reported).
    await sleep(100);
    expect(errors).toEqual([]);
  });

  test("basicNack(false, false) drops the message; basicAck in autoAck mode is a typed error", async () => {
    const dropped = topo.serviceQueue(unique("nack"));
    const auto = topo.serviceQueue(unique("auto"));
    const seen: string[] = [];
    const autoErrors: unknown[] = [];
    const listener = newListener();
    await listener.attach(
      {
        onMessage: (m: rabbitmq.Message, caller: rabbitmq.Caller) => {
          seen.push(`nack:${m.routingKey}`);
          expect(caller.basicNack(false, false)).toBe(true);
          expect(caller.isSettled).toBe(true);
        },
      },
      { name: dropped },
    );
    await listener.attach(
      {
        onMessage: (_m: rabbitmq.Message, caller: rabbitmq.Caller) => {
          seen.push("auto");
          try {
            caller.basicAck();
          } catch (e) {
            autoErrors.push(e);
          }
        },
      },
      { name: auto, autoAck: true },
    );
    await listener.start();
    await client.publishMessage({ routingKey: dropped, content: 1 });
    await client.publishMessage({ routingKey: auto, content: 2 });
    await waitFor(() => seen.length === 2, "both messages");
    expect(autoErrors).toHaveLength(1);
    expect(autoErrors[0]).toMatchObject({ code: "RABBITMQ_AUTO_ACK" });
    await waitFor(async () => (await client.queueDeclare(dropped)).messageCount === 0, "the nacked message gone");
    expect((await client.queueDeclare(`${dropped}.dlq`)).messageCount).toBe(0);
  });

  test("prefetch bounds concurrency", async () => {
    const queue = topo.serviceQueue(unique("prefetch"));
    let active = 0;
    let maxActive = 0;
    let done = 0;
    const listener = newListener({ prefetchCount: 3 });
    await listener.attach(
      {
        onMessage: async () => {
          active++;
          maxActive = Math.max(maxActive, active);
          await sleep(40);
          active--;
          done++;
        },
      },
      { name: queue },
    );
    await listener.start();
    await Promise.all(Array.from({ length: 15 }, (_, i) => client.publishMessage({ routingKey: queue, content: { i } })));
    await waitFor(() => done === 15, "15 handled");
    expect(maxActive).toBe(3);
  });
});

describe("autoAck", () => {
  test("the consumer pauses while the handlers are busy, so prefetch still bounds concurrency", async () => {
    const queue = topo.serviceQueue(unique("auto-pause"));
    let active = 0;
    let maxActive = 0;
    const done = new Set<number>();
    const listener = newListener({ prefetchCount: 2 });
    await listener.attach(
      {
        onMessage: async (p: { i: number }) => {
          active++;
          maxActive = Math.max(maxActive, active);
          await sleep(15);
          active--;
          done.add(p.i);
        },
      },
      { name: queue, autoAck: true, mode: "payload" },
    );
    await listener.start();
    await Promise.all(Array.from({ length: 30 }, (_, i) => client.publishMessage({ routingKey: queue, content: { i } })));
    await waitFor(() => done.size === 30, "30 handled");
    expect(maxActive).toBe(2);
    expect((await client.queueDeclare(queue)).messageCount).toBe(0);
  });
});

describe("retries and dead letters", () => {
  test("a poison message is retried with backoff, then dead-lettered with the attempt count and error", async () => {
    const queue = topo.serviceQueue(unique("poison"));
    const attempts: number[] = [];
    const errors: Error[] = [];
    const listener = newListener(undefined, { retry: { maxAttempts: 3, initialDelayMs: 20, jitter: false } });
    await listener.attach(
      {
        onMessage: (_m: rabbitmq.Message, _c: rabbitmq.Caller, ctx: HandlerContext) => {
          attempts.push(ctx.attempt);
          throw new Error("payment declined");
        },
        onError: (_m: unknown, err: Error) => void errors.push(err),
      },
      { name: queue },
    );
    await listener.start();
    await client.publishMessage({
      routingKey: queue,
      content: { id: "o-poison" },
      properties: { messageId: "m-1", headers: { tenant: "acme" } },
    });
    const [dead] = await drainQueue(`${queue}.dlq`, 1);
    expect(attempts).toEqual([1, 2, 3]);
    expect(errors.map((e) => e.message)).toEqual(["payment declined"]);
    const h = dead!.properties.headers!;
    expect(h[DeadLetterHeaders.attempts]).toBe("3");
    expect(h[DeadLetterHeaders.error]).toBe("payment declined");
    expect(h[DeadLetterHeaders.errorName]).toBe("Error");
    expect(JSON.parse(String(h[DeadLetterHeaders.coordinates]))).toMatchObject({ queue, routingKey: queue, redelivered: false });
    expect(h["tenant"]).toBe("acme");
    expect(dead!.properties.messageId).toBe("m-1");
    expect(dead!.exchange).toBe(`${queue}.dlx`);
    expect(body(dead!)).toEqual({ id: "o-poison" });
    expect((await client.queueDeclare(queue)).messageCount).toBe(0);
  });

  test("quorum queue: a message requeued forever stops at maxDeliveries and is dead-lettered", async () => {
    const queue = topo.serviceQueue(unique("quorum"));
    let calls = 0;
    const errors: Error[] = [];
    const listener = newListener({ prefetchCount: 1 }, { maxDeliveries: 3 });
    await listener.attach(
      {
        onMessage: (_m: rabbitmq.Message, caller: rabbitmq.Caller) => {
          calls++;
          caller.basicNack(false, true); // a naive "try again later" loop
        },
        onError: (_m: unknown, err: Error) => void errors.push(err),
      },
      { name: queue, config: { arguments: { "x-queue-type": "quorum" } } },
    );
    await listener.start();
    await client.publishMessage({ routingKey: queue, content: "loop" });
    const [dead] = await drainQueue(`${queue}.dlq`, 1);
    expect(calls).toBe(3);
    expect(dead!.properties.headers?.[DeadLetterHeaders.errorCode]).toBe("RABBITMQ_DELIVERY_LIMIT");
    expect(errors.map((e) => (e as rabbitmq.RabbitMqError).code)).toEqual(["RABBITMQ_DELIVERY_LIMIT"]);
  });

  test("quorum queue with the broker's x-delivery-limit: dead-lettered by the broker after 4 deliveries", async () => {
    const queue = topo.queue(unique("limit"));
    const dlx = topo.exchange(unique("limit-dlx"));
    const dlq = topo.queue(unique("limit-dlq"));
    await client.exchangeDeclare(dlx, "fanout");
    await client.queueDeclare(dlq);
    await client.queueBind(dlq, dlx);
    await client.queueDeclare(queue, { arguments: { "x-queue-type": "quorum", "x-delivery-limit": 3, "x-dead-letter-exchange": dlx } });
    let calls = 0;
    const listener = newListener({ prefetchCount: 1 }, { deadLetter: false });
    await listener.attach(
      {
        onMessage: (_m: rabbitmq.Message, caller: rabbitmq.Caller) => {
          calls++;
          caller.basicNack(false, true);
        },
      },
      { name: queue, declare: false },
    );
    await listener.start();
    await client.publishMessage({ routingKey: queue, content: "loop" });
    const [dead] = await drainQueue(dlq, 1);
    expect(Buffer.from(dead!.content).toString()).toBe("loop");
    expect(calls).toBe(4);
  });

  test('deadLetter: "reject" hands failures to the queue\'s own dead-letter exchange', async () => {
    const queue = topo.queue(unique("reject"));
    const dlx = topo.exchange(unique("reject-dlx"));
    const dlq = topo.queue(unique("reject-dlq"));
    await client.exchangeDeclare(dlx, "fanout");
    await client.queueDeclare(dlq);
    await client.queueBind(dlq, dlx);
    const listener = newListener(undefined, { deadLetter: "reject", retry: false });
    await listener.attach(
      {
        onMessage: () => {
          throw new Error("nope");
        },
      },
      { name: queue, config: { arguments: { "x-dead-letter-exchange": dlx } } },
    );
    await listener.start();
    await client.publishMessage({ routingKey: queue, content: "x" });
    const [dead] = await drainQueue(dlq, 1);
    const death = (dead!.properties.headers?.["x-death"] as { reason: string; queue: string }[])[0]!;
    expect(death).toMatchObject({ reason: "rejected", queue });
  });
});

describe("stopping", () => {
  test("gracefulStop lets in-flight handlers finish and acks them; the rest is requeued", async () => {
    const queue = topo.serviceQueue(unique("graceful"));
    const finished: number[] = [];
    let started = 0;
    const listener = newListener({ prefetchCount: 5 });
    await listener.attach(
      {
        onMessage: async (p: { i: number }) => {
          started++;
          await sleep(300);
          finished.push(p.i);
        },
      },
      { name: queue, mode: "payload" },
    );
    await listener.start();
    await Promise.all(Array.from({ length: 20 }, (_, i) => client.publishMessage({ routingKey: queue, content: { i } })));
    await waitFor(() => started === 5, "5 handlers running");
    await listener.gracefulStop();
    expect(listener.state).toBe("stopped");
    expect(finished).toHaveLength(5);
    const left = await client.queueDeclare(queue);
    expect(left.messageCount).toBe(15);
    const rest = await drainQueue(queue, 15);
    const ids = new Set([...finished, ...rest.map((m) => body<{ i: number }>(m).i)]);
    expect(ids.size).toBe(20); // nothing lost, nothing acked twice
  });

  test("immediateStop aborts handlers through their signal and requeues their messages", async () => {
    const queue = topo.serviceQueue(unique("immediate"));
    let aborted = 0;
    let started = 0;
    const listener = newListener({ prefetchCount: 2 });
    await listener.attach(
      {
        onMessage: (_m: rabbitmq.Message, _c: rabbitmq.Caller, ctx: HandlerContext) =>
          new Promise<void>((_, reject) => {
            started++;
            ctx.signal.addEventListener("abort", () => {
              aborted++;
              reject(ctx.signal.reason as Error);
            });
          }),
      },
      { name: queue },
    );
    await listener.start();
    await client.publishMessage({ routingKey: queue, content: 1 });
    await client.publishMessage({ routingKey: queue, content: 2 });
    await waitFor(() => started === 2, "2 handlers running");
    await listener.immediateStop();
    expect(aborted).toBe(2);
    await waitFor(async () => (await client.queueDeclare(queue)).messageCount === 2, "both messages back");
    expect((await client.queueDeclare(`${queue}.dlq`)).messageCount).toBe(0);
  });
});

describe("declare", () => {
  test('"passive" fails start with RABBITMQ_NOT_FOUND when the queue is missing', async () => {
    const listener = newListener();
    await listener.attach({ onMessage() {} }, { name: unique("missing"), declare: "passive" });
    await expect(listener.start()).rejects.toMatchObject({ name: "RabbitMqError", code: "RABBITMQ_NOT_FOUND", replyCode: 404 });
    expect(listener.state).toBe("stopped");
  });

  test("false consumes a queue created elsewhere with other arguments; true would clash with a 406", async () => {
    const queue = topo.queue(unique("elsewhere"));
    await client.queueDeclare(queue, { arguments: { "x-message-ttl": 60_000 } });
    const got: unknown[] = [];
    const listener = newListener();
    await listener.attach({ onMessage: (p: unknown) => void got.push(p) }, { name: queue, declare: false, mode: "payload" });
    await listener.start();
    await client.publishMessage({ routingKey: queue, content: { ok: 1 } });
    await waitFor(() => got.length === 1, "the message");

    await expect(listener.attach({ onMessage() {} }, { name: queue, declare: true })).rejects.toMatchObject({
      code: "RABBITMQ_PRECONDITION_FAILED",
      replyCode: 406,
    });
    // The failed attach did not disturb the running service.
    await client.publishMessage({ routingKey: queue, content: { ok: 2 } });
    await waitFor(() => got.length === 2, "the second message");
  });
});

describe("channel isolation", () => {
  test("a service whose queue disappears reports it and recovers; the other service is untouched", async () => {
    const fragile = topo.queue(unique("fragile"));
    const steady = topo.serviceQueue(unique("steady"));
    await client.queueDeclare(fragile);
    const errors: string[] = [];
    const fragileGot: unknown[] = [];
    const steadyGot: unknown[] = [];
    const listener = newListener(undefined, { reconnect: { initialDelayMs: 50, maxDelayMs: 200 } });
    await listener.attach(
      {
        onMessage: (p: unknown) => void fragileGot.push(p),
        onError: (m: unknown, err: Error) => void errors.push(`${m === undefined ? "-" : "msg"}:${(err as rabbitmq.RabbitMqError).code}`),
      },
      { name: fragile, declare: "passive", mode: "payload" },
    );
    await listener.attach({ onMessage: (p: unknown) => void steadyGot.push(p) }, { name: steady, mode: "payload" });
    await listener.start();

    await client.queueDelete(fragile);
    await waitFor(() => errors.includes("-:RABBITMQ_CONSUMER_CANCELLED") && errors.includes("-:RABBITMQ_NOT_FOUND"), "the errors");
    await client.publishMessage({ routingKey: steady, content: { s: 1 } });
    await waitFor(() => steadyGot.length === 1, "the steady service's message");

    await client.queueDeclare(fragile); // it comes back: the service resubscribes
    await waitFor(async () => (await client.queueDeclare(fragile)).consumerCount === 1, "the resubscription");
    await client.publishMessage({ routingKey: fragile, content: { f: 1 } });
    await waitFor(() => fragileGot.length === 1, "the fragile service's message");
  });
});

describe("connection errors", () => {
  test("wrong credentials reject start() with RABBITMQ_ACCESS_REFUSED", async () => {
    const url = new URL(RABBITMQ_URL);
    url.username = "pirouette-nobody";
    url.password = "S3cr3t-CANARY";
    const logger = captureLogger();
    const listener = new rabbitmq.Listener(url.href, undefined, undefined, { logger });
    listeners.push(listener);
    await listener.attach({ onMessage() {} }, "q");
    const err = (await listener.start().catch((e: unknown) => e)) as rabbitmq.RabbitMqError;
    expect(err).toMatchObject({ name: "RabbitMqError", code: "RABBITMQ_ACCESS_REFUSED" });
    expect(JSON.stringify(err)).not.toContain("CANARY");
    expect(err.message).not.toContain("CANARY");
    expect(JSON.stringify(logger.entries, (_k, v: unknown) => (v instanceof Error ? v.message : v))).not.toContain("CANARY");
  });

  test("an unreachable broker rejects start() with RABBITMQ_CONNECTION", async () => {
    const listener = new rabbitmq.Listener("127.0.0.1", 1, undefined, { connectionTimeout: 2 });
    listeners.push(listener);
    await expect(listener.start()).rejects.toMatchObject({ code: "RABBITMQ_CONNECTION" });
  });
});
