/**
 * kafka.Producer against the real broker, read back with kcat: value encoding, keys, headers,
 * metadata, batches, Sink/pipeTo, transactions (read_committed vs read_uncommitted) and
 * consume-transform-produce.
 */
import { afterAll, afterEach, describe, expect, test } from "vitest";
import { Stream, text } from "@pirouette/core";
import * as kafka from "../src/index.ts";
import { BROKERS, FAST, captureLogger, cleanup, committed, createTopic, kcatRead, produceRaw, unique, waitFor } from "./helpers.ts";

const closers: (() => Promise<unknown>)[] = [];
function producer(options: kafka.KafkaProducerOptions = {}): kafka.Producer {
  const p = new kafka.Producer(BROKERS, { logger: captureLogger(), ...options });
  closers.push(() => p.close());
  return p;
}
afterEach(async () => {
  await Promise.all(closers.splice(0).map((c) => c().catch(() => undefined)));
});
afterAll(cleanup);

function headers(r: { headers?: string[] }): Record<string, string> {
  const out: Record<string, string> = {};
  const h = r.headers ?? [];
  for (let i = 0; i + 1 < h.length; i += 2) out[h[i] as string] = h[i + 1] as string;
  return out;
}

describe("send", () => {
  test("values: objects as JSON, strings as UTF-8, bytes as they are, null as a tombstone; keys and headers", async () => {
    const topic = await createTopic(1);
    const p = producer();
    await p.send({ topic, key: "order-1", value: { id: 1, amount: 9.5 }, headers: { source: "test", bin: Uint8Array.of(104, 105) } });
    await p.send({ topic, key: Buffer.from("k2"), value: "plain text ✓" });
    await p.send({ topic, value: Uint8Array.of(0x68, 0x65, 0x6c, 0x6c, 0x6f) });
    const meta = await p.sendWithMetadata({ topic, key: "gone", value: null, timestamp: 1_700_000_000_000 });
    expect(meta).toMatchObject({ topic, partition: 0, offset: 3, serializedKeySize: 4, serializedValueSize: 0 });

    const rs = await kcatRead(topic, 4);
    expect(rs.map((r) => [r.offset, r.key, r.payload])).toEqual([
      [0, "order-1", JSON.stringify({ id: 1, amount: 9.5 })],
      [1, "k2", "plain text ✓"],
      [2, null, "hello"],
      [3, "gone", null],
    ]);
    expect(headers(rs[0] as never)).toMatchObject({ source: "test", bin: "hi" });
    expect((rs[3] as unknown as { ts: number }).ts).toBe(1_700_000_000_000);
  });

  test("sendBatch over several topics; records with the same key share a partition", async () => {
    const a = await createTopic(3);
    const b = await createTopic(1);
    const p = producer();
    await p.sendBatch([
      ...Array.from({ length: 30 }, (_, i) => ({ topic: a, key: `k${i % 3}`, value: { i } })),
      { topic: b, value: "one" },
    ]);
    const ra = await kcatRead(a, 30);
    const rb = await kcatRead(b, 1);
    expect(ra).toHaveLength(30);
    expect(rb.map((r) => r.payload)).toEqual(["one"]);
    // The Java-compatible murmur2 partitioner: one partition per key.
    const byKey = new Map<string, Set<number>>();
    for (const r of ra) byKey.set(r.key as string, (byKey.get(r.key as string) ?? new Set()).add(r.partition));
    for (const parts of byKey.values()) expect(parts.size).toBe(1);
  });

  test("flush waits for sends in flight; close rejects later sends; encoding and config errors are typed", async () => {
    const topic = await createTopic(1);
    const p = producer();
    const sends = Array.from({ length: 50 }, (_, i) => p.send({ topic, value: { i } }));
    await p.flush();
    const settled = await Promise.allSettled(sends);
    expect(settled.every((s) => s.status === "fulfilled")).toBe(true);

    const encode = await p.send({ topic, value: { n: 1n } }).catch((e: unknown) => e);
    expect(kafka.KafkaError.isKafkaError(encode) && encode.code).toBe("KAFKA_ENCODE");
    const noTx = await p.transaction(async () => undefined).catch((e: unknown) => e);
    expect(kafka.KafkaError.isKafkaError(noTx) && noTx.code).toBe("KAFKA_INVALID_CONFIG");
    expect(await p.getTopicPartitions(topic)).toEqual([{ topic, partition: 0 }]);

    await p.close();
    const closed = await p.send({ topic, value: 1 }).catch((e: unknown) => e);
    expect(kafka.KafkaError.isKafkaError(closed) && closed.code).toBe("KAFKA_CLOSED");
    expect(() => new kafka.Producer(BROKERS, { compression: "lz4" as never })).toThrow(/not supported/);
    expect(() => new kafka.Producer(BROKERS, { idempotent: true, acks: "1" })).toThrow(/acks/);
  });

  test("a stream pipes into the producer (Sink) and into producer.sink(topic)", async () => {
    const a = await createTopic(1);
    const b = await createTopic(1);
    // A sink of values for one topic: closing it flushes, the producer stays open.
    const p2 = producer();
    await Stream.from(Array.from({ length: 100 }, (_, i) => ({ i }))).pipeTo(p2.sink(b, { key: (v) => String(v.i % 2) }));
    const rb = await kcatRead(b, 100);
    expect(rb.map((r) => JSON.parse(r.payload ?? "")).map((v: { i: number }) => v.i)).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(rb[1]?.key).toBe("1");
    await p2.send({ topic: b, value: "still open" });

    // The producer itself is a Sink<ProducerRecord>; pipeTo closes it at the end.
    const p3 = producer();
    await Stream.from(Array.from({ length: 10 }, (_, i) => ({ topic: a, value: `r${i}` }))).pipeTo(p3);
    const late = await p3.send({ topic: a, value: 1 }).catch((e: unknown) => e);
    expect(kafka.KafkaError.isKafkaError(late) && late.code).toBe("KAFKA_CLOSED");
  });
});

describe("transactions", () => {
  test("read_committed consumers see committed transactions only; a throwing callback aborts", async () => {
    const topic = await createTopic(1);
    const p = producer({ transactionalId: unique("tx") });
    await p.transaction(async (tx) => {
      await tx.send({ topic, value: "a" });
      await tx.sendBatch([{ topic, value: "b" }]);
    });
    const aborted = await p
      .transaction(async (tx) => {
        await tx.send({ topic, value: "c" });
        throw new Error("changed my mind");
      })
      .catch((e: unknown) => e);
    expect((aborted as Error).message).toBe("changed my mind");
    await p.send({ topic, value: "d" }); // a send of its own is a transaction of its own

    const read = async (isolationLevel: "read_committed" | "read_uncommitted"): Promise<string[]> => {
      const c = new kafka.Consumer<string>(BROKERS, { ...FAST, groupId: unique("g"), topics: topic, isolationLevel, codec: text() });
      closers.push(() => c.close());
      const out: string[] = [];
      await waitFor(async () => {
        out.push(...(await c.pollPayload(200)));
        return out.includes("d");
      }, "record d");
      return out;
    };
    expect(await read("read_committed")).toEqual(["a", "b", "d"]);
    expect(await read("read_uncommitted")).toEqual(["a", "b", "c", "d"]);
    // kcat (librdkafka) defaults to read_committed too.
    const viaKcat = await kcatRead(topic, 3, ["-X", "isolation.level=read_committed"]);
    expect(viaKcat.map((r) => r.payload)).toEqual(["a", "b", "d"]);
  });

  test("consume-transform-produce: outputs and consumed offsets commit together", async () => {
    const orders = await createTopic(2);
    const invoices = await createTopic(1);
    await produceRaw(orders, Array.from({ length: 20 }, (_, i) => JSON.stringify({ id: i, amount: i })), { keys: 4 });
    const p = producer({ transactionalId: unique("tx") });
    const groupId = unique("g");
    let calls = 0;
    const l = new kafka.Listener(BROKERS, { ...FAST, groupId, topics: orders, logger: captureLogger(), maxPollRecords: 5 });
    closers.push(() => l.gracefulStop());
    await l.attach(
      {
        async onConsumerRecord(batch: { id: number; amount: number }[], caller: kafka.Caller) {
          calls++;
          await p.transaction(async (tx) => {
            await tx.sendBatch(batch.map((o) => ({ topic: invoices, key: String(o.id), value: { orderId: o.id, total: o.amount * 2 } })));
            await tx.sendOffsets(caller.groupId, caller.offsets());
          });
        },
      },
      { mode: "payload" },
    );
    await l.start();
    await waitFor(async () => {
      const c = await committed(groupId, orders);
      return Object.values(c).reduce((n, o) => n + Math.max(0, o), 0) === 20;
    }, "all 20 orders committed");
    const out = await kcatRead(invoices, 20, ["-X", "isolation.level=read_committed"]);
    expect(out.map((r) => JSON.parse(r.payload ?? "").orderId).sort((a: number, b: number) => a - b)).toEqual(
      Array.from({ length: 20 }, (_, i) => i),
    );
    expect(calls).toBeGreaterThanOrEqual(4);
  });
});
