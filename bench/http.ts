/**
 * Server-sent events benchmark (reference/perf.md §5, "SSE (http)"): events/s from a server to
 * one client over loopback, in one process, arms alternated in ABBA order with gc() between
 * trials, medians.
 *
 *   pnpm bench http [--n 1000000] [--batch 64] [--trials 6] [--warmup 1]
 *
 * Every arm sends the same N events (`id: <i>` and an 80-byte `data:` line, ~98 bytes on the
 * wire) and ends the response; the client (plain node:http) counts the bytes and checks the
 * total before a trial's time is accepted.
 *
 * Arms:
 *   ours         an http.Listener resource returning a Stream of the events, produced in chunks
 *                of --batch (the listener writes one chunk per res.write, corked per tick)
 *   raw-batched  node:http, the same events formatted by hand (as a correct writer must: one
 *                `data:` line per line of data, no line break in `id`), --batch events per
 *                res.write, honouring drain (the reference: "raw res.write with the same batching")
 *   raw-naive    node:http, the same formatting, one res.write per event, honouring drain
 *
 * Last lines: `ratio sse-vs-raw-batched <ours ÷ raw-batched>` (target ≥ 0.95),
 * `ratio sse-vs-raw-naive <ours ÷ raw-naive>` (what batching by default buys) and
 * `ratio sse-cpu-vs-raw-batched <raw CPU per event ÷ ours>` (steadier on a loaded machine).
 */
import { createServer, get, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { Stream } from "@pirouette/core";
import * as http from "@pirouette/http";

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const v = Number(process.argv[i + 1]);
  if (!Number.isFinite(v) || v <= 0) throw new Error(`--${name} needs a positive number`);
  return v;
}

const N = arg("n", 1_000_000);
const BATCH = arg("batch", 64);
const TRIALS = arg("trials", 6);
const WARMUP = arg("warmup", 1);

const gc: () => void =
  (globalThis as { gc?: () => void }).gc ??
  (() => {
    throw new Error("run with --expose-gc (pnpm bench http does)");
  });

const PAYLOAD = "p".repeat(80);
const format = (id: number): string => `id: ${id}\ndata: ${PAYLOAD}\n\n`;
let expectedBytes = 0;
for (let i = 0; i < N; i++) expectedBytes += Buffer.byteLength(format(i));

// ---------------------------------------------------------------- servers

/** Events in chunks of BATCH, pulled synchronously: the listener's own batching decides the writes. */
function events(): Stream<http.SseEvent> {
  let i = 0;
  return new Stream<http.SseEvent>({
    pull() {
      if (i >= N) return null;
      const end = Math.min(N, i + BATCH);
      const chunk: http.SseEvent[] = new Array<http.SseEvent>(end - i);
      for (let k = 0; i < end; i++, k++) chunk[k] = { id: String(i), data: PAYLOAD };
      return chunk;
    },
  });
}

function drained(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => res.once("drain", resolve));
}

/** What a correct hand-written SSE writer does: one `data:` line per line, no line break in `id`. */
const oneLine = (s: string): boolean => s.indexOf("\n") < 0 && s.indexOf("\r") < 0;
function formatEvent(e: { id: string; data: string }): string {
  if (oneLine(e.id) && oneLine(e.data)) return `id: ${e.id}\ndata: ${e.data}\n\n`;
  return `id: ${e.id.replace(/[\r\n]/g, "")}\n${e.data
    .split(/\r\n|\r|\n/)
    .map((l) => `data: ${l}\n`)
    .join("")}\n`;
}

async function rawBatched(res: ServerResponse): Promise<void> {
  res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", connection: "keep-alive" });
  for (let i = 0; i < N; ) {
    const end = Math.min(N, i + BATCH);
    let s = "";
    // The same work as ours: build each event from its fields.
    for (; i < end; i++) s += formatEvent({ id: String(i), data: PAYLOAD });
    if (!res.write(s)) await drained(res);
  }
  res.end();
}

async function rawNaive(res: ServerResponse): Promise<void> {
  res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", connection: "keep-alive" });
  for (let i = 0; i < N; i++) {
    if (!res.write(formatEvent({ id: String(i), data: PAYLOAD }))) await drained(res);
  }
  res.end();
}

async function listen(server: Server): Promise<number> {
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return (server.address() as AddressInfo).port;
}

/** GET the feed, count bytes; resolves with seconds elapsed. */
function consume(port: number, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    get({ host: "127.0.0.1", port, path, agent: false }, (res) => {
      let bytes = 0;
      res.on("data", (d: Buffer) => (bytes += d.length));
      res.on("end", () => {
        const secs = Number(process.hrtime.bigint() - t0) / 1e9;
        if (bytes !== expectedBytes) reject(new Error(`${path}: got ${bytes} bytes, expected ${expectedBytes}`));
        else resolve(secs);
      });
      res.on("error", reject);
    }).on("error", reject);
  });
}

// ---------------------------------------------------------------- harness

interface Sample {
  readonly rate: number;
  readonly cpuUsPerEvent: number;
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};
const fmt = (x: number, d = 0): string => x.toLocaleString("en-US", { maximumFractionDigits: d, minimumFractionDigits: d });

async function main(): Promise<void> {
  const listener = new http.Listener(0, { host: "127.0.0.1", sse: { heartbeatIntervalMs: 0 } });
  await listener.attach({}, { resources: { "GET /ours": () => events() } });
  await listener.start();
  const raw = createServer((req, res) => void (req.url === "/naive" ? rawNaive(res) : rawBatched(res)));
  const rawPort = await listen(raw);

  const arms: Record<string, () => Promise<number>> = {
    ours: () => consume(listener.port, "/ours"),
    "raw-batched": () => consume(rawPort, "/batched"),
    "raw-naive": () => consume(rawPort, "/naive"),
  };
  const names = Object.keys(arms);
  const trial = async (name: string): Promise<Sample> => {
    gc();
    const cpu0 = process.cpuUsage();
    const secs = await (arms[name] as () => Promise<number>)();
    const cpu = process.cpuUsage(cpu0);
    return { rate: N / secs, cpuUsPerEvent: (cpu.user + cpu.system) / N };
  };

  console.log(`sse bench: ${fmt(N)} events of ~${Buffer.byteLength(format(N))} B, chunks of ${BATCH}, ${WARMUP} warm-up + ${TRIALS} trials per arm (ABBA), node ${process.version}`);
  for (let w = 0; w < WARMUP; w++) for (const n of names) await trial(n);
  const samples = new Map<string, Sample[]>(names.map((n) => [n, []]));
  for (let t = 0; t < TRIALS; t++) {
    const order = t % 2 === 0 ? names : [...names].reverse();
    for (const n of order) samples.get(n)?.push(await trial(n));
  }
  await listener.gracefulStop();
  await new Promise((r) => raw.close(r));

  for (const n of names) {
    const xs = samples.get(n) ?? [];
    const rates = xs.map((x) => x.rate);
    console.log(
      `  ${n.padEnd(12)} ${fmt(median(rates)).padStart(10)} events/s  (min ${fmt(Math.min(...rates))}, max ${fmt(Math.max(...rates))})  cpu ${fmt(median(xs.map((x) => x.cpuUsPerEvent)), 3)} µs/event`,
    );
  }
  const ratio = (ours: string, ref: string): number => {
    const a = samples.get(ours) ?? [];
    const b = samples.get(ref) ?? [];
    // Paired per trial (the arms ran back to back under the same load), then the median.
    return median(a.map((s, i) => s.rate / (b[i] as Sample).rate));
  };
  // CPU per event (raw ÷ ours, higher is better) is steadier than wall time on a loaded machine.
  const cpuRatio = (ours: string, ref: string): number =>
    median((samples.get(ref) ?? []).map((x) => x.cpuUsPerEvent)) / median((samples.get(ours) ?? []).map((x) => x.cpuUsPerEvent));
  console.log(`ratio sse-vs-raw-batched ${ratio("ours", "raw-batched").toFixed(3)}`);
  console.log(`ratio sse-vs-raw-naive ${ratio("ours", "raw-naive").toFixed(3)}`);
  console.log(`ratio sse-cpu-vs-raw-batched ${cpuRatio("ours", "raw-batched").toFixed(3)}`);
}

await main();
