/**
 * nats.Listener against the real NATS server: subjects with wildcards, payload binding,
 * request/reply (and error replies), queue-group load sharing, in-process retries and dead
 * letters, JetStream durable consumers (redelivery after a failed handler, dead-lettering after
 * max deliveries, manual settling, long handlers), slow consumers, graceful stop, reconnects.
 */
import { afterEach, describe, expect, test } from "vitest";
import { connect } from "@nats-io/transport-node";
import { jetstream } from "@nats-io/jetstream";
import { z } from "zod";
import { payload, PayloadValidationError, service } from "@pirouette/core";
import * as nats from "../src/index.ts";
import { body, NATS_URL, sleep, Streams, TcpProxy, unique, uniqueName, waitFor } from "./helpers.ts";

const cleanups: (() => Promise<unknown>)[] = [];
const streams = new Streams();
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
  await streams.cleanup();
});

function listener(options: nats.NatsListenerOptions = {}, url: string = NATS_URL): nats.Listener {
  const l = new nats.Listener(url, options);
  cleanups.push(() => l.immediateStop());
  return l;
}

async function client(url: string = NATS_URL, options: nats.NatsClientOptions = {}): Promise<nats.Client> {
  const c = new nats.Client(url, options);
  cleanups.push(() => c.close());
  await c.start();
  return c;
}

const Order = z.object({ id: z.string(), cents: z.number().int() });
type Order = z.infer<typeof Order>;

/** A stream capturing `<base>.>` (deleted after the test). */
async function stream(c: nats.Client, base: string, name = uniqueName("s")): Promise<string> {
  streams.add(name);
  await c.jetstream.addStream({ name, subjects: [`${base}.>`], storage: "memory" });
  return name;
}

describe("nats.Listener (core NATS)", () => {
  test("subjects with wildcards; the attach name is the subject; a schema binds the payload", async () => {
    const base = unique("wild");
    const one: Order[] = [];
    const all: string[] = [];
    const l = listener();
    await l.attach({ onMessage: (o: Order) => void one.push(o) }, { name: `${base}.*.created`, payload: Order });
    await l.attach({ onMessage: (m: nats.Message) => void all.push(m.subject) }, { subject: `${base}.>` });
    await l.start();
    const c = await client();
    c.publish(`${base}.eu.created`, { id: "o1", cents: 100 });
    c.publish(`${base}.eu.deleted`, { id: "o2", cents: 1 });
    c.publish(`${base}.us.created.late`, { id: "o3", cents: 1 });
    await waitFor(() => one.length === 1 && all.length === 3, "the routed messages");
    expect(one).toEqual([{ id: "o1", cents: 100 }]);
    expect(all.sort()).toEqual([`${base}.eu.created`, `${base}.eu.deleted`, `${base}.us.created.late`]);
  });

  test("onRequest: the return value is the reply; a failure is an error reply, not a timeout", async () => {
    const subject = unique("rpc");
    const l = listener({ retry: false });
    class Prices {
      @payload(z.object({ sku: z.string() }))
      onRequest(q: { sku: string }, caller: nats.Caller) {
        if (q.sku === "boom") throw new Error("price service down");
        return { sku: q.sku, cents: 1299, via: caller.subject };
      }
      onError() {}
    }
    await l.attach(new Prices(), subject);
    await l.start();
    const c = await client();
    const reply = await c.request(subject, { sku: "A1" });
    expect(body(reply.content)).toEqual({ sku: "A1", cents: 1299, via: subject });
    const failed = await c.request(subject, { sku: "boom" }).catch((e: unknown) => e);
    expect(failed).toMatchObject({ code: "NATS_SERVICE_ERROR", status: 500 });
    expect((failed as Error).message).toMatch(/price service down/);
    const invalid = await c.request(subject, { nope: 1 }).catch((e: unknown) => e);
    expect(invalid).toMatchObject({ code: "NATS_SERVICE_ERROR", status: 400 });
  });

  test("caller.respond() answers from onMessage", async () => {
    const subject = unique("respond");
    const l = listener();
    await l.attach({ onMessage: (m: nats.Message, caller: nats.Caller) => caller.respond(`echo:${Buffer.from(m.content).toString()}`) }, subject);
    await l.start();
    const reply = await (await client()).request(subject, "hi");
    expect(Buffer.from(reply.content).toString()).toBe("echo:hi");
  });

  test("a queue group shares the messages: each once, spread over the members", async () => {
    const subject = unique("queue");
    const byMember = [0, 0, 0];
    const seen = new Set<number>();
    let duplicates = 0;
    let everything = 0;
    for (let i = 0; i < 3; i++) {
      const l = listener();
      await l.attach(
        {
          onMessage(m: nats.Message) {
            byMember[i] = (byMember[i] ?? 0) + 1;
            const n = body<{ n: number }>(m.content).n;
            if (seen.has(n)) duplicates++;
            seen.add(n);
          },
        },
        { subject, queueName: "workers" },
      );
      await l.start();
    }
    const outsider = listener();
    await outsider.attach({ onMessage: () => void everything++ }, subject); // not in the group: sees all
    await outsider.start();
    const c = await client();
    await c.flush();
    for (let n = 0; n < 300; n++) c.publish(subject, { n });
    await waitFor(() => seen.size === 300 && everything === 300, "all messages");
    expect(duplicates).toBe(0);
    expect(byMember.reduce((a, b) => a + b, 0)).toBe(300);
    expect(byMember.filter((n) => n > 0).length).toBeGreaterThanOrEqual(2);
  });

  test("core: a failing handler is retried in-process, then dead-lettered with x-pirouette headers", async () => {
    const base = unique("dlq");
    const c = await client();
    const dead = c.subscribe(`${base}.dead`);
    await c.flush();
    let calls = 0;
    const errors: [nats.Message | undefined, Error][] = [];
    const l = listener({ retry: { maxAttempts: 3, initialDelayMs: 5, jitter: false }, deadLetter: { subject: `${base}.dead` } });
    await l.attach(
      {
        onMessage() {
          calls++;
          throw new Error("always");
        },
        onError: (m: nats.Message | undefined, e: Error) => void errors.push([m, e]),
      },
      `${base}.in`,
    );
    await l.start();
    c.publish(`${base}.in`, { id: 1 }, { headers: { tenant: "acme" } });
    const [d] = await dead.take(1).toArray();
    expect(calls).toBe(3);
    expect(errors).toHaveLength(1);
    expect(errors[0]?.[0]?.subject).toBe(`${base}.in`);
    expect(body(d?.content ?? new Uint8Array())).toEqual({ id: 1 });
    expect(d?.headers).toMatchObject({ tenant: "acme", "x-pirouette-error": "always", "x-pirouette-attempts": "3" });
    expect(JSON.parse(String(d?.headers?.["x-pirouette-original"]))).toMatchObject({ subject: `${base}.in` });
  });

  test("binding failures reach onError with coordinates and are not retried", async () => {
    const subject = unique("invalid");
    const errors: Error[] = [];
    let calls = 0;
    const l = listener();
    await l.attach(
      { onMessage: () => void calls++, onError: (_m: nats.Message | undefined, e: Error) => void errors.push(e) },
      { subject, payload: Order },
    );
    await l.start();
    const c = await client();
    c.publish(subject, { id: 1 });
    c.publish(subject, "{broken");
    await waitFor(() => errors.length === 2, "two binding errors");
    expect(errors[0]).toBeInstanceOf(PayloadValidationError);
    expect((errors[0] as PayloadValidationError).coordinates).toMatchObject({ subject });
    expect(errors[1]?.name).toBe("PayloadBindingError");
    expect(calls).toBe(0);
  });

  test("a service behind its pendingLimits drops messages and reports NATS_SLOW_CONSUMER", async () => {
    const subject = unique("slow");
    const errors: Error[] = [];
    let handled = 0;
    const l = listener({ maxInFlight: 2 });
    await l.attach(
      {
        async onMessage() {
          await sleep(20);
          handled++;
        },
        onError: (_m: nats.Message | undefined, e: Error) => void errors.push(e),
      },
      { subject, pendingLimits: { maxMessages: 10 } },
    );
    await l.start();
    const c = await client();
    await c.flush();
    for (let i = 0; i < 100; i++) c.publish(subject, { i });
    await waitFor(() => errors.some((e) => (e as nats.NatsError).code === "NATS_SLOW_CONSUMER"), "a slow-consumer report");
    await waitFor(() => handled >= 12, "the accepted messages");
    await sleep(100);
    expect(handled).toBeLessThan(100);
  });

  test("@service with @nats.ServiceConfig", async () => {
    const subject = unique("decorated");
    const l = listener();
    const got: Order[] = [];
    @service(l)
    @nats.ServiceConfig({ subject, queueName: "decorated" })
    class Orders {
      @payload(Order)
      onMessage(o: Order) {
        got.push(o);
      }
    }
    void Orders;
    await l.start();
    (await client()).publish(subject, { id: "d", cents: 5 });
    await waitFor(() => got.length === 1, "the decorated service");
  });

  test("attach validation: exactly one of onMessage/onRequest, a subject, JetStream without onRequest", async () => {
    const l = listener();
    await expect(l.attach({ onMessage() {}, onRequest() {} }, "x")).rejects.toMatchObject({ code: "NATS_METHOD_CONFLICT" });
    await expect(l.attach({ onError() {} }, "x")).rejects.toMatchObject({ code: "NATS_MISSING_METHOD" });
    await expect(l.attach({ onMessage() {} })).rejects.toMatchObject({ code: "NATS_MISSING_SUBJECT" });
    await expect(l.attach({ onMessage() {} }, "a..b")).rejects.toMatchObject({ code: "NATS_INVALID_SUBJECT" });
    await expect(l.attach({ onMessage() {} }, { subject: "x", jetstream: { stream: "S", durable: "d" }, queueName: "q" })).rejects.toMatchObject({
      code: "NATS_INVALID_CONFIG",
    });
    await l.start();
    await expect(l.attach({ onRequest() {} }, { subject: "x", jetstream: { stream: "S", durable: "d" } })).rejects.toMatchObject({
      code: "NATS_INVALID_CONFIG",
    });
  });

  test("the connection is cut: the listener reconnects and its subscriptions work again", async () => {
    const subject = unique("reconnect");
    const p = await new TcpProxy().start();
    cleanups.push(() => p.close());
    const errors: Error[] = [];
    const l = listener({ reconnect: { initialDelayMs: 50, maxDelayMs: 200 } }, p.url);
    await l.attach({ onRequest: (n: number) => n * 2, onError: (_m: nats.Message | undefined, e: Error) => void errors.push(e) }, { subject, mode: "payload" });
    await l.start();
    const c = await client();
    expect(body((await c.request(subject, 21)).content)).toBe(42);
    p.cut();
    await waitFor(() => l.reconnects >= 1 && l.isConnected, "the reconnect");
    await waitFor(async () => (await c.request(subject, 5, { timeoutMs: 500 }).then((r) => body<number>(r.content)).catch(() => 0)) === 10, "a reply after the reconnect");
    expect(errors.some((e) => (e as nats.NatsError).code === "NATS_CONNECTION")).toBe(true);
  });

  test("reconnect backoff is capped exponential with jitter: few attempts during an outage", async () => {
    const p = await new TcpProxy().start();
    cleanups.push(() => p.close());
    const l = listener({ reconnect: { initialDelayMs: 100, maxDelayMs: 800 } }, p.url);
    await l.attach({ onMessage() {}, onError() {} }, unique("backoff"));
    await l.start();
    const before = p.attempts;
    p.down();
    await sleep(3000);
    const attempts = p.attempts - before;
    p.up();
    // 0, 100, 200, 400, 800, 800 … ms: about 6 attempts in 3 s (nats.js's default 2 s wait: 2, without growth).
    expect(attempts).toBeGreaterThanOrEqual(3);
    expect(attempts).toBeLessThanOrEqual(10);
    await waitFor(() => l.isConnected, "the reconnect after the outage", 10_000);
  });

  test("graceful stop lets in-flight handlers finish (their replies are sent)", async () => {
    const subject = unique("graceful");
    const l = new nats.Listener(NATS_URL, { concurrency: 3 });
    await l.attach({ onRequest: async (n: number) => {
      await sleep(300);
      return n + 1;
    } }, { subject, mode: "payload" });
    await l.start();
    const c = await client();
    const replies = Promise.all([1, 2, 3].map((n) => c.request(subject, n, { timeoutMs: 5000 }).then((r) => body<number>(r.content))));
    await sleep(100);
    await l.gracefulStop();
    expect(await replies).toEqual([2, 3, 4]);
  });
});

describe("nats.Listener (JetStream)", () => {
  test("a failed handler is nak'ed with a delay and redelivered; success acks", async () => {
    const base = unique("js_redeliver");
    const c = await client();
    const name = await stream(c, base);
    const deliveries: number[] = [];
    const l = listener({ retry: { initialDelayMs: 50, jitter: false } });
    await l.attach(
      {
        onMessage(m: nats.Message) {
          deliveries.push(m.jetstream?.deliveryCount ?? -1);
          if ((m.jetstream?.deliveryCount ?? 0) < 2) throw new Error("transient");
        },
        onError() {},
      },
      { subject: `${base}.orders`, jetstream: { stream: name, durable: "billing", maxDeliver: 5, ackWait: 10 } },
    );
    await l.start();
    const ack = await c.jetstream.publish(`${base}.orders`, { id: "o1" });
    expect(ack).toMatchObject({ stream: name, seq: 1, duplicate: false });
    await waitFor(() => deliveries.length === 2, "the redelivery");
    await sleep(300);
    expect(deliveries).toEqual([1, 2]); // acked on the second delivery: no third
  });

  test("dead-lettering after max deliveries: the message goes to the DLQ stream and is terminated", async () => {
    const base = unique("js_dlq");
    const c = await client();
    const name = await stream(c, base);
    const dlqName = await stream(c, `${base}_dead`);
    const deliveries: number[] = [];
    const errors: Error[] = [];
    const l = listener({ retry: { initialDelayMs: 20, jitter: false }, deadLetter: { subject: `${base}_dead.orders` } });
    await l.attach(
      {
        onMessage(m: nats.Message) {
          deliveries.push(m.jetstream?.deliveryCount ?? -1);
          throw new Error("poison");
        },
        onError: (_m: nats.Message | undefined, e: Error) => void errors.push(e),
      },
      { subject: `${base}.orders`, jetstream: { stream: name, durable: "billing", maxDeliver: 3 } },
    );
    await l.start();
    await c.jetstream.publish(`${base}.orders`, { id: "poison" }, { headers: { tenant: "acme" } });
    await waitFor(async () => (await c.jetstream.streamInfo(dlqName)).messages === 1, "the dead letter");
    await sleep(300);
    expect(deliveries).toEqual([1, 2, 3]);
    expect(errors.map((e) => e.message)).toEqual(["poison"]); // onError hears the final failure only
    // Read the dead letter back with a plain nats.js ordered consumer.
    const nc = await connect({ servers: NATS_URL });
    cleanups.push(() => nc.close());
    const m = await (await jetstream(nc).consumers.get(dlqName)).next();
    expect(m?.headers?.get("x-pirouette-error")).toBe("poison");
    expect(m?.headers?.get("x-pirouette-attempts")).toBe("3");
    expect(m?.headers?.get("tenant")).toBe("acme");
    expect(JSON.parse(m?.headers?.get("x-pirouette-original") ?? "{}")).toMatchObject({ stream: name, streamSequence: 1, deliveryCount: 3 });
    expect(m?.json()).toEqual({ id: "poison" });
  });

  test("binding failures are not redelivered: dead-lettered (terminated) at once", async () => {
    const base = unique("js_bind");
    const c = await client();
    const name = await stream(c, base);
    let calls = 0;
    const errors: Error[] = [];
    const l = listener();
    await l.attach(
      { onMessage: () => void calls++, onError: (_m: nats.Message | undefined, e: Error) => void errors.push(e) },
      { subject: `${base}.x`, payload: Order, jetstream: { stream: name, durable: "d" } },
    );
    await l.start();
    await c.jetstream.publish(`${base}.x`, { wrong: true });
    await waitFor(() => errors.length === 1, "the binding error");
    await sleep(500);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(PayloadValidationError);
    expect(calls).toBe(0);
  });

  test("manual settling through the caller: term stops redelivery, nak redelivers", async () => {
    const base = unique("js_manual");
    const c = await client();
    const name = await stream(c, base);
    const seen: string[] = [];
    const l = listener();
    await l.attach(
      {
        onMessage(m: nats.Message, caller: nats.Caller) {
          const { id } = body<{ id: string }>(m.content);
          seen.push(`${id}#${m.jetstream?.deliveryCount}`);
          if (id === "drop") caller.term("not for us");
          if (id === "again" && m.jetstream?.deliveryCount === 1) caller.nak(10);
          expect(() => caller.respond("x")).toThrow(/no reply subject/);
        },
      },
      { subject: `${base}.x`, jetstream: { stream: name, durable: "d" } },
    );
    await l.start();
    await c.jetstream.publish(`${base}.x`, { id: "drop" });
    await c.jetstream.publish(`${base}.x`, { id: "again" });
    await waitFor(() => seen.length === 3, "three deliveries");
    await sleep(300);
    expect(seen.sort()).toEqual(["again#1", "again#2", "drop#1"]);
  });

  test("a handler longer than ackWait is kept alive (no redelivery while it runs)", async () => {
    const base = unique("js_long");
    const c = await client();
    const name = await stream(c, base);
    const deliveries: number[] = [];
    const l = listener();
    await l.attach(
      {
        async onMessage(m: nats.Message) {
          deliveries.push(m.jetstream?.deliveryCount ?? -1);
          await sleep(2500);
        },
      },
      { subject: `${base}.x`, jetstream: { stream: name, durable: "d", ackWait: 1 } },
    );
    await l.start();
    await c.jetstream.publish(`${base}.x`, "slow");
    await waitFor(() => deliveries.length === 1, "the delivery");
    await sleep(3500);
    expect(deliveries).toEqual([1]);
  });

  test("graceful stop lets running handlers finish and acks them: the durable does not redeliver them", async () => {
    const base = unique("js_graceful");
    const c = await client();
    const name = await stream(c, base);
    let started = 0;
    const first: number[] = [];
    const l1 = new nats.Listener(NATS_URL, { concurrency: 4 });
    await l1.attach(
      {
        async onMessage(m: nats.Message) {
          started++;
          await sleep(300);
          first.push(body<{ i: number }>(m.content).i);
        },
      },
      { subject: `${base}.x`, jetstream: { stream: name, durable: "d" } },
    );
    await l1.start();
    for (let i = 0; i < 4; i++) await c.jetstream.publish(`${base}.x`, { i });
    await waitFor(() => started === 4, "four running handlers");
    await l1.gracefulStop();
    expect(first.sort()).toEqual([0, 1, 2, 3]);
    const second: number[] = [];
    const l2 = listener();
    await l2.attach({ onMessage: (m: nats.Message) => void second.push(body<{ i: number }>(m.content).i) }, {
      subject: `${base}.x`,
      jetstream: { stream: name, durable: "d" },
    });
    await l2.start();
    await c.jetstream.publish(`${base}.x`, { i: 99 });
    await waitFor(() => second.includes(99), "the new message");
    await sleep(300);
    expect(second).toEqual([99]);
  });

  test("the connection is cut mid-stream: every JetStream message is handled (at least once)", async () => {
    const base = unique("js_cut");
    const c = await client();
    const name = await stream(c, base);
    const p = await new TcpProxy().start();
    cleanups.push(() => p.close());
    const N = 500;
    const seen = new Map<number, number>();
    const l = listener({ concurrency: 4, reconnect: { initialDelayMs: 50, maxDelayMs: 200 } }, p.url);
    await l.attach(
      {
        async onMessage(m: nats.Message) {
          await sleep(1);
          const { i } = body<{ i: number }>(m.content);
          seen.set(i, (seen.get(i) ?? 0) + 1);
        },
        onError() {},
      },
      { subject: `${base}.x`, jetstream: { stream: name, durable: "d", ackWait: 2 } },
    );
    await l.start();
    await Promise.all(Array.from({ length: N }, (_, i) => c.jetstream.publish(`${base}.x`, { i })));
    await waitFor(() => seen.size > N / 5, "a fifth of the messages");
    p.down();
    await sleep(500);
    p.up();
    await waitFor(() => seen.size === N, `all ${N} messages`, 30_000);
    let lost = 0;
    for (let i = 0; i < N; i++) if (!seen.has(i)) lost++;
    expect(lost).toBe(0);
  });

  test("a missing stream fails start() with NATS_JETSTREAM (stream not found)", async () => {
    const l = listener();
    await l.attach({ onMessage() {} }, { subject: unique("nostream"), jetstream: { stream: uniqueName("missing"), durable: "d" } });
    await expect(l.start()).rejects.toMatchObject({ code: "NATS_JETSTREAM", apiCode: 10059 });
  });
});
