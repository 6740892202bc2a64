import { json } from "@pirouette/core";
import { toOutgoing } from "../src/internal/records.ts";
const codec = json();
const v = { id: 1, customer: "c1", amount: 1.5, pad: "x".repeat(40) };
for (let round = 0; round < 3; round++) {
  let t = performance.now();
  for (let i = 0; i < 200000; i++) toOutgoing({ topic: "t", key: "k", value: v }, codec);
  console.log("toOutgoing", ((performance.now() - t) * 1e6 / 200000).toFixed(0), "ns");
  t = performance.now();
  for (let i = 0; i < 200000; i++) JSON.stringify(v);
  console.log("stringify", ((performance.now() - t) * 1e6 / 200000).toFixed(0), "ns");
  t = performance.now();
  for (let i = 0; i < 200000; i++) codec.encode(v);
  console.log("codec.encode", ((performance.now() - t) * 1e6 / 200000).toFixed(0), "ns");
}
