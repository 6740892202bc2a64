import { json } from "@pirouette/core";
import { bindBatch } from "../src/internal/records.ts";
const codec = json();
const payload = (i: number) => { const base = JSON.stringify({ id: i, customer: `c${i % 97}`, amount: (i % 1000) / 10, pad: "" }); return base.replace('"pad":""', `"pad":"${"x".repeat(Math.max(0, 100 - base.length))}"`); };
const msgs = Array.from({ length: 5000 }, (_, i) => ({ key: Buffer.from("k"), value: Buffer.from(payload(i)), offset: String(1000000 + i), timestamp: "1700000000000", headers: {} }));
const td = new TextDecoder("utf-8", { fatal: true });
const best: Record<string, number> = {};
const time = (name: string, fn: () => void) => { const t = performance.now(); fn(); const ns = (performance.now() - t) * 1e6 / msgs.length; best[name] = Math.min(best[name] ?? Infinity, ns); };
let s = 0;
for (let r = 0; r < 60; r++) {
  time("raw JSON.parse(toString)", () => { for (const m of msgs) s += JSON.parse(m.value.toString()).id; });
  time("codec.decode", () => { for (const m of msgs) s += (codec.decode(m.value) as any).id; });
  time("TextDecoder fatal", () => { for (const m of msgs) s += td.decode(m.value).length; });
  time("buffer.toString", () => { for (const m of msgs) s += m.value.toString().length; });
  time("bindBatch", () => { const b = bindBatch({ codec, schema: undefined }, "t", 0, msgs) as any[]; s += b.length; });
  time("raw eachBatch loop incl resolveOffset-like Long", () => { for (const m of msgs) { s += JSON.parse(m.value.toString()).id; s += String(Number(m.offset) + 1).length; } });
}
for (const [k, v] of Object.entries(best)) console.log(k.padEnd(50), v.toFixed(0), "ns");
