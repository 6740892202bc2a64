/**
 * RabbitMQ benchmark (reference/perf.md §5, AMQP row): Pirouette against raw amqplib on the
 * same broker, in one process, arms alternated ABBA with gc() between trials, medians.
 *
 *   pnpm bench rabbitmq [--n 20000] [--trials 5] [--warmup 1] [--only consume,consume-multi,publish64,publish1]
 *
 * Workloads, with equal semantics in both arms:
 *   consume     a prefilled queue of N ~100 B JSON messages, prefetch 100, every message
 *               acknowledged after its handler ran; the handler JSON-parses the body.
 *               raw: channel.consume + JSON.parse + channel.ack (one ack frame per message).
 *               ours: rabbitmq.Listener, "message" mode, handler JSON.parse, acked by the listener
 *               (which coalesces the acks decided in one tick into one `multiple` ack).
 *   consume-multi  the same against a raw consumer that coalesces its acks the same way (one
 *               `ack(last, true)` per tick): the best hand-written amqplib consumer.
 *               Extra figure (no ratio): the listener in "payload" mode (core's safe json codec).
 *   publish64   N publishes with publisher confirms, persistent, mandatory, JSON-encoded per message,
 *               64 unconfirmed at most.
 *               raw: ConfirmChannel.publish with a callback. ours: Client.publishMessage.
 *   publish1    the same, one at a time (latency-bound: one fsync per confirm), N/30 messages.
 *
 * Each trial includes connecting (both arms), and is accepted only after checking the count
 * (every message handled and acknowledged, or confirmed and enqueued). Prints throughput,
 * client CPU µs per message and per-arm medians, then `ratio <name> <ours ÷ raw>` lines last
 * (throughput; higher is better; target ≥ 0.98).
 */
import { connect, type Message } from "amqplib";
import * as rabbitmq from "@pirouette/rabbitmq";

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

const URL = process.env["RABBITMQ_URL"] ?? "amqp://guest:guest@127.0.0.1:5672";
const N = arg("n", 20_000);
const TRIALS = arg("trials", 5);
const WARMUP = arg("warmup", 1);
const PREFETCH = 100;

const gc: () => void =
  (globalThis as { gc?: () => void }).gc ??
  (() => {
    throw new Error("run with --expose-gc (pnpm bench rabbitmq does)");
  });

const RUN_ID = `${process.pid}-${Date.now().toString(36)}`;
let queueSeq = 0;
const newQueue = (what: string): string => `pirouette-bench.${what}.${RUN_ID}.${++queueSeq}`;

/** ~100 bytes of JSON. */
function order(i: number): { id: number; customer: string; sku: string; qty: number; note: string } {
  return { id: i, customer: `customer-${i % 97}`, sku: "pointe-shoes-38", qty: 1 + (i % 3), note: "x".repeat(16) };
}

const admin = new rabbitmq.Client(URL);

async function prefill(queue: string, n: number): Promise<void> {
  const conn = await connect(URL);
  const ch = await conn.createConfirmChannel();
  await ch.assertQueue(queue, { durable: true });
  for (let i = 0; i < n; i++) {
    if (!ch.publish("", queue, Buffer.from(JSON.stringify(order(i))), { contentType: "application/json" })) {
      await new Promise((r) => ch.once("drain", r));
    }
    if (i % 5000 === 4999) await ch.waitForConfirms();
  }
  await ch.waitForConfirms();
  await conn.close();
}

async function cleanup(queue: string): Promise<void> {
  await admin.queueDelete(queue).catch(() => undefined);
  await admin.queueDelete(`${queue}.dlq`).catch(() => undefined);
  await admin.exchangeDelete(`${queue}.dlx`).catch(() => undefined);
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
  return { ms, cpuUs: cpu.user + cpu.system, n };
}

// ---------------------------------------------------------------- consume

const utf8 = (u8: Uint8Array): string => Buffer.from(u8.buffer, u8.byteOffset, u8.byteLength).toString("utf8");

async function consumeRaw(n: number, multiAck = false): Promise<Trial> {
  const queue = newQueue(multiAck ? "consume-raw-multi" : "consume-raw");
  await prefill(queue, n);
  try {
    const trial = await measure(n, async () => {
      const conn = await connect(URL);
      const ch = await conn.createChannel();
      await ch.prefetch(PREFETCH);
      let count = 0;
      let bytes = 0;
      let last: Message | undefined;
      const flush = (): void => {
        if (last !== undefined) ch.ack(last, true);
        last = undefined;
      };
      await new Promise<void>((resolve) => {
        void ch.consume(queue, (m) => {
          if (m === null) return;
          bytes += (JSON.parse(utf8(m.content)) as { id: number }).id >= 0 ? 1 : 0;
          if (multiAck) {
            if (last === undefined) queueMicrotask(flush);
            last = m;
          } else {
            ch.ack(m);
          }
          if (++count === n) resolve();
        });
      });
      await ch.close(); // channel first: amqplib's connection close can overtake buffered acks
      await conn.close();
      if (bytes !== n) throw new Error("raw consumer parsed the wrong count");
    });
    await check(queue, 0);
    return trial;
  } finally {
    await cleanup(queue);
  }
}

async function consumeListener(n: number, mode: "message" | "payload"): Promise<Trial> {
  const queue = newQueue(`consume-${mode}`);
  await prefill(queue, n);
  try {
    const trial = await measure(n, async () => {
      const listener = new rabbitmq.Listener(URL, undefined, { prefetchCount: PREFETCH });
      let count = 0;
      let resolve!: () => void;
      const done = new Promise<void>((r) => (resolve = r));
      const onMessage =
        mode === "message"
          ? (m: rabbitmq.Message) => {
              if ((JSON.parse(utf8(m.content)) as { id: number }).id >= 0 && ++count === n) resolve();
            }
          : (o: { id: number }) => {
              if (o.id >= 0 && ++count === n) resolve();
            };
      await listener.attach({ onMessage }, { name: queue, mode });
      await listener.start();
      await done;
      await listener.gracefulStop(); // the last acks are sent before the channel closes
    });
    await check(queue, 0);
    return trial;
  } finally {
    await cleanup(queue);
  }
}

// ---------------------------------------------------------------- publish with confirms

async function publishRaw(n: number, window: number): Promise<Trial> {
  const queue = newQueue(`publish-raw-${window}`);
  await admin.queueDeclare(queue);
  try {
    const trial = await measure(n, async () => {
      const conn = await connect(URL);
      const ch = await conn.createConfirmChannel();
      let sent = 0;
      let confirmed = 0;
      let inflight = 0;
      await new Promise<void>((resolve, reject) => {
        const pump = (): void => {
          while (inflight < window && sent < n) {
            inflight++;
            const content = Buffer.from(JSON.stringify(order(sent++)), "utf8");
            ch.publish("", queue, content, { persistent: true, mandatory: true, contentType: "application/json" }, (err: unknown) => {
              inflight--;
              if (err !== null && err !== undefined) return reject(err);
              if (++confirmed === n) resolve();
              else pump();
            });
          }
        };
        pump();
      });
      await ch.close();
      await conn.close();
    });
    await check(queue, n);
    return trial;
  } finally {
    await cleanup(queue);
  }
}

async function publishClient(n: number, window: number): Promise<Trial> {
  const queue = newQueue(`publish-ours-${window}`);
  await admin.queueDeclare(queue);
  try {
    const trial = await measure(n, async () => {
      const client = new rabbitmq.Client(URL);
      let sent = 0;
      await Promise.all(
        Array.from({ length: window }, async () => {
          while (sent < n) await client.publishMessage({ routingKey: queue, content: order(sent++) });
        }),
      );
      await client.close();
    });
    await check(queue, n);
    return trial;
  } finally {
    await cleanup(queue);
  }
}

async function check(queue: string, expected: number): Promise<void> {
  const { messageCount } = await admin.queueDeclare(queue);
  if (messageCount !== expected) throw new Error(`${queue}: ${messageCount} messages left, expected ${expected}: trial rejected`);
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
  readonly raw: Trial[];
  readonly ours: Trial[];
}

async function compare(name: string, n: number, raw: (n: number) => Promise<Trial>, ours: (n: number) => Promise<Trial>): Promise<Comparison> {
  for (let i = 0; i < WARMUP; i++) {
    await raw(Math.min(n, 5000));
    await ours(Math.min(n, 5000));
  }
  const c: Comparison = { name, raw: [], ours: [] };
  for (let i = 0; i < TRIALS; i++) {
    // ABBA: alternate which arm goes first.
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
  await admin.start();
  console.log(`rabbitmq bench: ${URL.replace(/\/\/[^@]*@/, "//")}, node ${process.version}, prefetch ${PREFETCH}`);
  const results: Comparison[] = [];
  try {
    if (run("consume")) {
      results.push(await compare("consume (prefetch 100, ack each)", N, (n) => consumeRaw(n), (n) => consumeListener(n, "message")));
    }
    if (run("consume-multi")) {
      results.push(await compare("consume vs raw multi-ack (prefetch 100)", N, (n) => consumeRaw(n, true), (n) => consumeListener(n, "message")));
    }
    if (run("consume")) {
      const payload: Trial[] = [];
      for (let i = 0; i < Math.min(TRIALS, 3); i++) payload.push(await consumeListener(N, "payload"));
      console.log(`  listener, payload mode (safe json codec): ${fmt(median(payload.map(rate)))} msg/s, cpu ${fmt(median(payload.map((t) => t.cpuUs / t.n)), 1)} µs/msg`);
    }
    if (run("publish64")) {
      results.push(await compare("publish with confirms, window 64", N, (n) => publishRaw(n, 64), (n) => publishClient(n, 64)));
    }
    if (run("publish1")) {
      const n1 = Math.max(300, Math.round(N / 30));
      results.push(await compare("publish with confirms, window 1", n1, (n) => publishRaw(n, 1), (n) => publishClient(n, 1)));
    }
  } finally {
    await admin.close();
  }
  const names: Record<string, string> = {
    "consume (prefetch 100, ack each)": "rabbitmq-listener-consume",
    "consume vs raw multi-ack (prefetch 100)": "rabbitmq-listener-consume-vs-raw-multi-ack",
    "publish with confirms, window 64": "rabbitmq-client-publish-confirms-w64",
    "publish with confirms, window 1": "rabbitmq-client-publish-confirms-w1",
  };
  for (const c of results) {
    console.log(`ratio ${names[c.name] ?? c.name} ${(median(c.ours.map(rate)) / median(c.raw.map(rate))).toFixed(3)}`);
  }
}

await main();
