import { json } from "@pirouette/core";
import { bindBatch } from "../src/internal/records.ts";
const codec = json();
const payload = (i: number) => { const base = JSON.stringify({ id: i, customer: `c${i % 97}`, amount: (i % 1000) / 10, pad: "" }); return base.replace('"pad":""', `"pad":"${"x".repeat(Math.max(0, 100 - base.length))}"`); };
const bufs = Array.from({ length: 10000 }, (_, i) => Buffer.from(payload(i)));
const msgs = bufs.map((b, i) => ({ key: Buffer.from("k"), value: b, offset: String(i), timestamp: "1700000000000", headers: {} }));
for (let r = 0; r < 5; r++) {
  let t = performance.now(); let s = 0;
  for (const b of bufs) s += (codec.decode(b) as { id: number }).id;
  const a = (performance.now() - t) * 1e6 / bufs.length;
  t = performance.now();
  for (const b of bufs) s += (JSON.parse(b.toString()) as { id: number }).id;
  const c = (performance.now() - t) * 1e6 / bufs.length;
  t = performance.now();
  bindBatch({ codec, schema: undefined }, "t", 0, msgs);
  const d = (performance.now() - t) * 1e6 / bufs.length;
  console.log(`codec.decode ${a.toFixed(0)} ns  JSON.parse(toString) ${c.toFixed(0)} ns  bindBatch ${d.toFixed(0)} ns/rec`);
}
