import * as kafka from "../src/index.ts";
import { createTopic, produceRaw, captureLogger, committed, endOffsets, cleanup, unique, sleep } from "../test/helpers.ts";
const topic = await createTopic(4);
const N = 400;
await produceRaw(topic, Array.from({ length: N }, (_, i) => JSON.stringify({ id: i })), { keys: 16 });
const groupId = unique("g");
const handled = new Map<number, number>();
const by = { a: 0, b: 0 };
const svc = (name: "a" | "b", delay: number) => ({
  async onConsumerRecord(orders: { id: number }[]) {
    await sleep(delay);
    by[name] += orders.length;
    for (const o of orders) handled.set(o.id, (handled.get(o.id) ?? 0) + 1);
  },
});
const FAST = { sessionTimeoutMs: 6000, heartbeatIntervalMs: 500, rebalanceTimeoutMs: 10000, maxWaitTimeMs: 100, offsetReset: "earliest" as const };
const la = captureLogger(), lb = captureLogger();
const a = new kafka.Listener("127.0.0.1:9092", { ...FAST, groupId, topics: topic, concurrency: 2, maxPollRecords: 5, logger: la });
await a.attach(svc("a", 40), { mode: "payload" });
await a.start();
while (handled.size < 60) await sleep(20);
const b = new kafka.Listener("127.0.0.1:9092", { ...FAST, groupId, topics: topic, concurrency: 2, maxPollRecords: 5, logger: lb });
await b.attach(svc("b", 10), { mode: "payload" });
await b.start();
for (let i = 0; i < 40 && handled.size < N; i++) { await sleep(250); if (i % 4 === 0) console.log("handled", handled.size, by, await committed(groupId, topic)); }
console.log("final", handled.size, by, await committed(groupId, topic), await endOffsets(topic));
for (const [n, l] of [["A", la], ["B", lb]] as const) for (const e of l.entries) if (!/Request|Response/.test(e.msg ?? "") && e.level !== "debug") console.log(n, e.level, e.msg, JSON.stringify(e.obj).slice(0, 250));
await Promise.all([a.gracefulStop(), b.gracefulStop()]);
await cleanup();
