/**
 * kafka.Listener against the real broker: binding, failures and dead letters, commits,
 * graceful stop, heartbeats during long handlers, rebalances, concurrency and kcat interop.
 */
import { afterAll, afterEach, describe, expect, test } from "vitest";
import { z } from "zod";
import { DeadLetterHeaders, PayloadBindingError, PayloadValidationError, service, type HandlerContext } from "@pirouette/core";
import * as kafka from "../src/index.ts";
import {
  BROKERS,
  FAST,
  captureLogger,
  cleanup,
  expectCommittedAtEnd,
  createTopic,
  committed,
  kcatProduce,
  kcatRead,
  produceRaw,
  sleep,
  unique,
  waitFor,
} from "./helpers.ts";

const Order = z.object({ id: z.number().int(), amount: z.number().positive() });
type Order = z.infer<typeof Order>;

const listeners: kafka.Listener[] = [];
function listener(options: kafka.KafkaListenerOptions): kafka.Listener {
  const l = new kafka.Listener(BROKERS, { ...FAST, logger: captureLogger(), ...options });
  listeners.push(l);
  return l;
}

afterEach(async () => {
  await Promise.all(listeners.splice(0).map((l) => l.immediateStop().catch(() => undefined)));
});
afterAll(cleanup);

const json = (v: unknown): string => JSON.stringify(v);

describe("binding", () => {
  test("typed payloads (schema) and typed records (record mode)", async () => {
    const topic = await createTopic(2);
    await produceRaw(
      topic,
      Array.from({ length: 40 }, (_, i) => json({ id: i, amount: i + 0.5 })),
      { keys: 4 },
    );

    const payloads: Order[] = [];
    const a = listener({ groupId: unique("g"), topics: topic });
    await a.attach(
      {
        onConsumerRecord(orders: Order[], caller: kafka.Caller) {
          expect(caller.records).toHaveLength(orders.length);
          payloads.push(...orders);
        },
      },
      { payload: Order },
    );

    const records: kafka.ConsumerRecord<Order>[] = [];
    const b = listener({ groupId: unique("g"), topics: topic });
    @service(b)
    @kafka.ServiceConfig({ mode: "record" })
    class Records {
      @kafka.payload(Order)
      onConsumerRecord(rs: kafka.ConsumerRecord<Order>[]): void {
        records.push(...rs);
      }
    }
    void Records;

    await Promise.all([a.start(), b.start()]);
    await waitFor(() => payloads.length === 40 && records.length === 40, "40 payloads and 40 records");
    expect(payloads.map((o) => o.id).sort((x, y) => x - y)).toEqual(Array.from({ length: 40 }, (_, i) => i));
    const r = records.find((x) => x.value.id === 7) as kafka.ConsumerRecord<Order>;
    expect(r.topic).toBe(topic);
    expect([0, 1]).toContain(r.partition);
    expect(r.key?.toString()).toBe("k3");
    expect(typeof r.offset).toBe("number");
    expect(r.timestamp).toBeGreaterThan(Date.now() - 60_000);
    expect(r.value).toEqual({ id: 7, amount: 7.5 });
  });

  test("a malformed mix: every good record handled, each bad one to onError (typed, with coordinates) and the DLT", async () => {
    const topic = await createTopic(3);
    const values: string[] = [];
    const bad = new Set<number>();
    for (let i = 0; i < 300; i++) {
      if (i % 10 === 3) {
        values.push(`{"id": ${i}, "amount": `); // malformed JSON
        bad.add(i);
      } else if (i % 10 === 7) {
        values.push(json({ id: i, amount: -1 })); // valid JSON, fails the schema
        bad.add(i);
      } else values.push(json({ id: i, amount: 1 }));
    }
    await produceRaw(topic, values, { keys: 3 });
    const groupId = unique("g");
    const handled: number[] = [];
    const errors: Error[] = [];
    const l = listener({ groupId, topics: topic, maxPollRecords: 50 });
    await l.attach(
      {
        onConsumerRecord: (orders: Order[]) => void handled.push(...orders.map((o) => o.id)),
        onError: (e: Error) => void errors.push(e),
      },
      { payload: Order },
    );
    await l.start();
    await waitFor(() => handled.length === 240 && errors.length === 60, "240 handled and 60 errors");
    await l.gracefulStop();

    expect(new Set(handled).size).toBe(240);
    expect(handled.some((id) => bad.has(id))).toBe(false);
    const parseErrors = errors.filter((e) => !(e instanceof PayloadValidationError));
    const schemaErrors = errors.filter((e) => e instanceof PayloadValidationError);
    expect(parseErrors).toHaveLength(30);
    expect(schemaErrors).toHaveLength(30);
    for (const e of errors) {
      expect(e).toBeInstanceOf(PayloadBindingError);
      expect(e as PayloadBindingError).toMatchObject({ coordinates: { topic, partition: expect.any(Number), offset: expect.any(Number) } });
    }
    const dlt = await kcatRead(`${topic}.DLT`, 60);
    expect(dlt).toHaveLength(60);
    const codes = dlt.map((r) => headerOf(r, DeadLetterHeaders.errorCode));
    expect(codes.filter((c) => c === "PAYLOAD_BINDING")).toHaveLength(30);
    expect(codes.filter((c) => c === "PAYLOAD_VALIDATION")).toHaveLength(30);
    await expectCommittedAtEnd(groupId, topic);
  });

  test("autoSeekOnValidationFailure: false cuts the batch before a bad record; onError + seek skips it", async () => {
    const topic = await createTopic(1);
    await produceRaw(topic, [json({ id: 0, amount: 1 }), json({ id: 1, amount: 1 }), "{bad", json({ id: 3, amount: 1 })]);
    const delivered: number[][] = [];
    const errors: { error: Error; offset: unknown }[] = [];
    const l = listener({ groupId: unique("g"), topics: topic, autoSeekOnValidationFailure: false, pollingIntervalMs: 100 });
    await l.attach(
      {
        onConsumerRecord: (orders: Order[]) => void delivered.push(orders.map((o) => o.id)),
        onError(error: Error, caller?: kafka.Caller) {
          const c = (error as PayloadBindingError).coordinates as { topic: string; partition: number; offset: number };
          errors.push({ error, offset: c.offset });
          // Without this seek, the bad record would be fetched again and again (Ballerina's semantics).
          if (errors.length === 2) caller?.seek({ topic: c.topic, partition: c.partition, offset: c.offset + 1 });
        },
      },
      { payload: Order },
    );
    await l.start();
    await waitFor(() => delivered.flat().includes(3), "the record after the bad one");
    expect(delivered[0]).toEqual([0, 1]);
    expect(delivered.flat()).toEqual([0, 1, 3]);
    expect(errors.map((e) => e.offset)).toEqual([2, 2]); // reported, fetched again, then skipped by the seek
    expect(errors[0]?.error).toBeInstanceOf(PayloadBindingError);
  });
});

function headerOf(r: { headers?: string[] }, name: string): string | undefined {
  const h = r.headers ?? [];
  for (let i = 0; i + 1 < h.length; i += 2) if (h[i] === name) return h[i + 1];
  return undefined;
}

describe("failures", () => {
  test("a poison record is retried, then dead-lettered with its origin in headers; its neighbours are handled", async () => {
    const topic = await createTopic(3);
    const values = Array.from({ length: 90 }, (_, i) => json({ id: i, amount: 1, poison: i === 44 }));
    await produceRaw(topic, values, { keys: 3 });
    const groupId = unique("g");
    const ok = new Map<number, number>();
    const poisonAttempts: number[] = [];
    const errors: Error[] = [];
    const l = listener({
      groupId,
      topics: topic,
      maxPollRecords: 20,
      retry: { maxAttempts: 3, initialDelayMs: 50, jitter: false },
    });
    await l.attach({
      onConsumerRecord(records: kafka.ConsumerRecord<{ id: number; poison: boolean }>[], _caller: kafka.Caller, ctx: HandlerContext) {
        const poison = records.find((r) => r.value.poison);
        if (poison !== undefined) {
          if (records.length === 1) poisonAttempts.push(ctx.attempt);
          throw new Error(`cannot handle order ${poison.value.id}`);
        }
        for (const r of records) ok.set(r.value.id, (ok.get(r.value.id) ?? 0) + 1);
      },
      onError: (e: Error) => void errors.push(e),
    });
    await l.start();
    await waitFor(() => ok.size === 89, "the 89 good records");
    const [dlt] = await kcatRead(`${topic}.DLT`, 1);
    await l.gracefulStop();

    expect([...ok.values()].every((n) => n === 1)).toBe(true);
    expect(poisonAttempts.length).toBe(3);
    expect(errors).toHaveLength(1);
    expect(errors[0]?.message).toBe("cannot handle order 44");
    expect(dlt).toBeDefined();
    const d = dlt as NonNullable<typeof dlt>;
    expect(JSON.parse(d.payload ?? "")).toEqual({ id: 44, amount: 1, poison: true });
    expect(d.key).toBe("k2");
    expect(headerOf(d, kafka.KafkaDeadLetterHeaders.topic)).toBe(topic);
    const partition = Number(headerOf(d, kafka.KafkaDeadLetterHeaders.partition));
    const offset = Number(headerOf(d, kafka.KafkaDeadLetterHeaders.offset));
    expect(d.partition).toBe(partition); // the DLT was created with the source's partitions
    expect(headerOf(d, DeadLetterHeaders.error)).toBe("cannot handle order 44");
    expect(headerOf(d, DeadLetterHeaders.errorName)).toBe("Error");
    expect(headerOf(d, DeadLetterHeaders.attempts)).toBe("3");
    expect(JSON.parse(headerOf(d, DeadLetterHeaders.coordinates) ?? "")).toEqual({ topic, partition, offset });
    await expectCommittedAtEnd(groupId, topic);
  });

  test("onHandlerFailure: stop leaves the failed record uncommitted and takes nothing more", async () => {
    const topic = await createTopic(1);
    await produceRaw(topic, [json({ id: 0 }), json({ id: 1 }), json({ id: 2 })]);
    const groupId = unique("g");
    const seen: number[] = [];
    const l = listener({ groupId, topics: topic, maxPollRecords: 1, retry: false, onHandlerFailure: "stop", deadLetter: false });
    await l.attach({
      onConsumerRecord(orders: { id: number }[]) {
        const id = (orders[0] as { id: number }).id;
        seen.push(id);
        if (id === 1) throw new Error("stop here");
      },
      onError: () => undefined,
    }, { mode: "payload" });
    await l.start();
    await waitFor(() => seen.includes(1), "record 1");
    await sleep(500);
    await l.gracefulStop();
    expect(seen).toEqual([0, 1]);
    expect(await committed(groupId, topic)).toEqual({ 0: 1 });
  });
});

describe("commits and stopping", () => {
  test("gracefulStop lets in-flight handlers finish and commits them; a restart redelivers none of them", async () => {
    const topic = await createTopic(4);
    await produceRaw(topic, Array.from({ length: 40 }, (_, i) => json({ id: i })), { keys: 8 });
    const groupId = unique("g");
    const started: number[] = [];
    const finished: number[] = [];
    const l = listener({ groupId, topics: topic, concurrency: 4, maxPollRecords: 2 });
    await l.attach({
      async onConsumerRecord(orders: { id: number }[]) {
        started.push(...orders.map((o) => o.id));
        await sleep(400);
        finished.push(...orders.map((o) => o.id));
      },
    }, { mode: "payload" });
    await l.start();
    await waitFor(() => started.length >= 8 && started.length > finished.length, "handlers in flight");
    await l.gracefulStop();
    expect(finished.sort((a, b) => a - b)).toEqual([...started].sort((a, b) => a - b));
    expect(finished.length).toBeLessThan(40);

    const again: number[] = [];
    const l2 = listener({ groupId, topics: topic, concurrency: 4 });
    await l2.attach({ onConsumerRecord: (orders: { id: number }[]) => void again.push(...orders.map((o) => o.id)) }, { mode: "payload" });
    await l2.start();
    await waitFor(() => again.length + finished.length >= 40, "the rest");
    await sleep(300);
    await l2.gracefulStop();
    expect(again.filter((id) => finished.includes(id))).toEqual([]);
    expect(new Set([...again, ...finished]).size).toBe(40);
    await expectCommittedAtEnd(groupId, topic);
  });

  test("immediateStop aborts handlers through their signal and commits only what finished", async () => {
    const topic = await createTopic(1);
    await produceRaw(topic, [json({ id: 0 }), json({ id: 1 })]);
    const groupId = unique("g");
    let aborted = false;
    const l = listener({ groupId, topics: topic, maxPollRecords: 1 });
    await l.attach({
      async onConsumerRecord(orders: { id: number }[], _c: kafka.Caller, ctx: HandlerContext) {
        if ((orders[0] as { id: number }).id === 0) return;
        await new Promise<void>((resolve) => ctx.signal.addEventListener("abort", () => resolve(), { once: true }));
        aborted = true;
        throw ctx.signal.reason;
      },
    }, { mode: "payload" });
    await l.start();
    await waitFor(async () => (await committed(groupId, topic))[0] === 1, "record 0 committed");
    await l.immediateStop();
    expect(aborted).toBe(true);
    expect(await committed(groupId, topic)).toEqual({ 0: 1 });
  });

  test("caller.commit commits early; commitOffset refuses partitions not assigned", async () => {
    const topic = await createTopic(1);
    await produceRaw(topic, [json({ id: 0 }), json({ id: 1 })]);
    const groupId = unique("g");
    let notAssigned: unknown;
    let committedInside: Record<number, number> | undefined;
    const l = listener({ groupId, topics: topic, retry: false, deadLetter: false });
    await l.attach({
      async onConsumerRecord(_orders: unknown[], caller: kafka.Caller) {
        await caller.commit();
        committedInside = await committed(groupId, topic);
        notAssigned = await caller.commitOffset([{ topic, partition: 5, offset: 1 }]).catch((e: unknown) => e);
        expect(caller.assignment()).toEqual([{ topic, partition: 0 }]);
        expect(caller.offsets()).toEqual([{ topic, partition: 0, offset: 2 }]);
        throw new Error("fails after committing");
      },
      onError: () => undefined,
    });
    await l.start();
    await waitFor(() => notAssigned !== undefined, "the handler");
    await l.gracefulStop();
    expect(committedInside).toEqual({ 0: 2 });
    expect(kafka.KafkaError.isKafkaError(notAssigned) && notAssigned.code).toBe("KAFKA_NOT_ASSIGNED");
  });
});

describe("groups", () => {
  test("heartbeats continue while a handler runs longer than the session timeout: no rebalance, no redelivery", async () => {
    const topic = await createTopic(1);
    await produceRaw(topic, [json({ id: 0 }), json({ id: 1 })]);
    const calls: number[] = [];
    const l = listener({ groupId: unique("g"), topics: topic, sessionTimeoutMs: 3000, heartbeatIntervalMs: 500, maxPollRecords: 1 });
    await l.attach({
      async onConsumerRecord(orders: { id: number }[]) {
        calls.push((orders[0] as { id: number }).id);
        if (calls.length === 1) await sleep(6500); // more than twice the session timeout
      },
    }, { mode: "payload" });
    await l.start();
    await waitFor(() => calls.length === 2, "both records", 15_000);
    await sleep(500);
    expect(calls).toEqual([0, 1]);
    expect(l.joins).toBe(1);
  }, 20_000);

  test("rebalance: a second member joins mid-stream; running work is committed on revoke; nothing lost", async () => {
    const topic = await createTopic(4);
    const N = 400;
    await produceRaw(topic, Array.from({ length: N }, (_, i) => json({ id: i })), { keys: 16 });
    const groupId = unique("g");
    const handled = new Map<number, number>();
    const svc = (delay: number) => ({
      async onConsumerRecord(orders: { id: number }[]) {
        await sleep(delay);
        for (const o of orders) handled.set(o.id, (handled.get(o.id) ?? 0) + 1);
      },
    });
    const a = listener({ groupId, topics: topic, concurrency: 2, maxPollRecords: 5 });
    await a.attach(svc(40), { mode: "payload" });
    await a.start();
    await waitFor(() => handled.size >= 60, "a first part");
    const b = listener({ groupId, topics: topic, concurrency: 2, maxPollRecords: 5 });
    await b.attach(svc(10), { mode: "payload" });
    await b.start();
    await waitFor(() => handled.size === N, "every record", 30_000);
    expect(a.joins).toBeGreaterThanOrEqual(2);
    expect(b.joins).toBeGreaterThanOrEqual(1);
    await Promise.all([a.gracefulStop(), b.gracefulStop()]);

    const duplicates = [...handled.values()].reduce((n, c) => n + c - 1, 0);
    expect(duplicates).toBeLessThanOrEqual(40); // at most the chunks running at the revoke
    await expectCommittedAtEnd(groupId, topic);
  }, 45_000);
});

describe("concurrency", () => {
  test("partitions run in parallel up to concurrency; order within a partition is kept", async () => {
    const topic = await createTopic(4);
    await produceRaw(topic, Array.from({ length: 200 }, (_, i) => json({ id: i })), { keys: 10 });
    const perPartition = new Map<number, number[]>();
    let active = 0;
    let maxActive = 0;
    const l = listener({ groupId: unique("g"), topics: topic, concurrency: 4, maxPollRecords: 5 });
    await l.attach({
      async onConsumerRecord(records: kafka.ConsumerRecord[]) {
        active++;
        maxActive = Math.max(maxActive, active);
        await sleep(5);
        for (const r of records) {
          const list = perPartition.get(r.partition) ?? [];
          list.push(r.offset);
          perPartition.set(r.partition, list);
        }
        active--;
      },
    });
    await l.start();
    await waitFor(() => [...perPartition.values()].reduce((n, l) => n + l.length, 0) === 200, "200 records");
    expect(maxActive).toBeGreaterThan(1);
    expect(maxActive).toBeLessThanOrEqual(4);
    for (const offsets of perPartition.values()) expect(offsets).toEqual([...offsets].sort((a, b) => a - b));
  });

  test('orderBy: "key" runs the keys of one partition in parallel, each key in order', async () => {
    const topic = await createTopic(1);
    await produceRaw(topic, Array.from({ length: 120 }, (_, i) => json({ id: i })), { keys: 6 });
    const perKey = new Map<string, number[]>();
    let active = 0;
    let maxActive = 0;
    const groupId = unique("g");
    const l = listener({ groupId, topics: topic, concurrency: 3, orderBy: "key", maxPollRecords: 4 });
    await l.attach({
      async onConsumerRecord(records: kafka.ConsumerRecord<{ id: number }>[]) {
        active++;
        maxActive = Math.max(maxActive, active);
        expect(new Set(records.map((r) => r.key?.toString())).size).toBe(1);
        await sleep(5);
        for (const r of records) {
          const k = r.key?.toString() ?? "";
          perKey.set(k, [...(perKey.get(k) ?? []), r.value.id]);
        }
        active--;
      },
    });
    await l.start();
    await waitFor(() => [...perKey.values()].reduce((n, l) => n + l.length, 0) === 120, "120 records");
    await l.gracefulStop();
    expect(maxActive).toBeGreaterThan(1);
    expect(maxActive).toBeLessThanOrEqual(3);
    for (const ids of perKey.values()) expect(ids).toEqual([...ids].sort((a, b) => a - b));
    expect(await committed(groupId, topic)).toEqual({ 0: 120 });
  });
});

describe("lifecycle", () => {
  test("start fails with typed errors: a missing topic, an unreachable broker; the listener is then stopped", async () => {
    const missing = listener({ groupId: unique("g"), topics: unique("missing"), driverRetry: { retries: 1, initialRetryTimeMs: 50 } });
    await missing.attach({ onConsumerRecord() {} });
    const e1 = await missing.start().catch((e: unknown) => e);
    expect(kafka.KafkaError.isKafkaError(e1) && [e1.code, e1.kafkaErrorType]).toEqual(["KAFKA_PROTOCOL", "UNKNOWN_TOPIC_OR_PARTITION"]);
    expect(missing.state).toBe("stopped");
    const away = new kafka.Listener("127.0.0.1:1", { groupId: "g", topics: "t", driverRetry: { retries: 1, initialRetryTimeMs: 50 } });
    await away.attach({ onConsumerRecord() {} });
    const e2 = await away.start().catch((e: unknown) => e);
    expect(kafka.KafkaError.isKafkaError(e2) && e2.code).toBe("KAFKA_CONNECTION");
  });

  test("caller.pause stops fetching the partition after the current batch; caller.resume continues", async () => {
    const topic = await createTopic(1);
    await produceRaw(topic, [json({ id: 0 }), json({ id: 1 })]);
    const seen: number[] = [];
    let caller: kafka.Caller | undefined;
    const l = listener({ groupId: unique("g"), topics: topic });
    await l.attach(
      {
        onConsumerRecord(orders: { id: number }[], c: kafka.Caller) {
          seen.push(...orders.map((o) => o.id));
          if (caller === undefined) {
            caller = c;
            c.pause();
          }
        },
      },
      { mode: "payload" },
    );
    await l.start();
    await waitFor(() => seen.length === 2, "the first batch");
    await produceRaw(topic, [json({ id: 2 })]);
    await sleep(800);
    expect(seen).toEqual([0, 1]);
    caller?.resume();
    await waitFor(() => seen.includes(2), "the record after resume");
  });

  test("detach stops one service and commits its work; the listener keeps running", async () => {
    const topic = await createTopic(1);
    await produceRaw(topic, [json({ id: 0 })]);
    const groupId = unique("g");
    const seen: number[] = [];
    const l = listener({ groupId, topics: topic });
    const svc = { onConsumerRecord: (orders: { id: number }[]) => void seen.push(...orders.map((o) => o.id)) };
    await l.attach(svc, { mode: "payload" });
    await l.start();
    await waitFor(() => seen.length === 1, "record 0");
    await l.detach(svc);
    expect(await committed(groupId, topic)).toEqual({ 0: 1 });
    await produceRaw(topic, [json({ id: 1 })]);
    const other: number[] = [];
    await l.attach({ onConsumerRecord: (orders: { id: number }[]) => void other.push(...orders.map((o) => o.id)) }, { mode: "payload", groupId });
    await waitFor(() => other.length === 1, "record 1 for the new service");
    expect([seen, other]).toEqual([[0], [1]]);
    expect(l.state).toBe("started");
  });
});

describe("interop", () => {
  test("records produced by kcat (librdkafka) arrive with key, headers and value", async () => {
    const topic = await createTopic(1);
    await kcatProduce(topic, ["k1\t" + json({ id: 1, amount: 2 }), "k2\t" + json({ id: 2, amount: 3 })], { source: "kcat" });
    const records: kafka.ConsumerRecord<Order>[] = [];
    const l = listener({ groupId: unique("g"), topics: topic });
    await l.attach({ onConsumerRecord: (rs: kafka.ConsumerRecord<Order>[]) => void records.push(...rs) }, { payload: Order, mode: "record" });
    await l.start();
    await waitFor(() => records.length === 2, "2 records");
    expect(records.map((r) => [r.key?.toString(), r.value, (r.headers["source"] as Buffer).toString()])).toEqual([
      ["k1", { id: 1, amount: 2 }, "kcat"],
      ["k2", { id: 2, amount: 3 }, "kcat"],
    ]);
  });
});
