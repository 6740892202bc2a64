/**
 * MQTT benchmark (reference/perf.md §5, MQTT row): Pirouette against raw mqtt.js on the same
 * Mosquitto, in one process, arms alternated ABBA with gc() between trials, medians.
 *
 *   pnpm bench mqtt [--n 40000] [--trials 5] [--warmup 1] [--only listener-qos0,listener-qos1,client-qos0,client-qos1]
 *
 * Workloads (~100 B JSON payloads; publisher and subscriber in this process; a fresh topic per
 * trial; both arms connect before the clock starts):
 *   listener-qos0  a raw mqtt.js publisher sends N QoS 0 messages (at most 2000 published and not
 *                  yet received; 500 at QoS 1, under Mosquitto's max_queued_messages); the arm is the
 *                  subscriber: raw `client.on("message")` + JSON.parse, or mqtt.Listener (message mode,
 *                  handler JSON.parse).
 *   listener-qos1  the same at QoS 1, 64 publishes awaiting their PUBACK (`publishAsync`); raw mqtt.js acknowledges
 *                  each message after its "message" event, the Listener after its handler (the same
 *                  point for a synchronous handler).
 *   client-qos0    the arm is the publisher: raw `client.publish(topic, JSON.stringify(v), { qos: 0 }, cb)`
 *                  (a completion callback per message, as ours resolves a promise per message) or
 *                  `mqtt.Client.publish(topic, { payload: v, qos: 0 })` (core's json codec, MQTT 5
 *                  content type); a raw subscriber counts. Every 500th publish is awaited.
 *   client-qos1    the same at QoS 1 with 64 publishes awaiting their PUBACK: raw `publishAsync`,
 *                  or `mqtt.Client.publish`.
 *
 * Each trial is accepted only if every message arrived. Prints throughput, client CPU µs per
 * message and per-arm medians, then `ratio <name> <ours ÷ raw>` lines last (higher is better).
 */
import { connectAsync, type MqttClient as RawClient } from "mqtt";
import * as mqtt from "@pirouette/mqtt";

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

const URL = process.env["MQTT_URL"] ?? "mqtt://127.0.0.1:1883";
const N = arg("n", 40_000);
const TRIALS = arg("trials", 5);
const WARMUP = arg("warmup", 1);
/** Published and not yet received, at most: Mosquitto drops QoS 1 messages beyond max_queued_messages (1000) per subscriber. */
const E2E_WINDOW = { 0: 2000, 1: 500 } as const;
const ACK_WINDOW = 64;

const gc: () => void =
  (globalThis as { gc?: () => void }).gc ??
  (() => {
    throw new Error("run with --expose-gc (pnpm bench mqtt does)");
  });

const RUN_ID = `${process.pid}-${Date.now().toString(36)}`;
let topicSeq = 0;
const newTopic = (what: string): string => `pirouette-bench/${what}/${RUN_ID}/${++topicSeq}`;

/** ~100 bytes of JSON. */
function order(i: number): { id: number; customer: string; sku: string; qty: number; note: string } {
  return { id: i, customer: `customer-${i % 97}`, sku: "pointe-shoes-38", qty: 1 + (i % 3), note: "x".repeat(16) };
}

/** Counts received messages and wakes a publisher waiting for the subscriber to catch up. */
class Flow {
  received = 0;
  sent = 0;
  #waiters: (() => void)[] = [];
  #done: (() => void) | undefined;
  readonly done: Promise<void>;
  readonly n: number;
  readonly window: number;
  constructor(n: number, qos: 0 | 1) {
    this.n = n;
    this.window = E2E_WINDOW[qos];
    this.done = new Promise((r) => (this.#done = r));
  }
  onReceived(): void {
    this.received++;
    if (this.received === this.n) this.#done?.();
    if (this.#waiters.length > 0 && this.sent - this.received <= this.window / 2) {
      const waiters = this.#waiters;
      this.#waiters = [];
      for (const w of waiters) w();
    }
  }
  /** Resolves when fewer than the window are in transit. */
  room(): Promise<void> | undefined {
    if (this.sent - this.received < this.window) return undefined;
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

// ---------------------------------------------------------------- raw publisher / subscriber

async function rawPublisher(): Promise<RawClient> {
  return connectAsync(URL, { protocolVersion: 5, reconnectPeriod: 0 });
}

/** Publish n messages with raw mqtt.js, gated by the flow (and at QoS 1 by a PUBACK window). */
async function publishRaw(pub: RawClient, topic: string, n: number, qos: 0 | 1, flow: Flow): Promise<void> {
  if (qos === 0) {
    // A completion callback per message, as mqtt.Client.publish gives a promise per message.
    let written = 0;
    const onWritten = (): void => void written++;
    for (let i = 0; i < n; i++) {
      const wait = flow.room();
      if (wait !== undefined) await wait;
      flow.sent++;
      if (i % 500 === 499 || i === n - 1) await new Promise<void>((r) => pub.publish(topic, JSON.stringify(order(i)), { qos: 0 }, () => r()));
      else pub.publish(topic, JSON.stringify(order(i)), { qos: 0 }, onWritten);
    }
    if (written !== n - Math.ceil(n / 500)) throw new Error(`raw publisher: ${written} write callbacks; trial rejected`);
    return;
  }
  // 64 publishes awaiting their PUBACK (mqtt.js's publishAsync), as the Client arm does.
  let i = 0;
  await Promise.all(
    Array.from({ length: ACK_WINDOW }, async () => {
      while (i < n) {
        const wait = flow.room();
        if (wait !== undefined) {
          await wait;
          continue;
        }
        flow.sent++;
        await pub.publishAsync(topic, JSON.stringify(order(i++)), { qos: 1 });
      }
    }),
  );
}

async function rawSubscriber(topic: string, qos: 0 | 1, flow: Flow): Promise<RawClient> {
  const sub = await connectAsync(URL, { protocolVersion: 5, reconnectPeriod: 0 });
  sub.on("message", (_t, p) => {
    if ((JSON.parse(p.toString("utf8")) as { id: number }).id >= 0) flow.onReceived();
  });
  await sub.subscribeAsync(topic, { qos });
  return sub;
}

// ---------------------------------------------------------------- listener arms

async function listenerRaw(n: number, qos: 0 | 1): Promise<Trial> {
  const topic = newTopic(`listener-raw-q${qos}`);
  const flow = new Flow(n, qos);
  const sub = await rawSubscriber(topic, qos, flow);
  const pub = await rawPublisher();
  try {
    return await measure(n, async () => {
      await publishRaw(pub, topic, n, qos, flow);
      await withTimeout(flow.done, "raw subscriber");
    });
  } finally {
    await sub.endAsync();
    await pub.endAsync();
  }
}

async function listenerOurs(n: number, qos: 0 | 1): Promise<Trial> {
  const topic = newTopic(`listener-ours-q${qos}`);
  const flow = new Flow(n, qos);
  const listener = new mqtt.Listener(URL, undefined, { topic, qos });
  await listener.attach({
    onMessage(m: mqtt.Message) {
      if ((JSON.parse(Buffer.prototype.toString.call(m.payload, "utf8")) as { id: number }).id >= 0) flow.onReceived();
    },
  });
  await listener.start();
  const pub = await rawPublisher();
  try {
    return await measure(n, async () => {
      await publishRaw(pub, topic, n, qos, flow);
      await withTimeout(flow.done, "listener");
    });
  } finally {
    await listener.gracefulStop();
    await pub.endAsync();
  }
}

// ---------------------------------------------------------------- client arms

async function clientRaw(n: number, qos: 0 | 1): Promise<Trial> {
  const topic = newTopic(`client-raw-q${qos}`);
  const flow = new Flow(n, qos);
  const sub = await rawSubscriber(topic, qos, flow);
  const pub = await rawPublisher();
  try {
    return await measure(n, async () => {
      await publishRaw(pub, topic, n, qos, flow);
      await withTimeout(flow.done, "raw publisher");
    });
  } finally {
    await sub.endAsync();
    await pub.endAsync();
  }
}

async function clientOurs(n: number, qos: 0 | 1): Promise<Trial> {
  const topic = newTopic(`client-ours-q${qos}`);
  const flow = new Flow(n, qos);
  const sub = await rawSubscriber(topic, qos, flow);
  const client = new mqtt.Client(URL, undefined, { maxQueuedMessages: 100_000 });
  await client.start();
  try {
    return await measure(n, async () => {
      if (qos === 0) {
        for (let i = 0; i < n; i++) {
          const wait = flow.room();
          if (wait !== undefined) await wait;
          flow.sent++;
          const p = client.publish(topic, { payload: order(i), qos: 0 });
          if (i % 500 === 499 || i === n - 1) await p;
        }
      } else {
        let i = 0;
        await Promise.all(
          Array.from({ length: ACK_WINDOW }, async () => {
            while (i < n) {
              const wait = flow.room();
              if (wait !== undefined) {
                await wait;
                continue;
              }
              flow.sent++;
              await client.publish(topic, { payload: order(i++), qos: 1 });
            }
          }),
        );
      }
      await withTimeout(flow.done, "client");
    });
  } finally {
    await sub.endAsync();
    await client.close();
  }
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
    return `  ${arm.padEnd(6)} ${fmt(median(rates)).padStart(8)} msg/s  (min ${fmt(Math.min(...rates))}, max ${fmt(Math.max(...rates))})  cpu ${fmt(cpu, 1)} µs/msg`;
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
  console.log(`mqtt bench: ${URL.replace(/\/\/[^@]*@/, "//")}, node ${process.version}, MQTT 5, ~100 B JSON`);
  const results: Comparison[] = [];
  if (run("listener-qos0")) {
    results.push(await compare("listener, QoS 0 pub→sub", "mqtt-listener-qos0", N, (n) => listenerRaw(n, 0), (n) => listenerOurs(n, 0)));
  }
  if (run("listener-qos1")) {
    const n1 = Math.round(N / 2);
    results.push(await compare("listener, QoS 1 pub→sub (window 64)", "mqtt-listener-qos1", n1, (n) => listenerRaw(n, 1), (n) => listenerOurs(n, 1)));
  }
  if (run("client-qos0")) {
    results.push(await compare("client publish, QoS 0", "mqtt-client-qos0", N, (n) => clientRaw(n, 0), (n) => clientOurs(n, 0)));
  }
  if (run("client-qos1")) {
    const n1 = Math.round(N / 2);
    results.push(await compare("client publish, QoS 1 (window 64)", "mqtt-client-qos1", n1, (n) => clientRaw(n, 1), (n) => clientOurs(n, 1)));
  }
  for (const c of results) console.log(`ratio ${c.ratioName} ${(median(c.ours.map(rate)) / median(c.raw.map(rate))).toFixed(3)}`);
}

await main();
