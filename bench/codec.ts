/**
 * JSON decode benchmark: core's `json()` codec (size cap, strict UTF-8, depth cap, unsafe
 * integer and non-finite rejection, prototype-pollution rejection) against the unprotected
 * baseline `JSON.parse(Buffer.toString("utf8"))`, on the same bytes, in one process, arms
 * alternated in ABBA order with gc() between trials.
 *
 *   pnpm bench codec [--n 200000] [--trials 7] [--warmup 2]
 *
 * Payloads: `small` (a 100-byte order, the ratio's payload), `medium` (~1 KB object with
 * nested arrays and strings) and `large` (an array of 200 such orders, ~20 KB; over 64
 * brackets, so the codec takes its full scan). Each trial decodes N payloads (N ÷ 10 for
 * medium, N ÷ 200 for large); every decoded value is checked against the baseline's once.
 *
 * Figures are medians of CPU ns per decode (process CPU time, steadier than wall time when
 * other processes share the cores). Last line:
 * `ratio json-decode-vs-JSON.parse <codec ns ÷ baseline ns>` for the 100-byte payload.
 */
import { isDeepStrictEqual } from "node:util";
import { json } from "@pirouette/core";

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const v = Number(process.argv[i + 1]);
  if (!Number.isInteger(v) || v <= 0) throw new Error(`--${name} needs a positive integer`);
  return v;
}

const N = arg("n", 200_000);
const TRIALS = arg("trials", 7);
const WARMUP = arg("warmup", 2);

const gc: () => void =
  (globalThis as { gc?: () => void }).gc ??
  (() => {
    throw new Error("run with --expose-gc (pnpm bench codec does)");
  });

const order = (i: number): Record<string, unknown> => ({
  id: 100_000 + i,
  customer: `c-${i % 997}`,
  amount: 129.5 + i,
  currency: "EUR",
  items: [1, 2, 3],
  paid: true,
  note: "ok",
});

const small = Buffer.from(JSON.stringify(order(7)));
const medium = Buffer.from(
  JSON.stringify({
    ...order(1),
    lines: Array.from({ length: 8 }, (_, i) => ({ sku: `SKU-${1000 + i}`, qty: i + 1, price: 9.99 * (i + 1), tags: ["a", "b"] })),
    address: { street: "1 Main Street", city: "Springfield", zip: "12345", country: "US" },
    comment: "Leave at the door. ".repeat(10),
  }),
);
const large = Buffer.from(JSON.stringify(Array.from({ length: 200 }, (_, i) => order(i))));

const payloads = [
  { name: "small", bytes: small, n: N },
  { name: "medium", bytes: medium, n: Math.max(1, Math.floor(N / 10)) },
  { name: "large", bytes: large, n: Math.max(1, Math.floor(N / 200)) },
] as const;

const codec = json();
const baseline = (b: Buffer): unknown => JSON.parse(b.toString("utf8"));

// Same result as the baseline, once per payload, before timing anything.
for (const p of payloads) {
  if (!isDeepStrictEqual(codec.decode(p.bytes), baseline(p.bytes))) throw new Error(`${p.name}: the codec and JSON.parse disagree`);
}

let sink = 0;
/** CPU ns per decode (this process's user + system time: steadier than wall time on a shared machine). */
function timeArm(decode: (b: Buffer) => unknown, bytes: Buffer, n: number): number {
  const c0 = process.cpuUsage();
  for (let i = 0; i < n; i++) {
    const v = decode(bytes);
    if (v === undefined) sink++;
  }
  const c = process.cpuUsage(c0);
  return ((c.user + c.system) * 1000) / n;
}

const arms = [
  { name: "JSON.parse", decode: baseline },
  { name: "json()", decode: (b: Buffer) => codec.decode(b) },
];

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

console.log(
  `codec bench: json() decode vs JSON.parse(toString()), payloads ${payloads.map((p) => `${p.name} ${p.bytes.length} B`).join(", ")}, N=${N}, ${WARMUP} warm-up + ${TRIALS} trials (ABBA), node ${process.version}`,
);
const samples = new Map<string, number[]>();
for (let t = -WARMUP; t < TRIALS; t++) {
  for (const p of payloads) {
    const order = t % 2 === 0 ? arms : [...arms].reverse();
    for (const arm of order) {
      gc();
      const ns = timeArm(arm.decode, p.bytes, p.n);
      if (t >= 0) {
        const key = `${p.name} ${arm.name}`;
        samples.set(key, [...(samples.get(key) ?? []), ns]);
      }
    }
  }
}

const med = (p: string, arm: string): number => median(samples.get(`${p} ${arm}`) ?? []);
console.table(
  payloads.map((p) => ({
    payload: `${p.name} (${p.bytes.length} B)`,
    "JSON.parse cpu ns": med(p.name, "JSON.parse").toFixed(0),
    "json() cpu ns": med(p.name, "json()").toFixed(0),
    "json() ÷ JSON.parse": (med(p.name, "json()") / med(p.name, "JSON.parse")).toFixed(2),
  })),
);
if (sink !== 0) console.log(`(sink ${sink})`);
for (const p of payloads) {
  console.log(`json-decode-${p.name}-ns ${med(p.name, "json()").toFixed(0)} (JSON.parse ${med(p.name, "JSON.parse").toFixed(0)})`);
}
console.log(`ratio json-decode-vs-JSON.parse ${(med("small", "json()") / med("small", "JSON.parse")).toFixed(3)}`);
