import { connect } from "amqplib";
import * as rabbitmq from "@pirouette/rabbitmq";
const URL = "amqp://guest:guest@127.0.0.1:5672";
const N = Number(process.argv[2] ?? 20000);
const body = (i: number) => Buffer.from(JSON.stringify({ id: i, customer: "customer-1", sku: "pointe-shoes-38", qty: 1, note: "xxxxxxxxxxxxxxxx" }));
async function prefill(q: string) {
  const conn = await connect(URL); const ch = await conn.createConfirmChannel(); await ch.assertQueue(q);
  for (let i = 0; i < N; i++) { if (!ch.publish("", q, body(i))) await new Promise((r) => ch.once("drain", r)); }
  await ch.waitForConfirms(); await conn.close();
}
async function raw(q: string) {
  const conn = await connect(URL); const ch = await conn.createChannel(); await ch.prefetch(100);
  let count = 0;
  await new Promise<void>((resolve) => void ch.consume(q, (m) => { JSON.parse(m!.content.toString()); ch.ack(m!); if (++count === N) resolve(); }));
  await ch.close(); await conn.close();
}
async function ours(q: string) {
  const listener = new rabbitmq.Listener(URL, undefined, { prefetchCount: 100 }, { deadLetter: false });
  let count = 0; let resolve!: () => void; const done = new Promise<void>((r) => (resolve = r));
  await listener.attach({ onMessage: (m: rabbitmq.Message) => { JSON.parse(Buffer.from(m.content).toString()); if (++count === N) resolve(); } }, { name: q });
  await listener.start(); await done; await listener.gracefulStop();
}
const admin = await connect(URL); const ach = await admin.createChannel();
for (let round = 0; round < 4; round++) {
  for (const [name, fn] of [["raw", raw], ["ours", ours]] as const) {
    const q = `cmp-${name}-${Date.now()}`; await prefill(q);
    (globalThis as any).gc?.();
    const c0 = process.cpuUsage(); const t0 = performance.now();
    await fn(q);
    const t = performance.now() - t0; const c = process.cpuUsage(c0);
    console.log(`${name.padEnd(5)} ${(N / t * 1000).toFixed(0).padStart(6)} msg/s ${((c.user + c.system) / N).toFixed(1)} µs/msg`);
    await ach.deleteQueue(q);
  }
}
await admin.close();
