/**
 * NATS benchmark (reference/perf.md §5 harness rules): Pirouette against the raw @nats-io v3
 * client on the same server, in one process, arms alternated ABBA with gc() between trials,
 * medians.
 *
 *   pnpm bench nats [--n 100000] [--trials 5] [--warmup 1] [--only listener,publish,request,jetstream]
 *
 * Workloads (~100 B JSON payloads; a fresh subject per trial; connections made before the clock
 * starts):
 *   listener   a raw publisher sends N messages (at most 5000 published and not yet received:
 *              the server cuts off slow consumers); the arm is the subscriber: a raw
 *              `nc.subscribe(subject, { callback })` + JSON.parse, or nats.Listener (message mode,
 *              handler JSON.parse).
 *   publish    the arm is the publisher: raw `nc.publish(subject, JSON.stringify(v))` or
 *              `client.publish(subject, v)` (core's json codec); a raw subscriber counts.
 *   request    N/10 request/reply round trips, 32 in flight: raw `nc.request` against a raw
 *              responder (`msg.respond(JSON.stringify(...))`), or `client.request` against a
 *              nats.Listener `onRequest` (payload mode: core's json codec both ways).
 *   jetstream  N/10 JetStream publishes, 64 awaiting their acknowledgement: raw `js.publish` or
 *              `client.jetstream.publish`, to a memory stream.
 *
 * Both arms connect with `noAsyncTraces: true` (Pirouette's default): nats.js otherwise builds an
 * Error with a stack trace for every request in case it fails, which costs a raw client with
 * nats.js's defaults 30-40 % of its request/reply and JetStream publish throughput.
 *
 * Each trial is accepted only if every message arrived (or was acknowledged). Prints throughput,
 * client CPU µs per message and per-arm medians, then `ratio <name> <ours ÷ raw>` lines last.
 */
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { jetstream, jetstreamManager, StorageType } from "@nats-io/jetstream";
import * as nats from "@pirouette/nats";

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const v = Number(process.argv[i + 1]);
  if (!Number.isFinite(v) || v <= 0) throw new Error(`--${name} needs a positive number`);
  return v;
}
const onlyArg = process.argv.indexOf("--only");
const ONLY = onlyArg < 0 ? undefined : new Set((process.argv[onlyArg + 1] ?? "").split(","));
const run = (name: string): boolean => ONLY === undefined || ONLY.has(name);

const URL = process.env["NATS_URL"] ?? "nats://127.0.0.1:4222";
const N = arg("n", 100_000);
const TRIALS = arg("trials", 5);
const WARMUP = arg("warmup", 1);
const E2E_WINDOW = 5000;
const REQUEST_CONCURRENCY = 32;
const JS_WINDOW = 64;

const gc: () => void =
  (globalThis as { gc?: () => void }).gc ??
  (() => {
    throw new Error("run with --expose-gc (pnpm bench nats does)");
  });

const utf8 = new TextDecoder();
const RUN_ID = `${process.pid}_${Date.now().toString(36)}`;
let seq = 0;
const newSubject = (what: string): string => `pirouette_bench.${what}.${RUN_ID}.${++seq}`;

/** ~100 bytes of JSON. */
function order(i: number): { id: number; customer: string; sku: string; qty: number; note: string } {
  return { id: i, customer: `customer-${i % 97}`, sku: "pointe-shoes-38", qty: 1 + (i % 3), note: "x".repeat(16) };
}

/** Counts received messages and wakes a publisher waiting for the subscriber to catch up. */
class Flow {
  received = 0;
  sent = 0;
  readonly n: number;
  #waiters: (() => void)[] = [];
  #done: (() => void) | undefined;
  readonly done: Promise<void>;
  constructor(n: number) {
    this.n = n;
    this.done = new Promise((r) => (this.#done = r));
  }
  onReceived(): void {
    this.received++;
    if (this.received === this.n) this.#done?.();
    if (this.#waiters.length > 0 && this.sent - this.received <= E2E_WINDOW / 2) {
      const waiters = this.#waiters;
      this.#waiters = [];
      for (const w of waiters) w();
    }
  }
  room(): Promise<void> | undefined {
    if (this.sent - this.received < E2E_WINDOW) return undefined;
    // A subscriber that stops receiving (lost messages) must fail the trial, not hang it.
    return withTimeout(new Promise<void>((r) => this.#waiters.push(r)), `${this.sent - this.received} messages in transit`, 30_000);
  }
}

interface Trial {
  readonly ms: number;
  readonly cpuUs: number;
  readonly n: number;
}

async function measure(n: number, body: () => Promise<void>): Promise<Trial> {
  gc();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await body();
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  if (process.env["BENCH_VERBOSE"] === "1") console.error(`  trial: ${n} in ${ms.toFixed(0)} ms`);
  return { ms, cpuUs: cpu.user + cpu.system, n };
}

async function withTimeout<T>(p: Promise<T>, what: string, ms = 120_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<T>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: timed out; trial rejected`)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

async function publishRaw(nc: NatsConnection, subject: string, n: number, flow: Flow): Promise<void> {
  for (let i = 0; i < n; i++) {
    const wait = flow.room();
    if (wait !== undefined) await wait;
    flow.sent++;
    nc.publish(subject, JSON.stringify(order(i)));
  }
}

function rawCounter(nc: NatsConnection, subject: string, flow: Flow): void {
  nc.subscribe(subject, {
    callback: (_err, m) => {
      if ((JSON.parse(m.string()) as { id: number }).id >= 0) flow.onReceived();
    },
  });
}

// ---------------------------------------------------------------- listener (consume)

async function listenerRaw(n: number): Promise<Trial> {
  const subject = newSubject("listener_raw");
  const flow = new Flow(n);
  const sub = await connect({ servers: URL, noAsyncTraces: true });
  rawCounter(sub, subject, flow);
  await sub.flush();
  const pub = await connect({ servers: URL, noAsyncTraces: true });
  try {
    return await measure(n, async () => {
      await publishRaw(pub, subject, n, flow);
      await withTimeout(flow.done, "raw subscriber");
    });
  } finally {
    await sub.close();
    await pub.close();
  }
}

async function listenerOurs(n: number): Promise<Trial> {
  const subject = newSubject("listener_ours");
  const flow = new Flow(n);
  const listener = new nats.Listener(URL);
  await listener.attach(
    {
      onMessage(m: nats.Message) {
        if ((JSON.parse(utf8.decode(m.content)) as { id: number }).id >= 0) flow.onReceived();
      },
    },
    subject,
  );
  await listener.start();
  const pub = await connect({ servers: URL, noAsyncTraces: true });
  await pub.flush();
  try {
    return await measure(n, async () => {
      await publishRaw(pub, subject, n, flow);
      await withTimeout(flow.done, "listener");
    });
  } finally {
    await listener.gracefulStop();
    await pub.close();
  }
}

// ---------------------------------------------------------------- publish

async function publishRawArm(n: number): Promise<Trial> {
  const subject = newSubject("publish_raw");
  const flow = new Flow(n);
  const sub = await connect({ servers: URL, noAsyncTraces: true });
  rawCounter(sub, subject, flow);
  await sub.flush();
  const pub = await connect({ servers: URL, noAsyncTraces: true });
  try {
    return await measure(n, async () => {
      await publishRaw(pub, subject, n, flow);
      await withTimeout(flow.done, "raw publisher");
    });
  } finally {
    await sub.close();
    await pub.close();
  }
}

async function publishOurs(n: number): Promise<Trial> {
  const subject = newSubject("publish_ours");
  const flow = new Flow(n);
  const sub = await connect({ servers: URL, noAsyncTraces: true });
  rawCounter(sub, subject, flow);
  await sub.flush();
  const client = new nats.Client(URL);
  await client.start();
  try {
    return await measure(n, async () => {
      for (let i = 0; i < n; i++) {
        const wait = flow.room();
        if (wait !== undefined) await wait;
        flow.sent++;
        client.publish(subject, order(i));
      }
      await withTimeout(flow.done, "client");
    });
  } finally {
    await sub.close();
    await client.close();
  }
}

// ---------------------------------------------------------------- request/reply

async function requestRaw(n: number): Promise<Trial> {
  const subject = newSubject("request_raw");
  const responder = await connect({ servers: URL, noAsyncTraces: true });
  responder.subscribe(subject, {
    callback: (_err, m) => {
      const q = m.json<{ id: number; qty: number }>();
      m.respond(JSON.stringify({ id: q.id, total: q.qty * 1299 }));
    },
  });
  await responder.flush();
  const requester = await connect({ servers: URL, noAsyncTraces: true });
  try {
    return await measure(n, async () => {
      let i = 0;
      let ok = 0;
      await Promise.all(
        Array.from({ length: REQUEST_CONCURRENCY }, async () => {
          while (i < n) {
            const r = await requester.request(subject, JSON.stringify(order(i++)), { timeout: 10_000 });
            if (r.json<{ total: number }>().total > 0) ok++;
          }
        }),
      );
      if (ok !== n) throw new Error(`raw: ${ok} of ${n} replies; trial rejected`);
    });
  } finally {
    await responder.close();
    await requester.close();
  }
}

async function requestOurs(n: number): Promise<Trial> {
  const subject = newSubject("request_ours");
  const listener = new nats.Listener(URL, { concurrency: REQUEST_CONCURRENCY });
  await listener.attach({ onRequest: (q: { id: number; qty: number }) => ({ id: q.id, total: q.qty * 1299 }) }, { subject, mode: "payload" });
  await listener.start();
  const client = new nats.Client(URL);
  await client.start();
  try {
    return await measure(n, async () => {
      let i = 0;
      let ok = 0;
      await Promise.all(
        Array.from({ length: REQUEST_CONCURRENCY }, async () => {
          while (i < n) {
            const r = await client.request(subject, order(i++), { timeoutMs: 10_000 });
            if ((JSON.parse(utf8.decode(r.content)) as { total: number }).total > 0) ok++;
          }
        }),
      );
      if (ok !== n) throw new Error(`ours: ${ok} of ${n} replies; trial rejected`);
    });
  } finally {
    await listener.gracefulStop();
    await client.close();
  }
}

// ---------------------------------------------------------------- JetStream publish

async function withStream<T>(fn: (subject: string, stream: string) => Promise<T>): Promise<T> {
  const subject = newSubject("js");
  const name = `PIROUETTE_BENCH_${RUN_ID}_${++seq}`.toUpperCase();
  const admin = await connect({ servers: URL, noAsyncTraces: true });
  const jsm = await jetstreamManager(admin);
  await jsm.streams.add({ name, subjects: [subject], storage: StorageType.Memory });
  try {
    const r = await fn(subject, name);
    const info = await jsm.streams.info(name);
    if (info.state.messages !== (r as Trial).n) throw new Error(`stream holds ${info.state.messages} messages; trial rejected`);
    return r;
  } finally {
    await jsm.streams.delete(name).catch(() => undefined);
    await admin.close();
  }
}

async function jetstreamRaw(n: number): Promise<Trial> {
  return withStream(async (subject) => {
    const nc = await connect({ servers: URL, noAsyncTraces: true });
    const js = jetstream(nc);
    try {
      return await measure(n, async () => {
        let i = 0;
        await Promise.all(
          Array.from({ length: JS_WINDOW }, async () => {
            while (i < n) await js.publish(subject, JSON.stringify(order(i++)));
          }),
        );
      });
    } finally {
      await nc.close();
    }
  });
}

async function jetstreamOurs(n: number): Promise<Trial> {
  return withStream(async (subject) => {
    const client = new nats.Client(URL);
    await client.start();
    try {
      return await measure(n, async () => {
        let i = 0;
        await Promise.all(
          Array.from({ length: JS_WINDOW }, async () => {
            while (i < n) await client.jetstream.publish(subject, order(i++));
          }),
        );
      });
    } finally {
      await client.close();
    }
  });
}

// ---------------------------------------------------------------- harness

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};
const rate = (t: Trial): number => (t.n * 1000) / t.ms;
const fmt = (x: number, digits = 0): string => x.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });

interface Comparison {
  readonly name: string;
  readonly ratioName: string;
  readonly raw: Trial[];
  readonly ours: Trial[];
}

async function compare(name: string, ratioName: string, n: number, raw: (n: number) => Promise<Trial>, ours: (n: number) => Promise<Trial>): Promise<Comparison> {
  for (let i = 0; i < WARMUP; i++) {
    await raw(Math.min(n, 5000));
    await ours(Math.min(n, 5000));
  }
  const c: Comparison = { name, ratioName, raw: [], ours: [] };
  for (let i = 0; i < TRIALS; i++) {
    if (i % 2 === 0) {
      c.raw.push(await raw(n));
      c.ours.push(await ours(n));
    } else {
      c.ours.push(await ours(n));
      c.raw.push(await raw(n));
    }
  }
  report(c);
  return c;
}

function report(c: Comparison): void {
  const line = (arm: string, ts: Trial[]): string => {
    const rates = ts.map(rate);
    const cpu = median(ts.map((t) => t.cpuUs / t.n));
    return `  ${arm.padEnd(6)} ${fmt(median(rates)).padStart(9)} msg/s  (min ${fmt(Math.min(...rates))}, max ${fmt(Math.max(...rates))})  cpu ${fmt(cpu, 1)} µs/msg`;
  };
  const pairRatios = c.ours.map((t, i) => rate(t) / rate(c.raw[i] as Trial));
  console.log(`${c.name}  (n=${c.raw[0]?.n}, ${TRIALS} trials)`);
  console.log(line("raw", c.raw));
  console.log(line("ours", c.ours));
  console.log(
    `  ratio ${fmt(median(c.ours.map(rate)) / median(c.raw.map(rate)), 3)} (pairs ${fmt(Math.min(...pairRatios), 3)} … ${fmt(Math.max(...pairRatios), 3)}), cpu ratio ${fmt(
      median(c.ours.map((t) => t.cpuUs / t.n)) / median(c.raw.map((t) => t.cpuUs / t.n)),
      2,
    )}`,
  );
}

async function main(): Promise<void> {
  console.log(`nats bench: ${URL}, node ${process.version}, ~100 B JSON`);
  const results: Comparison[] = [];
  if (run("listener")) results.push(await compare("listener consume (core NATS)", "nats-listener-consume", N, listenerRaw, listenerOurs));
  if (run("publish")) results.push(await compare("client publish (core NATS)", "nats-client-publish", N, publishRawArm, publishOurs));
  const n10 = Math.max(1000, Math.round(N / 10));
  if (run("request")) results.push(await compare(`request/reply, ${REQUEST_CONCURRENCY} in flight`, "nats-request-reply", n10, requestRaw, requestOurs));
  if (run("jetstream")) {
    results.push(await compare(`JetStream publish, ${JS_WINDOW} awaiting their ack`, "nats-jetstream-publish", n10, jetstreamRaw, jetstreamOurs));
  }
  for (const c of results) console.log(`ratio ${c.ratioName} ${(median(c.ours.map(rate)) / median(c.raw.map(rate))).toFixed(3)}`);
}

await main();
