/**
 * kafka.Consumer against the real broker: poll, commit, seek, typed binding, subscribe, and
 * stream() with backpressure (partitions paused while the reader is slow).
 */
import { afterAll, afterEach, describe, expect, test } from "vitest";
import { z } from "zod";
import { PayloadBindingError, PayloadValidationError } from "@pirouette/core";
import * as kafka from "../src/index.ts";
import { BROKERS, FAST, captureLogger, cleanup, committed, createTopic, produceRaw, sleep, unique } from "./helpers.ts";

const closers: (() => Promise<unknown>)[] = [];
function consumer<T = unknown>(options: kafka.KafkaConsumerOptions): kafka.Consumer<T> & { log: ReturnType<typeof captureLogger> } {
  const log = captureLogger();
  const c = Object.assign(new kafka.Consumer<T>(BROKERS, { ...FAST, logger: log, ...options }), { log });
  closers.push(() => c.close());
  return c;
}
afterEach(async () => {
  await Promise.all(closers.splice(0).map((c) => c().catch(() => undefined)));
});
afterAll(cleanup);

/** Poll until `n` records arrived. */
async function pollN<T>(c: kafka.Consumer<T>, n: number, timeoutMs = 15_000): Promise<kafka.ConsumerRecord<T>[]> {
  const out: kafka.ConsumerRecord<T>[] = [];
  const deadline = Date.now() + timeoutMs;
  while (out.length < n) {
    if (Date.now() > deadline) throw new Error(`only ${out.length} of ${n} records`);
    out.push(...(await c.poll(200)));
  }
  return out;
}

const Reading = z.object({ sensor: z.string(), value: z.number() });

describe("poll", () => {
  test("poll, commit, close; the group continues from the commit", async () => {
    const topic = await createTopic(2);
    await produceRaw(topic, Array.from({ length: 30 }, (_, i) => JSON.stringify({ sensor: `s${i}`, value: i })), { keys: 5 });
    const groupId = unique("g");
    const c = consumer<z.infer<typeof Reading>>({ groupId, topics: topic, payload: Reading, maxPollRecords: 10 });
    const first = await pollN(c, 20);
    expect(first.length).toBeGreaterThanOrEqual(20);
    for (const batch of [first]) expect(batch.every((r) => typeof r.value.value === "number")).toBe(true);
    await c.commit();
    const positions = await committed(groupId, topic);
    expect(Object.values(positions).reduce((n, o) => n + Math.max(0, o), 0)).toBe(first.length);
    await c.close();

    const c2 = consumer({ groupId, topics: topic });
    const rest = await pollN(c2, 30 - first.length);
    const ids = new Set([...first, ...rest].map((r) => (r.value as { sensor: string }).sensor));
    expect(ids.size).toBe(30);
  });

  test("a record that cannot be bound makes poll reject with its coordinates; the next poll continues", async () => {
    const topic = await createTopic(1);
    await produceRaw(topic, [JSON.stringify({ sensor: "a", value: 1 }), "{nope", JSON.stringify({ sensor: "c", value: "x" }), JSON.stringify({ sensor: "d", value: 4 })]);
    const c = consumer<z.infer<typeof Reading>>({ groupId: unique("g"), topics: topic, payload: Reading });
    const seen: unknown[] = [];
    const errors: unknown[] = [];
    const deadline = Date.now() + 15_000;
    while (seen.length + errors.length < 4 && Date.now() < deadline) {
      try {
        seen.push(...(await c.pollPayload(200)).map((v) => v.sensor));
      } catch (e) {
        errors.push(e);
      }
    }
    expect(seen).toEqual(["a", "d"]);
    expect(errors).toHaveLength(2);
    expect(errors[0]).toBeInstanceOf(PayloadBindingError);
    expect((errors[0] as PayloadBindingError).coordinates).toEqual({ topic, partition: 0, offset: 1 });
    expect(errors[1]).toBeInstanceOf(PayloadValidationError);
  });

  test("seek replays a partition; subscribe switches topics; commitOffset refuses partitions not assigned", async () => {
    const a = await createTopic(1);
    const b = await createTopic(1);
    await produceRaw(a, ["0", "1", "2", "3"]);
    await produceRaw(b, ["10"]);
    const c = consumer<number>({ groupId: unique("g"), topics: a });
    const all = await pollN(c, 4);
    expect(all.map((r) => r.value)).toEqual([0, 1, 2, 3]);
    await c.seek({ topic: a, partition: 0, offset: 2 });
    const again = await pollN(c, 2);
    expect(again.map((r) => r.value)).toEqual([2, 3]);
    const err = await c.commitOffset([{ topic: a, partition: 3, offset: 0 }]).catch((e: unknown) => e);
    expect(kafka.KafkaError.isKafkaError(err) && err.code).toBe("KAFKA_NOT_ASSIGNED");
    await c.subscribe(b);
    expect((await pollN(c, 1)).map((r) => [r.topic, r.value])).toEqual([[b, 10]]);
    expect(c.assignment()).toEqual([{ topic: b, partition: 0 }]);
  });
});

describe("stream", () => {
  test("a slow reader pauses the partitions; nothing is lost or repeated; autoCommit commits what was read", async () => {
    const topic = await createTopic(2);
    const N = 3000;
    await produceRaw(topic, Array.from({ length: N }, (_, i) => JSON.stringify(i)), { keys: 7 });
    const groupId = unique("g");
    const c = consumer<number>({ groupId, topics: topic, maxPollRecords: 50, highWaterMark: 100, autoCommit: true, autoCommitIntervalMs: 0 });
    const seen: number[] = [];
    let n = 0;
    for await (const r of c.stream()) {
      seen.push(r.value);
      if (++n % 100 === 0) await sleep(20); // slow reader
      if (n === N) break;
    }
    expect(new Set(seen).size).toBe(N);
    expect(c.log.entries.some((e) => e.msg?.startsWith("Pausing fetching"))).toBe(true);
    expect(c.log.entries.some((e) => e.msg?.startsWith("Resuming fetching"))).toBe(true);
    await c.close();
    // Every chunk but the one being read when the loop stopped is committed.
    const done = Object.values(await committed(groupId, topic)).reduce((s, o) => s + Math.max(0, o), 0);
    expect(done).toBeGreaterThanOrEqual(N - 100);
    expect(done).toBeLessThanOrEqual(N);
  });

  test("stream operators and a second stream on the same consumer", async () => {
    const topic = await createTopic(1);
    await produceRaw(topic, Array.from({ length: 20 }, (_, i) => JSON.stringify({ sensor: "s", value: i })));
    const c = consumer<z.infer<typeof Reading>>({ groupId: unique("g"), topics: topic, payload: Reading, maxPollRecords: 5 });
    const evens = await c
      .stream()
      .map((r) => r.value.value)
      .filter((v) => v % 2 === 0)
      .take(5)
      .toArray();
    expect(evens).toEqual([0, 2, 4, 6, 8]);
    const busy = (() => {
      const s = c.stream();
      try {
        c.stream();
      } catch (e) {
        return e;
      } finally {
        void s.close();
      }
      return undefined;
    })();
    expect(kafka.KafkaError.isKafkaError(busy) && busy.code).toBe("KAFKA_STATE");
  });
});
