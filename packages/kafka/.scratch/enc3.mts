import { json } from "@pirouette/core";
const codec = json();
const v = { id: 1, customer: "c1", amount: 1.5, pad: "x".repeat(40) };
const bufs = [Buffer.from(JSON.stringify(v))];
for (let r = 0; r < 5; r++) {
  let t = performance.now();
  for (let i = 0; i < 300000; i++) codec.encode(v);
  const a = (performance.now() - t) * 1e6 / 300000;
  t = performance.now();
  for (let i = 0; i < 300000; i++) Buffer.from(JSON.stringify(v));
  const b = (performance.now() - t) * 1e6 / 300000;
  t = performance.now();
  for (let i = 0; i < 300000; i++) codec.decode(bufs[0]!);
  const c = (performance.now() - t) * 1e6 / 300000;
  t = performance.now();
  for (let i = 0; i < 300000; i++) JSON.parse(bufs[0]!.toString());
  const d = (performance.now() - t) * 1e6 / 300000;
  console.log(`encode: json() ${a.toFixed(0)} ns vs Buffer.from(JSON.stringify) ${b.toFixed(0)} ns | decode: json() ${c.toFixed(0)} ns vs JSON.parse(toString) ${d.toFixed(0)} ns`);
}
