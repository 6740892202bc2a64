import { connect, nanos, headers } from "@nats-io/transport-node";
import { jetstream, jetstreamManager, AckPolicy } from "@nats-io/jetstream";
const nc = await connect({ servers: "nats://127.0.0.1:4222" });
const jsm = await jetstreamManager(nc);
const name = "SCRATCH_" + process.pid;
await jsm.streams.add({ name, subjects: [`scratch.${process.pid}.>`] });
await jsm.consumers.add(name, { durable_name: "d1", ack_policy: AckPolicy.Explicit, max_deliver: 3, ack_wait: nanos(2000), filter_subject: `scratch.${process.pid}.in` });
const js = jetstream(nc);
const h = headers(); h.set("x-a", "1");
console.log(await js.publish(`scratch.${process.pid}.in`, "hello", { headers: h }));
const c = await js.consumers.get(name, "d1");
const msgs = await c.consume({ max_messages: 10 });
let n = 0;
for await (const m of msgs) {
  console.log("got", m.subject, m.string(), m.info.deliveryCount, m.redelivered, m.headers?.get("x-a"));
  if (++n < 3) m.nak(100); else { m.term("done"); break; }
}
console.log((await c.info()).num_ack_pending, (await c.info()).config.max_deliver);
await jsm.streams.delete(name);
await nc.close();
