import { connect } from "amqplib";
import * as rabbitmq from "@pirouette/rabbitmq";
const URL = "amqp://guest:guest@127.0.0.1:5672";
const N = 40000;
const q = "prof-" + Date.now();
const conn = await connect(URL);
const ch = await conn.createConfirmChannel();
await ch.assertQueue(q);
for (let i = 0; i < N; i++) { if (!ch.publish("", q, Buffer.from(JSON.stringify({ id: i, customer: "customer-1", sku: "pointe-shoes-38", qty: 1, note: "xxxxxxxxxxxxxxxx" })))) await new Promise((r) => ch.once("drain", r)); }
await ch.waitForConfirms();
const listener = new rabbitmq.Listener(URL, undefined, { prefetchCount: 100 }, { deadLetter: false });
let count = 0; let resolve!: () => void; const done = new Promise<void>((r) => (resolve = r));
await listener.attach({ onMessage: (m: rabbitmq.Message) => { JSON.parse(Buffer.from(m.content).toString()); if (++count === N) resolve(); } }, { name: q });
const c0 = process.cpuUsage(); const t0 = performance.now();
await listener.start(); await done;
const t = performance.now() - t0; const c = process.cpuUsage(c0);
console.log(`${(N / t * 1000).toFixed(0)} msg/s, ${((c.user + c.system) / N).toFixed(1)} µs/msg`);
await listener.gracefulStop();
await ch.deleteQueue(q); await conn.close();
