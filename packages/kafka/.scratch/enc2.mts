import { toOutgoing } from "../src/internal/records.ts";
const v = { id: 1, customer: "c1", amount: 1.5, pad: "x".repeat(40) };
for (let round = 0; round < 4; round++) {
  let t = performance.now();
  for (let i = 0; i < 200000; i++) toOutgoing({ topic: "t", key: "k", value: v }, undefined);
  const a = (performance.now() - t) * 1e6 / 200000;
  t = performance.now();
  for (let i = 0; i < 200000; i++) ({ key: "k", value: JSON.stringify(v) });
  const b = (performance.now() - t) * 1e6 / 200000;
  console.log("toOutgoing", a.toFixed(0), "raw", b.toFixed(0));
}
