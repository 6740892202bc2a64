import sjson from "secure-json-parse";
const payload = (i: number) => { const base = JSON.stringify({ id: i, customer: `c${i % 97}`, amount: (i % 1000) / 10, pad: "" }); return base.replace('"pad":""', `"pad":"${"x".repeat(Math.max(0, 100 - base.length))}"`); };
const strs = Array.from({ length: 5000 }, (_, i) => payload(i));
const best: Record<string, number> = {};
const time = (name: string, fn: () => void) => { const t = performance.now(); fn(); const ns = (performance.now() - t) * 1e6 / strs.length; best[name] = Math.min(best[name] ?? Infinity, ns); };
let s = 0;
for (let r = 0; r < 80; r++) {
  time("JSON.parse", () => { for (const x of strs) s += JSON.parse(x).id; });
  time("sjson.parse(error/error)", () => { for (const x of strs) s += (sjson.parse(x, null, { protoAction: "error", constructorAction: "error" }) as any).id; });
  time("JSON.parse(x, null)", () => { for (const x of strs) s += JSON.parse(x, null as any).id; });
}
for (const [k, v] of Object.entries(best)) console.log(k.padEnd(30), v.toFixed(0), "ns");
