// The in-memory transport: Broker, memory.Listener and memory.Client. Consumer groups,
// redelivery, fault injection, dead-letter topic, request/reply, streams and backpressure.
import { afterEach, describe, expect, test, vi } from "vitest";
import { z } from "zod";
import { PayloadValidationError, PirouetteError } from "../src/errors.ts";
import { Stream } from "../src/stream/stream.ts";
import * as memory from "../src/memory/index.ts";
import type { Message } from "../src/memory/broker.ts";
import type { HandlerContext } from "../src/service/dispatcher.ts";

interface Deferred<T> {
  readonly promise: Promise<T>;
  resolve(value: T): void;
}
function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((res) => {
    resolve = res;
  });
  return { promise, resolve };
}

const decode = (m: Message): unknown => JSON.parse(Buffer.from(m.value).toString("utf8"));
const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
const waitFor = (fn: () => void): Promise<void> => vi.waitFor(fn, { timeout: 10_000, interval: 5 });

const listeners: memory.Listener[] = [];
function listen(options: memory.MemoryListenerOptions): memory.Listener {
  const l = new memory.Listener(options);
  listeners.push(l);
  return l;
}
afterEach(async () => {
  vi.useRealTimers();
  await Promise.all(listeners.splice(0).map((l) => l.immediateStop()));
});

async function publishAll(client: memory.Client, topic: string, values: unknown[], key?: (v: unknown, i: number) => string): Promise<void> {
  for (const [i, v] of values.entries()) await client.publish(topic, v, key === undefined ? {} : { key: key(v, i) });
}

describe("consumer groups", () => {
  test("two groups each receive every message", async () => {
    const broker = new memory.Broker();
    const client = new memory.Client({ broker });
    const seen: Record<string, number[]> = { a: [], b: [] };
    for (const group of ["a", "b"]) {
      const l = listen({ broker, groupId: group });
      await l.attach({ onMessage: (n: number) => void seen[group]!.push(n) }, { name: "nums", mode: "payload" });
      await l.start();
    }
    await publishAll(client, "nums", [1, 2, 3, 4, 5, 6]);
    await waitFor(() => {
      expect(seen["a"]).toEqual([1, 2, 3, 4, 5, 6]);
      expect(seen["b"]).toEqual([1, 2, 3, 4, 5, 6]);
    });
    expect(broker.pending("nums", "a")).toBe(0);
    expect(broker.pending("nums", "b")).toBe(0);
  });

  test("two listeners in one group split the messages; each message is handled once", async () => {
    const broker = new memory.Broker();
    const client = new memory.Client({ broker });
    const byListener: number[][] = [[], []];
    for (const i of [0, 1]) {
      const l = listen({ broker, groupId: "shared" });
      await l.attach({ onMessage: (n: number) => void byListener[i]!.push(n) }, { name: "jobs", mode: "payload" });
      await l.start();
    }
    const values = Array.from({ length: 20 }, (_, i) => i);
    await publishAll(client, "jobs", values);
    await waitFor(() => expect(byListener[0]!.length + byListener[1]!.length).toBe(20));
    await settle();
    expect([...byListener[0]!, ...byListener[1]!].sort((a, b) => a - b)).toEqual(values);
    expect(byListener[0]!.length).toBeGreaterThan(0);
    expect(byListener[1]!.length).toBeGreaterThan(0);
    expect(broker.pending("jobs", "shared")).toBe(0);
  });

  test("offsetReset latest skips what was published before the group existed", async () => {
    const broker = new memory.Broker();
    const client = new memory.Client({ broker });
    await client.publish("t", 1);
    const seen: number[] = [];
    const l = listen({ broker, groupId: "late", offsetReset: "latest" });
    await l.attach({ onMessage: (n: number) => void seen.push(n) }, { name: "t", mode: "payload" });
    await l.start();
    await client.publish("t", 2);
    await waitFor(() => expect(seen).toEqual([2]));
  });
});

describe("redelivery", () => {
  test('"stop": the failed message stays unacked, intake stops, and the group redelivers it', async () => {
    const broker = new memory.Broker();
    const client = new memory.Client({ broker });
    const calls: { n: number; deliveryCount: number }[] = [];
    const errors: Error[] = [];
    const failing = listen({ broker, groupId: "g", retry: false, onHandlerFailure: "stop" });
    await failing.attach(
      {
        onMessage: (n: number, caller: memory.Caller) => {
          calls.push({ n, deliveryCount: caller.message.deliveryCount });
          // Without "stop" taking effect the failure would be redelivered in a hot loop that
          // starves timers (and the test timeout): give up failing after a few, so it fails instead.
          if (calls.length > 3) return;
          throw new Error(`cannot handle ${n}`);
        },
        onError: (e: Error) => void errors.push(e),
      },
      { name: "t", mode: "payload" },
    );
    await failing.start();
    await client.publish("t", 1);
    await waitFor(() => expect(errors).toHaveLength(1));
    await client.publish("t", 2);
    await settle();
    await settle();
    // Stopped: handled once, not redelivered to itself in a loop, nothing more taken.
    expect(calls).toEqual([{ n: 1, deliveryCount: 1 }]);
    expect(errors[0]!.message).toBe("cannot handle 1");
    expect(broker.pending("t", "g")).toBe(2);
    expect(broker.messages("t.DLT")).toEqual([]);

    const seen: { n: number; deliveryCount: number }[] = [];
    const healthy = listen({ broker, groupId: "g" });
    await healthy.attach(
      { onMessage: (n: number, caller: memory.Caller) => void seen.push({ n, deliveryCount: caller.message.deliveryCount }) },
      { name: "t", mode: "payload" },
    );
    await healthy.start();
    await waitFor(() => expect(seen).toHaveLength(2));
    expect(seen).toEqual([
      { n: 1, deliveryCount: 2 },
      { n: 2, deliveryCount: 1 },
    ]);
    expect(broker.pending("t", "g")).toBe(0);
  });

  test("disconnectAll: unacked messages are redelivered, the listener rejoins and onError hears CONNECTION", async () => {
    const broker = new memory.Broker();
    const client = new memory.Client({ broker });
    const gate = deferred();
    const calls: { n: number; deliveryCount: number }[] = [];
    const errors: Error[] = [];
    const l = listen({ broker, groupId: "g", reconnectDelayMs: 1 });
    await l.attach(
      {
        onMessage: async (n: number, caller: memory.Caller) => {
          calls.push({ n, deliveryCount: caller.message.deliveryCount });
          if (caller.message.deliveryCount === 1) await gate.promise;
        },
        onError: (e: Error) => void errors.push(e),
      },
      { name: "t", mode: "payload" },
    );
    await l.start();
    await client.publish("t", 1);
    await waitFor(() => expect(calls).toHaveLength(1));
    broker.disconnectAll("network partition");
    expect(errors).toHaveLength(1);
    expect(PirouetteError.is(errors[0])).toBe(true);
    expect((errors[0] as PirouetteError).code).toBe("CONNECTION");
    expect(errors[0]!.message).toBe("network partition");
    // The first delivery finishes after the disconnect: its ack belongs to a dead member.
    gate.resolve();
    await waitFor(() => expect(calls).toEqual([
      { n: 1, deliveryCount: 1 },
      { n: 1, deliveryCount: 2 },
    ]));
    await client.publish("t", 2);
    await waitFor(() => expect(calls.map((c) => c.n)).toEqual([1, 1, 2]));
    await waitFor(() => expect(broker.pending("t", "g")).toBe(0));
  });

  test("a service detached during the reconnect delay is not re-subscribed", async () => {
    const broker = new memory.Broker();
    const client = new memory.Client({ broker });
    const seen: number[] = [];
    const svc = { onMessage: (n: number) => void seen.push(n), onError: () => undefined };
    const l = listen({ broker, groupId: "g", reconnectDelayMs: 5 });
    await l.attach(svc, { name: "t", mode: "payload" });
    await l.start();
    broker.disconnectAll();
    await l.detach(svc);
    await new Promise((r) => setTimeout(r, 50));
    await client.publish("t", 1);
    await settle();
    expect(seen).toEqual([]);
    expect(broker.pending("t", "g")).toBe(1);
  });
});

describe("fault injection", () => {
  test("duplicate: the handler sees each message twice and every copy is settled", async () => {
    const broker = new memory.Broker({ faults: { duplicate: 1, random: () => 0 } });
    const client = new memory.Client({ broker });
    const seen: [number, number][] = [];
    const l = listen({ broker, groupId: "g", concurrency: 2 });
    await l.attach(
      { onMessage: (n: number, caller: memory.Caller) => void seen.push([n, caller.message.deliveryCount]) },
      { name: "t", mode: "payload" },
    );
    await l.start();
    await publishAll(client, "t", [1, 2, 3], (v) => `k${String(v)}`);
    await waitFor(() => expect(seen).toHaveLength(6));
    const sorted = [...seen].sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    expect(sorted).toEqual([
      [1, 1],
      [1, 2],
      [2, 1],
      [2, 2],
      [3, 1],
      [3, 2],
    ]);
    await waitFor(() => expect(broker.pending("t", "g")).toBe(0));
    broker.setFaults({});
    await client.publish("t", 4);
    await waitFor(() => expect(seen).toHaveLength(7));
  });

  test("reorder: adjacent log messages are swapped", async () => {
    const broker = new memory.Broker({ faults: { reorder: 1, random: () => 0 } });
    const client = new memory.Client({ broker });
    await publishAll(client, "t", [0, 1, 2, 3]);
    const seen: number[] = [];
    const l = listen({ broker, groupId: "g" });
    await l.attach({ onMessage: (n: number) => void seen.push(n) }, { name: "t", mode: "payload" });
    await l.start();
    await waitFor(() => expect(seen).toHaveLength(4));
    expect(seen).toEqual([1, 0, 3, 2]);
  });

  test("delay: deliveries arrive after delayMs", async () => {
    vi.useFakeTimers();
    const broker = new memory.Broker({ faults: { delayMs: 250 } });
    const client = new memory.Client({ broker });
    const seen: number[] = [];
    const l = listen({ broker, groupId: "g" });
    await l.attach({ onMessage: (n: number) => void seen.push(n) }, { name: "t", mode: "payload" });
    await l.start();
    await client.publish("t", 1);
    await vi.advanceTimersByTimeAsync(249);
    expect(seen).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(seen).toEqual([1]);
  });
});

describe("dead letters", () => {
  test("the default target publishes to <topic>.DLT with the error and original coordinates in headers", async () => {
    const broker = new memory.Broker();
    const client = new memory.Client({ broker });
    const l = listen({ broker, groupId: "g", retry: false });
    await l.attach(
      {
        onMessage: () => {
          throw new Error("handler exploded");
        },
        onError: () => undefined,
      },
      "orders",
    );
    await l.start();
    await client.publish("orders", { id: 1 }, { key: "customer-1", headers: { "x-trace": "abc" } });
    await waitFor(() => expect(broker.messages("orders.DLT")).toHaveLength(1));
    const dl = broker.messages("orders.DLT")[0]!;
    expect(decode(dl)).toEqual({ id: 1 });
    expect(dl.key).toBe("customer-1");
    expect(dl.headers["x-trace"]).toBe("abc");
    expect(dl.headers["content-type"]).toBe("application/json");
    expect(dl.headers["x-pirouette-error"]).toBe("handler exploded");
    expect(dl.headers["x-pirouette-error-name"]).toBe("Error");
    expect(dl.headers["x-pirouette-attempts"]).toBe("1");
    expect(JSON.parse(dl.headers["x-pirouette-original"]!)).toEqual({ topic: "orders", offset: 0, key: "customer-1", deliveryCount: 1 });
    expect(Number.isNaN(Date.parse(dl.headers["x-pirouette-first-failure-at"]!))).toBe(false);
    await waitFor(() => expect(broker.pending("orders", "g")).toBe(0));
  });

  test("after retries the attempt count is in the headers; a validation failure carries its code", async () => {
    vi.useFakeTimers();
    const broker = new memory.Broker();
    const client = new memory.Client({ broker });
    const errors: Error[] = [];
    const l = listen({ broker, groupId: "g", retry: { maxAttempts: 3, initialDelayMs: 10, jitter: false } });
    let calls = 0;
    await l.attach(
      {
        onMessage: () => {
          calls++;
          throw new Error("flaky");
        },
        onError: (e: Error) => void errors.push(e),
      },
      { name: "orders", payload: z.object({ id: z.number() }) },
    );
    await l.start();
    await client.publish("orders", { id: 1 });
    await client.publish("orders", { id: "not a number" });
    await vi.advanceTimersByTimeAsync(1000);
    const dlt = broker.messages("orders.DLT");
    expect(dlt.map((m) => [decode(m), m.headers["x-pirouette-attempts"], m.headers["x-pirouette-error-code"]])).toEqual([
      [{ id: 1 }, "3", undefined],
      [{ id: "not a number" }, "1", "PAYLOAD_VALIDATION"],
    ]);
    expect(calls).toBe(3); // the invalid payload never reached the handler
    expect(errors[1]).toBeInstanceOf(PayloadValidationError);
    expect((errors[1] as PayloadValidationError).coordinates).toMatchObject({ topic: "orders", offset: 1 });
    expect(broker.pending("orders", "g")).toBe(0);
  });

  test("deadLetter: false skips failed messages (acked, no DLT topic)", async () => {
    const broker = new memory.Broker();
    const client = new memory.Client({ broker });
    const errors: Error[] = [];
    const l = listen({ broker, groupId: "g", retry: false, deadLetter: false });
    await l.attach({ onMessage: () => Promise.reject(new Error("no")), onError: (e: Error) => void errors.push(e) }, "t");
    await l.start();
    await client.publish("t", 1);
    await waitFor(() => expect(errors).toHaveLength(1));
    await waitFor(() => expect(broker.pending("t", "g")).toBe(0));
    expect(broker.messages("t.DLT")).toEqual([]);
  });
});

describe("memory.Client", () => {
  test("request/reply: the handler's return value comes back as the reply", async () => {
    const broker = new memory.Broker();
    const client = new memory.Client({ broker });
    const l = listen({ broker, groupId: "g" });
    await l.attach({ onMessage: (req: { a: number; b: number }) => ({ sum: req.a + req.b }) }, { name: "add", mode: "payload" });
    await l.start();
    const [r1, r2] = await Promise.all([client.request("add", { a: 1, b: 2 }), client.request("add", { a: 10, b: 20 })]);
    expect(decode(r1)).toEqual({ sum: 3 });
    expect(decode(r2)).toEqual({ sum: 30 });
    expect(r1.headers["content-type"]).toBe("application/json");
  });

  test("request times out with TIMEOUT when nobody replies", async () => {
    const broker = new memory.Broker();
    const client = new memory.Client({ broker });
    const l = listen({ broker, groupId: "g" });
    await l.attach({ onMessage: () => undefined }, "void"); // no reply for an undefined result
    await l.start();
    await expect(client.request("void", 1, { timeoutMs: 30 })).rejects.toMatchObject({ code: "TIMEOUT" });
    await expect(client.request("nobody-listens", 1, { timeoutMs: 30 })).rejects.toMatchObject({ code: "TIMEOUT" });
  });

  test("subscribe: a stream of the topic's messages", async () => {
    const broker = new memory.Broker();
    const client = new memory.Client({ broker });
    await publishAll(client, "t", ["a", "b"]);
    const got = client.subscribe("t").map((m) => Buffer.from(m.value).toString("utf8")).take(3).toArray();
    await client.publish("t", "c");
    expect(await got).toEqual(["a", "b", "c"]);
  });

  test("subscribe holds back past highWaterMark until the consumer reads", async () => {
    const broker = new memory.Broker();
    const client = new memory.Client({ broker });
    const stream = client.subscribe("t", { groupId: "s", highWaterMark: 2 });
    await publishAll(client, "t", [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(broker.pending("t", "s")).toBe(8);
    expect((await stream.take(10).toArray()).map(decode)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(broker.pending("t", "s")).toBe(0);
  });

  test("a subscription fails with CONNECTION on disconnect", async () => {
    const broker = new memory.Broker();
    const client = new memory.Client({ broker });
    const stream = client.subscribe("t");
    broker.disconnectAll();
    await expect(stream.toArray()).rejects.toMatchObject({ code: "CONNECTION" });
  });

  test("pipeTo(client): the client is a Sink writing to its topic", async () => {
    const broker = new memory.Broker();
    const sink = new memory.Client({ broker, topic: "out" });
    await Stream.of<unknown>({ n: 1 }, { n: 2 }, "text").pipeTo(sink);
    const out = broker.messages("out");
    expect(out.map((m) => Buffer.from(m.value).toString("utf8"))).toEqual(['{"n":1}', '{"n":2}', "text"]);
    expect(out.map((m) => m.headers["content-type"])).toEqual(["application/json", "application/json", "text/plain; charset=utf-8"]);
    // pipeTo closed the sink.
    await expect(sink.publish("out", 1)).rejects.toMatchObject({ code: "CLOSED" });
  });

  test("write without a topic, and values that are not JSON, are rejected", async () => {
    const client = new memory.Client({ broker: new memory.Broker() });
    await expect(client.write(1)).rejects.toMatchObject({ code: "INVALID_ARGUMENT" });
    await expect(client.publish("t", 10n)).rejects.toMatchObject({ code: "PAYLOAD_BINDING" });
    await expect(client.publish("t", undefined)).rejects.toMatchObject({ code: "PAYLOAD_BINDING" });
    await expect(client.publish("", 1)).rejects.toMatchObject({ code: "INVALID_ARGUMENT" });
  });
});

describe("memory.Listener dispatch", () => {
  test("backpressure: a slow handler holds messages back at the broker for other members", async () => {
    const broker = new memory.Broker();
    const client = new memory.Client({ broker });
    const gate = deferred();
    let slowStarted = 0;
    let running = 0;
    let maxRunning = 0;
    const slow = listen({ broker, groupId: "g", concurrency: 1, maxInFlight: 2 });
    await slow.attach(
      {
        onMessage: async () => {
          slowStarted++;
          running++;
          maxRunning = Math.max(maxRunning, running);
          await gate.promise;
          running--;
        },
      },
      "work",
    );
    await slow.start();
    await publishAll(client, "work", Array.from({ length: 10 }, (_, i) => i));
    await waitFor(() => expect(slowStarted).toBe(1));
    await settle();
    expect(broker.pending("work", "g")).toBe(10);
    // A second member joins: the messages the slow one did not take are still at the broker.
    const fast: number[] = [];
    const other = listen({ broker, groupId: "g" });
    await other.attach({ onMessage: (n: number) => void fast.push(n) }, { name: "work", mode: "payload" });
    await other.start();
    await waitFor(() => expect(fast).toHaveLength(8));
    expect(fast).toEqual([2, 3, 4, 5, 6, 7, 8, 9]);
    expect(broker.pending("work", "g")).toBe(2);
    gate.resolve();
    await waitFor(() => expect(broker.pending("work", "g")).toBe(0));
    expect(slowStarted).toBe(2);
    expect(maxRunning).toBe(1);
  });

  test("same key in order under concurrency; other keys in parallel", async () => {
    const broker = new memory.Broker();
    const client = new memory.Client({ broker });
    const log: string[] = [];
    let running = 0;
    let maxRunning = 0;
    const l = listen({ broker, groupId: "g", concurrency: 4, maxInFlight: 16 });
    await l.attach(
      {
        onMessage: async (v: { k: string; i: number }) => {
          running++;
          maxRunning = Math.max(maxRunning, running);
          log.push(`${v.k}${v.i}`);
          await new Promise((r) => setTimeout(r, 5));
          running--;
        },
      },
      { name: "t", mode: "payload" },
    );
    const values = [];
    for (let i = 0; i < 5; i++) for (const k of ["a", "b", "c", "d"]) values.push({ k, i });
    await publishAll(client, "t", values, (v) => (v as { k: string }).k);
    await l.start();
    await waitFor(() => expect(log).toHaveLength(20));
    for (const k of ["a", "b", "c", "d"]) expect(log.filter((x) => x.startsWith(k))).toEqual([0, 1, 2, 3, 4].map((i) => `${k}${i}`));
    expect(maxRunning).toBeGreaterThan(1);
    expect(maxRunning).toBeLessThanOrEqual(4);
  });

  test("message mode by default, payload mode with a schema or mode: payload; Caller.publish", async () => {
    const broker = new memory.Broker();
    const client = new memory.Client({ broker });
    const got: unknown[] = [];
    const l = listen({ broker, groupId: "g" });
    await l.attach({ onMessage: (m: Message) => void got.push(["message", m.topic, m.offset, decode(m)]) }, "raw");
    await l.attach(
      {
        onMessage: async (o: { id: number }, caller: memory.Caller, ctx: HandlerContext) => {
          got.push(["schema", o, ctx.attempt, ctx.coordinates["topic"]]);
          await caller.publish("invoices", { order: o.id }, { key: "k" });
        },
      },
      { name: "typed", payload: z.object({ id: z.coerce.number() }) },
    );
    await l.start();
    await client.publish("raw", { x: 1 });
    await client.publish("typed", { id: "42" });
    await waitFor(() => expect(broker.messages("invoices")).toHaveLength(1));
    expect(got).toEqual([
      ["message", "raw", 0, { x: 1 }],
      ["schema", { id: 42 }, 1, "typed"],
    ]);
    expect(decode(broker.messages("invoices")[0]!)).toEqual({ order: 42 });
    expect(broker.messages("invoices")[0]!.key).toBe("k");
  });

  test("several topics per service through ServiceConfig-style options", async () => {
    const broker = new memory.Broker();
    const client = new memory.Client({ broker });
    const got: string[] = [];
    const l = listen({ broker, groupId: "g" });
    await l.attach({ onMessage: (m: Message) => void got.push(m.topic) }, { topic: ["x", "y"] });
    await l.start();
    await client.publish("x", 1);
    await client.publish("y", 1);
    await waitFor(() => expect(got.sort()).toEqual(["x", "y"]));
  });

  test("retention keeps the log bounded once messages are acknowledged", async () => {
    const broker = new memory.Broker({ retention: 3 });
    const client = new memory.Client({ broker });
    const l = listen({ broker, groupId: "g" });
    let n = 0;
    await l.attach({ onMessage: () => void n++ }, "t");
    await l.start();
    await publishAll(client, "t", Array.from({ length: 10 }, (_, i) => i));
    await waitFor(() => expect(n).toBe(10));
    await client.publish("t", 10);
    await waitFor(() => expect(n).toBe(11));
    expect(broker.messages("t").length).toBeLessThanOrEqual(4);
    expect(broker.messages("t").at(-1)!.offset).toBe(10);
  });
});

describe("synchronous handlers during join", () => {
  test("acks messages delivered while the listener is still joining its group", async () => {
    const broker = new memory.Broker();
    const client = new memory.Client({ broker });
    for (let i = 0; i < 5; i++) await client.publish("early", JSON.stringify({ i }));
    const seen: unknown[] = [];
    const errors: Error[] = [];
    const listener = new memory.Listener({ broker, groupId: "early-g", concurrency: 2, maxInFlight: 10 });
    await listener.attach(
      { onMessage: (m: unknown) => void seen.push(m), onError: (e: Error) => void errors.push(e) },
      { name: "early", mode: "message" },
    );
    await listener.start();
    await new Promise((r) => setTimeout(r, 20));
    expect(seen).toHaveLength(5);
    expect(errors).toEqual([]);
    expect(broker.pending("early", "early-g")).toBe(0);
    const sub = client.subscribe("early");
    expect((await sub.take(5).toArray()).map((m) => m.offset)).toEqual([0, 1, 2, 3, 4]);
    await listener.gracefulStop();
  });
});
