import { randomUUID } from "node:crypto";
import kafkajs from "kafkajs";
import * as kafka from "../src/index.ts";
const client = new kafkajs.Kafka({ brokers: ["127.0.0.1:9092"], logLevel: 0 });
const admin = client.admin(); await admin.connect();
const topic = `prof-${randomUUID()}`; const M = 100000;
await admin.createTopics({ topics: [{ topic, numPartitions: 3 }], waitForLeaders: true });
const p = client.producer({ createPartitioner: kafkajs.Partitioners.DefaultPartitioner }); await p.connect();
for (let i = 0; i < M; i += 1000) await p.send({ topic, messages: Array.from({ length: 1000 }, (_, j) => ({ key: String(j % 100), value: JSON.stringify({ id: i + j, customer: "c1", amount: 1.5, pad: "x".repeat(40) }) })) });
await p.disconnect();
const mode = process.argv[2] ?? "ours";
let count = 0; const t0 = performance.now(); const c0 = process.cpuUsage();
if (mode === "ours") {
  const l = new kafka.Listener("127.0.0.1:9092", { groupId: `p-${randomUUID()}`, topics: topic, offsetReset: "earliest", concurrency: 3, maxWaitTimeMs: 100 });
  await l.attach({ async onConsumerRecord(v: unknown[]) { count += v.length; } }, { mode: "payload" });
  await l.start();
  while (count < M) await new Promise((r) => setImmediate(r));
  await l.gracefulStop();
} else {
  const c = client.consumer({ groupId: `p-${randomUUID()}`, maxWaitTimeInMs: 100 });
  await c.connect(); await c.subscribe({ topics: [topic], fromBeginning: true });
  await c.run({ autoCommit: false, partitionsConsumedConcurrently: 3, eachBatch: async ({ batch, resolveOffset, heartbeat, commitOffsetsIfNecessary }) => {
    for (const m of batch.messages) { JSON.parse(m.value!.toString()); count++; resolveOffset(m.offset); }
    await heartbeat(); const last = batch.messages.at(-1)!;
    await commitOffsetsIfNecessary({ topics: [{ topic: batch.topic, partitions: [{ partition: batch.partition, offset: String(Number(last.offset) + 1) }] }] });
  } });
  while (count < M) await new Promise((r) => setImmediate(r));
  await c.disconnect();
}
const cpu = process.cpuUsage(c0);
console.log(mode, Math.round(M / (performance.now() - t0) * 1000), "msg/s", ((cpu.user + cpu.system) / M).toFixed(2), "µs/msg");
await admin.deleteTopics({ topics: [topic] }); await admin.disconnect();
