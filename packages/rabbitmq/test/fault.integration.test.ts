/**
 * Fault injection against the real broker (reliability test plan, RabbitMQ): forced connection
 * closes mid-stream, stale acks after a reconnect, the broker's consumer_timeout, and a broker
 * outage. Every test also runs under the vitest guard (no uncaught exception, no unhandled
 * rejection).
 */
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import * as rabbitmq from "../src/index.ts";
import { RABBITMQ_URL, Topology, captureLogger, rabbitmqctl, sleep, unique, waitFor } from "./helpers.ts";

let topo: Topology;
const closers: { close(): Promise<void> }[] = [];

beforeEach(() => {
  topo = new Topology();
});

afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c.close();
  await topo.cleanup();
});

function track<T extends rabbitmq.Listener | rabbitmq.Client>(x: T): T {
  closers.push(x instanceof rabbitmq.Listener ? { close: () => x.immediateStop() } : x);
  return x;
}

const FAST_RECONNECT = { initialDelayMs: 100, maxDelayMs: 2000 };

describe("connection recovery", () => {
  test("close_all_connections three times mid-stream: 0 confirmed messages lost, redeliveries bounded", async () => {
    const N = 4000;
    const PREFETCH = 50;
    const WINDOW = 10;
    const queue = topo.serviceQueue(unique("chaos"));
    const seen = new Map<number, number>();
    const errors: rabbitmq.RabbitMqError[] = [];
    const logger = captureLogger();
    const listener = track(
      new rabbitmq.Listener(RABBITMQ_URL, undefined, { prefetchCount: PREFETCH }, { logger, reconnect: FAST_RECONNECT }),
    );
    await listener.attach(
      {
        onMessage: async (p: { id: number }) => {
          await sleep(Math.random() < 0.5 ? 1 : 0); // keep handlers in flight
          seen.set(p.id, (seen.get(p.id) ?? 0) + 1);
        },
        onError: (_m: unknown, err: Error) => void errors.push(err as rabbitmq.RabbitMqError),
      },
      { name: queue, mode: "payload" },
    );
    await listener.start();

    const producer = track(new rabbitmq.Client(RABBITMQ_URL, undefined, { reconnect: FAST_RECONNECT, operationTimeoutMs: 10_000 }));
    await producer.start();
    const confirmed = new Set<number>();
    let rejected = 0;
    const publish = async (id: number): Promise<void> => {
      for (;;) {
        try {
          await producer.publishMessage({ routingKey: queue, content: { id } });
          confirmed.add(id);
          return;
        } catch (e) {
          // Unconfirmed: the caller learns it and publishes again (at least once).
          expect(rabbitmq.RabbitMqError.isRabbitMqError(e)).toBe(true);
          rejected++;
          await sleep(50);
        }
      }
    };
    let next = 0;
    const started = Date.now();
    const produce = Promise.all(
      Array.from({ length: WINDOW }, async () => {
        while (next < N) {
          const id = next++;
          await publish(id);
          // Pace the producer to ~1000 msg/s so that the faults land mid-stream.
          const ahead = confirmed.size - (Date.now() - started);
          if (ahead > 0) await sleep(Math.min(ahead, 20));
        }
      }),
    );

    for (let fault = 1; fault <= 3; fault++) {
      await waitFor(() => confirmed.size >= (N * fault) / 4, `${fault * 25}% confirmed`, 60_000);
      await rabbitmqctl("close_all_connections", "pirouette chaos test");
      await waitFor(() => listener.reconnects >= fault && producer.reconnects >= fault, `recovery #${fault}`, 10_000);
    }
    await produce;
    expect(confirmed.size).toBe(N);
    await waitFor(() => [...confirmed].every((id) => seen.has(id)), "every confirmed message to be handled", 60_000);

    const lost = [...confirmed].filter((id) => !seen.has(id)).length;
    const duplicates = [...seen.values()].reduce((n, c) => n + c - 1, 0);
    expect(lost).toBe(0);
    // Redeliveries: at most the unacked window per fault; republished unconfirmed messages: at most the producer window.
    expect(duplicates).toBeLessThanOrEqual((PREFETCH + WINDOW) * 3);
    expect(listener.reconnects).toBe(3);
    expect(errors.filter((e) => e.code === "RABBITMQ_PRECONDITION_FAILED")).toEqual([]); // no 406 from a stale ack
    expect(logger.count("rabbitmq connection lost; reconnecting")).toBe(3);
    expect(logger.count("rabbitmq channel closed by the broker; reopening")).toBe(0);
    console.log(`chaos: ${N} confirmed, ${rejected} publishes rejected and retried, ${duplicates} duplicates, 0 lost`);
  }, 120_000);

  test("an ack for a delivery from the dead channel is dropped, never sent on the new one", async () => {
    const queue = topo.serviceQueue(unique("stale"));
    const logger = captureLogger();
    const errors: Error[] = [];
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const calls: { redelivered: boolean; ackSent?: boolean }[] = [];
    const listener = track(new rabbitmq.Listener(RABBITMQ_URL, undefined, { prefetchCount: 2 }, { logger, reconnect: FAST_RECONNECT }));
    await listener.attach(
      {
        onMessage: async (m: rabbitmq.Message, caller: rabbitmq.Caller) => {
          const call: { redelivered: boolean; ackSent?: boolean } = { redelivered: m.redelivered };
          calls.push(call);
          if (calls.length === 1) await gate; // the first delivery outlives its channel
          call.ackSent = caller.basicAck();
        },
        onError: (_m: unknown, err: Error) => void errors.push(err),
      },
      { name: queue },
    );
    await listener.start();
    const client = track(new rabbitmq.Client(RABBITMQ_URL, undefined, { reconnect: FAST_RECONNECT }));
    await client.publishMessage({ routingKey: queue, content: "slow" });
    await waitFor(() => calls.length === 1, "the first delivery");

    await rabbitmqctl("close_all_connections", "pirouette stale-ack test");
    await waitFor(() => calls.length === 2, "the redelivery on the new channel");
    expect(calls[1]).toMatchObject({ redelivered: true, ackSent: true });
    release();
    await waitFor(() => calls[0]!.ackSent !== undefined, "the stale handler to finish");
    expect(calls[0]!.ackSent).toBe(false); // dropped: the broker had requeued it

    await client.publishMessage({ routingKey: queue, content: "after" });
    await waitFor(() => calls.length === 3, "a later message");
    await waitFor(async () => (await client.queueDeclare(queue)).messageCount === 0, "an empty queue");
    expect(errors).toEqual([]);
    expect(logger.count("rabbitmq channel closed by the broker; reopening")).toBe(0); // no 406
  });

  test("a handler longer than the broker's consumer_timeout: channel reopened, message redelivered, no crash", async () => {
    const queue = topo.serviceQueue(unique("timeout"));
    const logger = captureLogger();
    const errors: rabbitmq.RabbitMqError[] = [];
    const calls: boolean[] = [];
    await rabbitmqctl("eval", "application:set_env(rabbit, consumer_timeout, 1500), application:set_env(rabbit, channel_tick_interval, 500).");
    try {
      const listener = track(new rabbitmq.Listener(RABBITMQ_URL, undefined, { prefetchCount: 1 }, { logger, reconnect: FAST_RECONNECT }));
      await listener.attach(
        {
          onMessage: async (m: rabbitmq.Message) => {
            calls.push(m.redelivered);
            if (calls.length === 1) await sleep(4000);
          },
          onError: (_m: unknown, err: Error) => void errors.push(err as rabbitmq.RabbitMqError),
        },
        { name: queue },
      );
      await listener.start();
      const client = track(new rabbitmq.Client(RABBITMQ_URL));
      await client.publishMessage({ routingKey: queue, content: "long job" });
      await waitFor(() => calls.length === 2, "the redelivery", 15_000);
      expect(calls).toEqual([false, true]);
      expect(errors.map((e) => e.code)).toContain("RABBITMQ_PRECONDITION_FAILED");
      expect(logger.entries.some((e) => e.msg?.includes("consumer_timeout"))).toBe(true);
      await waitFor(async () => (await client.queueDeclare(queue)).messageCount === 0, "an empty queue", 10_000);
      await sleep(2500); // the first handler finishes: its ack is dropped, nothing else breaks
      expect(logger.count("stale acknowledgement dropped (channel closed; the broker requeued the message)")).toBe(1);
    } finally {
      await rabbitmqctl("eval", "application:set_env(rabbit, consumer_timeout, 1800000), application:set_env(rabbit, channel_tick_interval, 60000).");
    }
  }, 30_000);

  test("broker outage (stop_app … start_app): listener and client come back and lose nothing", async () => {
    const queue = topo.serviceQueue(unique("outage"));
    const seen = new Set<number>();
    const listener = track(new rabbitmq.Listener(RABBITMQ_URL, undefined, { prefetchCount: 20 }, { reconnect: FAST_RECONNECT }));
    await listener.attach({ onMessage: (p: { id: number }) => void seen.add(p.id) }, { name: queue, mode: "payload" });
    await listener.start();
    const client = track(new rabbitmq.Client(RABBITMQ_URL, undefined, { reconnect: FAST_RECONNECT, operationTimeoutMs: 30_000 }));
    for (let id = 0; id < 100; id++) await client.publishMessage({ routingKey: queue, content: { id } });
    await waitFor(() => seen.size === 100, "the first 100");

    await rabbitmqctl("stop_app");
    let outageOver = false;
    try {
      // A publish during the outage waits for the connection and is confirmed after it.
      const during = client.publishMessage({ routingKey: queue, content: { id: 100 } });
      await sleep(1500);
      await rabbitmqctl("start_app");
      outageOver = true;
      await during;
    } finally {
      if (!outageOver) await rabbitmqctl("start_app");
      await rabbitmqctl("await_startup");
    }
    for (let id = 101; id < 200; id++) await client.publishMessage({ routingKey: queue, content: { id } });
    await waitFor(() => seen.size === 200, "all 200", 30_000);
    expect(listener.reconnects).toBeGreaterThanOrEqual(1);
  }, 90_000);
});
