import { connect } from "amqplib";
const URL = "amqp://guest:guest@127.0.0.1:5672";
const N = 60000; const q = process.argv[2]!;
const conn = await connect(URL); const ch = await conn.createConfirmChannel(); await ch.assertQueue(q);
for (let i = 0; i < N; i++) { if (!ch.publish("", q, Buffer.from(JSON.stringify({ id: i, customer: "customer-1", sku: "pointe-shoes-38", qty: 1, note: "xxxxxxxxxxxxxxxx" })))) await new Promise((r) => ch.once("drain", r)); }
await ch.waitForConfirms(); await conn.close();
