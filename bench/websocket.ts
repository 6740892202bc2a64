/**
 * WebSocket benchmark (reference/perf.md §5, "ws: one-way 100 B"): client → server messages/s
 * over loopback, in one process, arms alternated in ABBA order with gc() between trials, medians.
 *
 *   pnpm bench websocket [--n 200000] [--trials 6] [--warmup 1]
 *
 * Every arm sends N text messages of 100 bytes on one connection and stops the clock when the
 * server has counted all N (a count mismatch fails the run). Senders wait for the socket past a
 * 64 KiB high-water mark, as our client does.
 *
 * Arms:
 *   raw       a plain ws client → a plain ws server (`ws.on("message")` decoding the text and
 *             counting)
 *   listener  the same plain ws client → a websocket.Listener service (`onTextMessage` counting):
 *             the per-connection ordered dispatch, spans/metrics hooks and flow control included
 *   client    a websocket.Client (`await writeTextMessage`) → the plain ws server
 *
 * Last lines: `ratio websocket-listener-vs-ws <listener ÷ raw>`,
 * `ratio websocket-client-vs-ws <client ÷ raw>` (targets ≥ 0.95), and the same two comparisons
 * on CPU per message (`…-cpu-vs-ws`, raw ÷ ours; steadier on a loaded machine).
 */
import type { AddressInfo } from "node:net";
import * as websocket from "@pirouette/websocket";
import { WebSocket, WebSocketServer } from "ws";

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const v = Number(process.argv[i + 1]);
  if (!Number.isFinite(v) || v <= 0) throw new Error(`--${name} needs a positive number`);
  return v;
}

const N = arg("n", 200_000);
const TRIALS = arg("trials", 6);
const WARMUP = arg("warmup", 1);
const HWM = 64 * 1024;
const MESSAGE = "m".repeat(100);

const gc: () => void =
  (globalThis as { gc?: () => void }).gc ??
  (() => {
    throw new Error("run with --expose-gc (pnpm bench websocket does)");
  });

// The server side counts; a trial waits until its count reaches N.
let count = 0;
let target = Number.POSITIVE_INFINITY;
let done: (() => void) | undefined;
function counted(): void {
  if (++count === target) done?.();
}
function expect(n: number): Promise<void> {
  count = 0;
  target = n;
  return new Promise<void>((resolve) => (done = resolve));
}

async function rawSend(ws: WebSocket, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    if (ws.bufferedAmount >= HWM) await new Promise<void>((r) => ws.send(MESSAGE, () => r()));
    else ws.send(MESSAGE);
  }
}

function openPlain(url: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    ws.once("open", () => resolve(ws));
    ws.once("error", reject);
  });
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};
const fmt = (x: number, d = 0): string => x.toLocaleString("en-US", { maximumFractionDigits: d, minimumFractionDigits: d });

interface Sample {
  readonly rate: number;
  readonly cpuUsPerMessage: number;
}

async function main(): Promise<void> {
  const wss = new WebSocketServer({ host: "127.0.0.1", port: 0, perMessageDeflate: false });
  await new Promise<void>((r) => wss.once("listening", () => r()));
  wss.on("connection", (ws) => {
    ws.on("error", () => undefined);
    // Equal semantics with onTextMessage(text): the handler gets the text as a string.
    ws.on("message", (data: Buffer, isBinary: boolean) => {
      if (isBinary || data.toString("utf8").length >= 0) counted();
    });
  });
  const rawUrl = `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/`;

  const listener = new websocket.Listener(0, { host: "127.0.0.1", pingIntervalMs: 0 });
  await listener.attach({ onTextMessage: counted }, "/count");
  await listener.start();
  const ourUrl = `ws://127.0.0.1:${listener.port}/count`;

  const plainToRaw = await openPlain(rawUrl);
  const plainToOurs = await openPlain(ourUrl);
  const ourClient = new websocket.Client(rawUrl);
  await ourClient.connect();

  const arms: Record<string, () => Promise<void>> = {
    raw: () => rawSend(plainToRaw, N),
    listener: () => rawSend(plainToOurs, N),
    client: async () => {
      for (let i = 0; i < N; i++) await ourClient.writeTextMessage(MESSAGE);
    },
  };
  const names = Object.keys(arms);
  const trial = async (name: string): Promise<Sample> => {
    gc();
    const arrived = expect(N);
    const cpu0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    await (arms[name] as () => Promise<void>)();
    await arrived;
    const secs = Number(process.hrtime.bigint() - t0) / 1e9;
    const cpu = process.cpuUsage(cpu0);
    if (count !== N) throw new Error(`${name}: counted ${count}, sent ${N}`);
    return { rate: N / secs, cpuUsPerMessage: (cpu.user + cpu.system) / N };
  };

  console.log(`websocket bench: ${fmt(N)} one-way text messages of ${MESSAGE.length} B, ${WARMUP} warm-up + ${TRIALS} trials per arm (ABBA), node ${process.version}`);
  for (let w = 0; w < WARMUP; w++) for (const n of names) await trial(n);
  const samples = new Map<string, Sample[]>(names.map((n) => [n, []]));
  for (let t = 0; t < TRIALS; t++) {
    const order = t % 2 === 0 ? names : [...names].reverse();
    for (const n of order) samples.get(n)?.push(await trial(n));
  }

  plainToRaw.close();
  plainToOurs.close();
  await ourClient.close();
  await listener.gracefulStop();
  for (const c of wss.clients) c.terminate();
  await new Promise((r) => wss.close(r));

  for (const n of names) {
    const xs = samples.get(n) ?? [];
    const rates = xs.map((x) => x.rate);
    console.log(
      `  ${n.padEnd(9)} ${fmt(median(rates)).padStart(9)} msg/s  (min ${fmt(Math.min(...rates))}, max ${fmt(Math.max(...rates))})  cpu ${fmt(median(xs.map((x) => x.cpuUsPerMessage)), 2)} µs/msg`,
    );
  }
  const ratio = (ours: string, ref: string): number => {
    const a = samples.get(ours) ?? [];
    const b = samples.get(ref) ?? [];
    return median(a.map((s, i) => s.rate / (b[i] as Sample).rate));
  };
  // CPU per message (raw ÷ ours, higher is better) is steadier than wall time on a loaded machine.
  const cpuRatio = (ours: string, ref: string): number =>
    median((samples.get(ref) ?? []).map((x) => x.cpuUsPerMessage)) / median((samples.get(ours) ?? []).map((x) => x.cpuUsPerMessage));
  console.log(`ratio websocket-listener-vs-ws ${ratio("listener", "raw").toFixed(3)}`);
  console.log(`ratio websocket-client-vs-ws ${ratio("client", "raw").toFixed(3)}`);
  console.log(`ratio websocket-listener-cpu-vs-ws ${cpuRatio("listener", "raw").toFixed(3)}`);
  console.log(`ratio websocket-client-cpu-vs-ws ${cpuRatio("client", "raw").toFixed(3)}`);
}

await main();
