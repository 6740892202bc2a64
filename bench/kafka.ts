/**
 * Kafka benchmark (reference/perf.md §5) against the broker of `scripts/services up kafka`:
 * our listener and producer next to raw kafkajs on the same workload, in one process, arms
 * alternated (ABBA …) with gc() between trials, medians and paired ratios.
 *
 *   pnpm bench kafka [--messages 200000] [--partitions 3] [--trials 7] [--produce 50000] [--inflight 4] [--only consume,produce]
 *
 * Consume arms (each trial: a fresh consumer group reads the same prefilled topic from the
 * beginning; timed from the first record received to the last one handled; every record counted
 * and its id summed; each value decoded with core's `json()` codec, the listener's default, so that
 * every arm parses the same way; offsets committed after each batch; `partitions` partitions
 * consumed in parallel):
 *   eachBatch    raw kafkajs `eachBatch`: decode each value, resolveOffset, heartbeat, commit the batch
 *   listener     `kafka.Listener` with its defaults (payload mode, json codec, maxPollRecords 500),
 *                handler `(values) => sum/count`
 *   eachMessage  raw kafkajs `eachMessage` (the naive reference: one await per record, autoCommit)
 * A line before the ratios gives the cost of `json()` decoding against `JSON.parse(buf.toString())`
 * per record (paid by every arm alike).
 *
 * Produce arms (each trial sends `produce` ~100-byte JSON records to a fresh topic, 100 records
 * per request, `inflight` requests at a time (default 4), acks all):
 *   raw-batch    kafkajs `producer.send({ messages: 100 })` with JSON.stringify'd values
 *   producer     `kafka.Producer.sendBatch(100 records)` (JSON encoding, trace headers)
 *
 * Last lines: `ratio kafka-listener-vs-eachBatch` (target ≥ 0.95), `ratio kafka-listener-vs-eachMessage`
 * and `ratio kafka-producer-vs-raw` (target ≥ 0.97); higher is better. Each is the median of the
 * per-round ratios (the arms of a round run back to back, so they share the machine's load).
 */
import { randomUUID } from "node:crypto";
import kafkajs from "kafkajs";
import { json } from "@pirouette/core";
import * as kafka from "@pirouette/kafka";

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const v = Number(process.argv[i + 1]);
  if (!Number.isInteger(v) || v <= 0) throw new Error(`--${name} needs a positive integer`);
  return v;
}
function only(): Set<string> {
  const i = process.argv.indexOf("--only");
  return new Set(i < 0 ? ["consume", "produce"] : (process.argv[i + 1] ?? "").split(","));
}

const BROKERS = (process.env["KAFKA_BROKERS"] ?? "127.0.0.1:9092").split(",");
const M = arg("messages", 200_000);
const PARTITIONS = arg("partitions", 3);
const TRIALS = arg("trials", 7);
const PRODUCE = arg("produce", 50_000);
const INFLIGHT = arg("inflight", 4);
const ARMS = only();

const gc: () => void =
  (globalThis as { gc?: () => void }).gc ??
  (() => {
    throw new Error("run with --expose-gc (pnpm bench kafka does)");
  });

/** The listener's default codec; the raw arms decode with it too. */
const codec = json();

const client = new kafkajs.Kafka({ brokers: BROKERS, clientId: "pirouette-bench", logLevel: kafkajs.logLevel.NOTHING });
const admin = client.admin();

/** A ~100-byte JSON payload. */
function payload(i: number): string {
  const base = JSON.stringify({ id: i, customer: `c${i % 97}`, amount: (i % 1000) / 10, pad: "" });
  return base.replace('"pad":""', `"pad":"${"x".repeat(Math.max(0, 100 - base.length))}"`);
}

async function prefill(topic: string, n: number): Promise<void> {
  await admin.createTopics({ topics: [{ topic, numPartitions: PARTITIONS }], waitForLeaders: true });
  const p = client.producer({ createPartitioner: kafkajs.Partitioners.DefaultPartitioner });
  await p.connect();
  const inFlight: Promise<unknown>[] = [];
  for (let i = 0; i < n; i += 1000) {
    const messages = Array.from({ length: Math.min(1000, n - i) }, (_, j) => ({ key: String((i + j) % 1024), value: payload(i + j) }));
    inFlight.push(p.send({ topic, messages }));
    if (inFlight.length >= 8) await Promise.all(inFlight.splice(0));
  }
  await Promise.all(inFlight);
  await p.disconnect();
}

interface Result {
  readonly ms: number;
  readonly cpuUs: number;
  readonly count: number;
}

/** Wait until `done()` holds (polling), resolving with the time it first did. */
async function until(done: () => boolean, timeoutMs: number, what: string): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setImmediate(r));
  }
  return performance.now();
}

// ---------------------------------------------------------------- consume arms

async function rawEachBatch(topic: string): Promise<Result> {
  const consumer = client.consumer({ groupId: `bench-raw-${randomUUID()}`, maxWaitTimeInMs: 100 });
  let count = 0;
  let sum = 0;
  let first = 0;
  let cpu0 = process.cpuUsage();
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  await consumer.run({
    autoCommit: false,
    partitionsConsumedConcurrently: PARTITIONS,
    eachBatch: async ({ batch, resolveOffset, heartbeat, commitOffsetsIfNecessary }) => {
      if (first === 0) {
        first = performance.now();
        cpu0 = process.cpuUsage();
      }
      for (const m of batch.messages) {
        sum += (codec.decode(m.value as Buffer) as { id: number }).id;
        count++;
        resolveOffset(m.offset);
      }
      await heartbeat();
      const last = batch.messages[batch.messages.length - 1];
      if (last !== undefined) {
        await commitOffsetsIfNecessary({
          topics: [{ topic: batch.topic, partitions: [{ partition: batch.partition, offset: String(Number(last.offset) + 1) }] }],
        });
      }
    },
  });
  const end = await until(() => count >= M, 120_000, "raw eachBatch");
  const cpu = process.cpuUsage(cpu0);
  await consumer.disconnect();
  check("eachBatch", count, sum);
  return { ms: end - first, cpuUs: cpu.user + cpu.system, count };
}

async function rawEachMessage(topic: string): Promise<Result> {
  const consumer = client.consumer({ groupId: `bench-msg-${randomUUID()}`, maxWaitTimeInMs: 100 });
  let count = 0;
  let sum = 0;
  let first = 0;
  let cpu0 = process.cpuUsage();
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  await consumer.run({
    partitionsConsumedConcurrently: PARTITIONS,
    eachMessage: async ({ message }) => {
      if (first === 0) {
        first = performance.now();
        cpu0 = process.cpuUsage();
      }
      sum += (codec.decode(message.value as Buffer) as { id: number }).id;
      count++;
    },
  });
  const end = await until(() => count >= M, 300_000, "raw eachMessage");
  const cpu = process.cpuUsage(cpu0);
  await consumer.disconnect();
  check("eachMessage", count, sum);
  return { ms: end - first, cpuUs: cpu.user + cpu.system, count };
}

async function ourListener(topic: string): Promise<Result> {
  const listener = new kafka.Listener(BROKERS, {
    groupId: `bench-ours-${randomUUID()}`,
    topics: topic,
    offsetReset: "earliest",
    concurrency: PARTITIONS,
    maxWaitTimeMs: 100,
  });
  let count = 0;
  let sum = 0;
  let first = 0;
  let cpu0 = process.cpuUsage();
  await listener.attach(
    {
      async onConsumerRecord(values: { id: number }[]) {
        if (first === 0) {
          first = performance.now();
          cpu0 = process.cpuUsage();
        }
        for (let i = 0; i < values.length; i++) sum += (values[i] as { id: number }).id;
        count += values.length;
      },
    },
    { mode: "payload" },
  );
  await listener.start();
  const end = await until(() => count >= M, 120_000, "listener");
  const cpu = process.cpuUsage(cpu0);
  await listener.gracefulStop();
  check("listener", count, sum);
  return { ms: end - first, cpuUs: cpu.user + cpu.system, count };
}

/** What decoding one ~100-byte record costs with core's json() codec and with a bare JSON.parse. */
function decodeCost(): { codec: number; plain: number } {
  const bufs = Array.from({ length: 2000 }, (_, i) => Buffer.from(payload(i)));
  let best = { codec: Infinity, plain: Infinity };
  let sink = 0;
  for (let r = 0; r < 20; r++) {
    let t = performance.now();
    for (const b of bufs) sink += (codec.decode(b) as { id: number }).id;
    const c = ((performance.now() - t) * 1e6) / bufs.length;
    t = performance.now();
    for (const b of bufs) sink += (JSON.parse(b.toString()) as { id: number }).id;
    const p = ((performance.now() - t) * 1e6) / bufs.length;
    best = { codec: Math.min(best.codec, c), plain: Math.min(best.plain, p) };
  }
  if (sink < 0) console.log(sink);
  return best;
}

function check(arm: string, count: number, sum: number): void {
  const expected = (M * (M - 1)) / 2;
  if (count !== M || sum !== expected) throw new Error(`${arm}: ${count} records (sum ${sum}); expected ${M} (sum ${expected})`);
}

// ---------------------------------------------------------------- produce arms

async function freshTopic(prefix: string): Promise<string> {
  const topic = `bench-${prefix}-${randomUUID()}`;
  await admin.createTopics({ topics: [{ topic, numPartitions: PARTITIONS }], waitForLeaders: true });
  return topic;
}

const values = Array.from({ length: PRODUCE }, (_, i) => ({ id: i, customer: `c${i % 97}`, amount: (i % 1000) / 10, pad: "x".repeat(40) }));

async function rawProduce(topic: string): Promise<Result> {
  const p = client.producer({ createPartitioner: kafkajs.Partitioners.DefaultPartitioner });
  await p.connect();
  gc();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const inFlight = new Set<Promise<unknown>>();
  for (let i = 0; i < PRODUCE; i += 100) {
    const sent = p.send({
      topic,
      acks: -1,
      messages: values.slice(i, i + 100).map((v) => ({ key: String(v.id % 1024), value: JSON.stringify(v) })),
    });
    inFlight.add(sent);
    void sent.then(() => inFlight.delete(sent));
    if (inFlight.size >= INFLIGHT) await Promise.race(inFlight);
  }
  await Promise.all(inFlight);
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  await p.disconnect();
  return { ms, cpuUs: cpu.user + cpu.system, count: PRODUCE };
}

async function ourProduce(topic: string): Promise<Result> {
  const p = new kafka.Producer(BROKERS);
  await p.connect();
  gc();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const inFlight = new Set<Promise<unknown>>();
  for (let i = 0; i < PRODUCE; i += 100) {
    const sent = p.sendBatch(values.slice(i, i + 100).map((v) => ({ topic, key: String(v.id % 1024), value: v })));
    inFlight.add(sent);
    void sent.then(() => inFlight.delete(sent));
    if (inFlight.size >= INFLIGHT) await Promise.race(inFlight);
  }
  await Promise.all(inFlight);
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  await p.close();
  return { ms, cpuUs: cpu.user + cpu.system, count: PRODUCE };
}

// ---------------------------------------------------------------- harness

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

interface Arm {
  readonly name: string;
  run(): Promise<Result>;
}

/** Run arms in alternating order (ABC, CBA, …) for `TRIALS` rounds after one warm-up round. */
async function compare(arms: readonly Arm[]): Promise<Map<string, Result[]>> {
  const out = new Map<string, Result[]>(arms.map((a) => [a.name, []]));
  for (let round = -1; round < TRIALS; round++) {
    const order = round % 2 === 0 ? arms : [...arms].reverse();
    for (const arm of order) {
      gc();
      const r = await arm.run();
      if (round >= 0) (out.get(arm.name) as Result[]).push(r);
      const rate = Math.round((r.count / r.ms) * 1000);
      console.log(`  ${round < 0 ? "warm-up" : `trial ${round + 1}`}  ${arm.name.padEnd(15)} ${String(rate).padStart(8)} msg/s  ${(r.cpuUs / r.count).toFixed(2)} µs CPU/msg`);
    }
  }
  return out;
}

function summary(results: Map<string, Result[]>): Map<string, number> {
  const rates = new Map<string, number>();
  for (const [name, rs] of results) {
    const rate = median(rs.map((r) => (r.count / r.ms) * 1000));
    const cpu = median(rs.map((r) => r.cpuUs / r.count));
    const min = Math.min(...rs.map((r) => (r.count / r.ms) * 1000));
    const max = Math.max(...rs.map((r) => (r.count / r.ms) * 1000));
    rates.set(name, rate);
    console.log(`${name.padEnd(15)} median ${Math.round(rate)} msg/s (min ${Math.round(min)}, max ${Math.round(max)}), ${cpu.toFixed(2)} µs CPU/msg`);
  }
  return rates;
}

/** CPU per message, ours ÷ theirs, median of the rounds (lower is better; target ≤ 1.10). */
function cpuRatio(results: Map<string, Result[]>, ours: string, theirs: string): number {
  const a = results.get(ours) as Result[];
  const b = results.get(theirs) as Result[];
  return median(a.map((r, i) => r.cpuUs / r.count / ((b[i] as Result).cpuUs / (b[i] as Result).count)));
}

/** Paired ratios: per round ours ÷ theirs, then the median (with its range). */
function pairedRatio(results: Map<string, Result[]>, ours: string, theirs: string): { median: number; min: number; max: number } {
  const a = results.get(ours) as Result[];
  const b = results.get(theirs) as Result[];
  const ratios = a.map((r, i) => r.count / r.ms / ((b[i] as Result).count / (b[i] as Result).ms));
  return { median: median(ratios), min: Math.min(...ratios), max: Math.max(...ratios) };
}

async function main(): Promise<void> {
  await admin.connect();
  const created: string[] = [];
  const ratios: string[] = [];
  try {
    console.log(`kafka bench: brokers ${BROKERS.join(",")}, ${PARTITIONS} partitions, ${TRIALS} trials after a warm-up, Node ${process.version}`);
    if (ARMS.has("consume")) {
      const topic = `bench-consume-${randomUUID()}`;
      created.push(topic);
      const t0 = performance.now();
      await prefill(topic, M);
      console.log(`prefilled ${topic}: ${M} records of ~100 B in ${Math.round(performance.now() - t0)} ms`);
      console.log("consume");
      const results = await compare([
        { name: "eachBatch", run: () => rawEachBatch(topic) },
        { name: "listener", run: () => ourListener(topic) },
        { name: "eachMessage", run: () => rawEachMessage(topic) },
      ]);
      summary(results);
      const r1 = pairedRatio(results, "listener", "eachBatch");
      const r2 = pairedRatio(results, "listener", "eachMessage");
      console.log(`listener ÷ eachBatch per round: median ${r1.median.toFixed(3)} (min ${r1.min.toFixed(3)}, max ${r1.max.toFixed(3)})`);
      console.log(`CPU per record, listener ÷ eachBatch: ${cpuRatio(results, "listener", "eachBatch").toFixed(3)}`);
      const d = decodeCost();
      console.log(`json() decode ${d.codec.toFixed(0)} ns vs JSON.parse(buf.toString()) ${d.plain.toFixed(0)} ns per record (best of 20; in every arm)`);
      ratios.push(`ratio kafka-listener-vs-eachBatch ${r1.median.toFixed(3)}`);
      ratios.push(`ratio kafka-listener-vs-eachMessage ${r2.median.toFixed(3)}`);
    }
    if (ARMS.has("produce")) {
      console.log(`produce (${PRODUCE} records, 100 per request, ${INFLIGHT} requests in flight)`);
      const results = await compare([
        {
          name: "raw-batch",
          run: async () => {
            const t = await freshTopic("raw");
            created.push(t);
            return rawProduce(t);
          },
        },
        {
          name: "producer",
          run: async () => {
            const t = await freshTopic("ours");
            created.push(t);
            return ourProduce(t);
          },
        },
      ]);
      summary(results);
      const r = pairedRatio(results, "producer", "raw-batch");
      console.log(`producer ÷ raw per round: median ${r.median.toFixed(3)} (min ${r.min.toFixed(3)}, max ${r.max.toFixed(3)})`);
      console.log(`CPU per record, producer ÷ raw: ${cpuRatio(results, "producer", "raw-batch").toFixed(3)}`);
      ratios.push(`ratio kafka-producer-vs-raw ${r.median.toFixed(3)}`);
    }
  } finally {
    if (created.length > 0) await admin.deleteTopics({ topics: created }).catch(() => undefined);
    await admin.disconnect();
  }
  for (const line of ratios) console.log(line);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
