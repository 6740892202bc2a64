import kafkajs from "kafkajs";
import * as kafka from "../src/index.ts";
const B = "127.0.0.1:9092";
const topic = `smoke-${Math.random().toString(36).slice(2, 8)}`;
const admin = new kafkajs.Kafka({ brokers: [B], logLevel: 0 }).admin();
await admin.connect();
await admin.createTopics({ topics: [{ topic, numPartitions: 3 }], waitForLeaders: true });
const producer = new kafka.Producer(B);
const t0 = Date.now();
for (let i = 0; i < 20; i++) await producer.send({ topic, key: `k${i % 5}`, value: { i } });
await producer.send({ topic, key: "bad", value: "not json{" });
const meta = await producer.sendWithMetadata({ topic, value: { last: true } });
console.log("meta", meta, Date.now() - t0);
const seen: unknown[] = [];
const errors: Error[] = [];
const listener = new kafka.Listener(B, { groupId: `g-${topic}`, topics: topic, offsetReset: "earliest", sessionTimeoutMs: 6000,
  logger: { trace(){}, debug(){}, info(o: unknown, m?: string){ console.log("INFO", m, JSON.stringify(o).slice(0,200)); }, warn(o: unknown, m?: string){ console.log("WARN", m, JSON.stringify(o).slice(0,300)); }, error(o: unknown, m?: string){ console.log("ERROR", m, JSON.stringify(o).slice(0,300)); } } });
await listener.attach({
  onConsumerRecord(records: kafka.ConsumerRecord[]) { for (const r of records) seen.push([r.partition, r.offset, r.value]); },
  onError(e: Error) { errors.push(e); console.log("onError", e.name, e.message); },
});
await listener.start();
console.log("started", Date.now() - t0);
while (seen.length < 21) await new Promise((r) => setTimeout(r, 100));
console.log("seen", seen.length, Date.now() - t0);
await new Promise((r) => setTimeout(r, 1500));
await listener.gracefulStop();
console.log(await admin.fetchOffsets({ groupId: `g-${topic}`, topics: [topic] }).then(r => JSON.stringify(r)));
await producer.close();
await admin.deleteTopics({ topics: [topic, `${topic}.DLT`] });
await admin.disconnect();
console.log("done", Date.now() - t0, errors.length);
