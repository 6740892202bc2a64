/**
 * Fixtures for the real-broker tests: the broker address, unique topics created with the admin
 * client (deleted afterwards), committed offsets, kcat, a capturing logger and polling.
 */
import { execFile, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { setTimeout as sleep } from "node:timers/promises";
import { promisify } from "node:util";
import kafkajs from "kafkajs";
import { expect } from "vitest";
import type { Logger } from "@pirouette/core";

const exec = promisify(execFile);

export const BROKERS = process.env["KAFKA_BROKERS"] ?? "127.0.0.1:9092";
export const REPO = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");

let seq = 0;
/** A topic or group name no other test run uses. */
export function unique(prefix: string): string {
  return `test-${prefix}-${process.pid}-${Date.now().toString(36)}-${++seq}`;
}

const kafka = new kafkajs.Kafka({ brokers: BROKERS.split(","), clientId: "pirouette-tests", logLevel: kafkajs.logLevel.NOTHING });
let adminP: Promise<kafkajs.Admin> | undefined;

export function admin(): Promise<kafkajs.Admin> {
  adminP ??= (async () => {
    const a = kafka.admin();
    await a.connect();
    return a;
  })();
  return adminP;
}

const created = new Set<string>();

/** Create a topic with `partitions` partitions (and remember it for `cleanup`). */
export async function createTopic(partitions = 1, prefix = "t"): Promise<string> {
  const topic = unique(prefix);
  const a = await admin();
  await a.createTopics({ topics: [{ topic, numPartitions: partitions }], waitForLeaders: true });
  created.add(topic);
  created.add(`${topic}.DLT`);
  return topic;
}

/** Delete the topics the tests created; disconnect the admin client. */
export async function cleanup(): Promise<void> {
  if (adminP === undefined) return;
  const a = await adminP;
  adminP = undefined;
  const existing = new Set(await a.listTopics());
  const topics = [...created].filter((t) => existing.has(t));
  created.clear();
  if (topics.length > 0) await a.deleteTopics({ topics }).catch(() => undefined);
  await a.disconnect();
}

/** The committed offsets of a group for a topic, by partition (-1: none). */
export async function committed(groupId: string, topic: string): Promise<Record<number, number>> {
  const a = await admin();
  const res = await a.fetchOffsets({ groupId, topics: [topic] });
  const out: Record<number, number> = {};
  for (const p of res[0]?.partitions ?? []) out[p.partition] = Number(p.offset);
  return out;
}

/** The end offset (high watermark) of each partition. */
export async function endOffsets(topic: string): Promise<Record<number, number>> {
  const a = await admin();
  const out: Record<number, number> = {};
  for (const p of await a.fetchTopicOffsets(topic)) out[p.partition] = Number(p.high);
  return out;
}

/** The group committed every non-empty partition's end offset. */
export async function expectCommittedAtEnd(groupId: string, topic: string): Promise<void> {
  const end = await endOffsets(topic);
  const got = await committed(groupId, topic);
  for (const [p, e] of Object.entries(end)) expect([p, e === 0 ? -1 : e]).toEqual([p, got[Number(p)]]);
}

/** Produce raw values with kafkajs (the reference client), keyed `k<i % keys>` when `keys` > 0. */
export async function produceRaw(
  topic: string,
  values: readonly (string | Buffer | null)[],
  options: { keys?: number; partition?: number; headers?: Record<string, string> } = {},
): Promise<void> {
  const p = kafka.producer({ createPartitioner: kafkajs.Partitioners.DefaultPartitioner });
  await p.connect();
  try {
    for (let i = 0; i < values.length; i += 500) {
      await p.send({
        topic,
        messages: values.slice(i, i + 500).map((value, j) => ({
          value,
          ...(options.keys ? { key: `k${(i + j) % options.keys}` } : {}),
          ...(options.partition === undefined ? {} : { partition: options.partition }),
          ...(options.headers === undefined ? {} : { headers: options.headers }),
        })),
      });
    }
  } finally {
    await p.disconnect();
  }
}

/** Read a whole topic (from the beginning, read_uncommitted unless told) with kcat as JSON envelopes. */
export async function kcatRead(topic: string, count: number, extra: string[] = []): Promise<KcatRecord[]> {
  const { stdout } = await exec(
    "kcat",
    ["-b", BROKERS, "-C", "-t", topic, "-o", "beginning", "-c", String(count), "-e", "-q", "-J", "-m", "15", ...extra],
    { timeout: 30_000 },
  );
  return stdout
    .split("\n")
    .filter((l) => l.trim().length > 0)
    .map((l) => JSON.parse(l) as KcatRecord);
}

export interface KcatRecord {
  topic: string;
  partition: number;
  offset: number;
  key: string | null;
  payload: string | null;
  headers?: string[];
}

/** Produce lines with kcat (`key<TAB>value`), with headers. */
export async function kcatProduce(topic: string, lines: readonly string[], headers: Record<string, string> = {}): Promise<void> {
  const args = ["-b", BROKERS, "-P", "-t", topic, "-K", "\t"];
  for (const [k, v] of Object.entries(headers)) args.push("-H", `${k}=${v}`);
  await new Promise<void>((resolve, reject) => {
    const child = spawn("kcat", args, { stdio: ["pipe", "ignore", "pipe"] });
    let err = "";
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    child.on("error", reject);
    child.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`kcat exited ${code}: ${err}`))));
    child.stdin.end(lines.join("\n") + "\n");
  });
}

/** The broker's pid (for SIGSTOP/SIGCONT fault injection). */
export function brokerPid(): number {
  return Number(readFileSync(join(REPO, ".services", "kafka.pid"), "utf8").trim());
}

/** Poll until `condition` holds. */
export async function waitFor(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(25);
  }
}

export interface LogEntry {
  readonly level: string;
  readonly obj: unknown;
  readonly msg: string | undefined;
}

/** A logger that records everything (and prints with DEBUG_KAFKA=1). */
export function captureLogger(): Logger & { readonly entries: LogEntry[]; count(msg: string): number } {
  const entries: LogEntry[] = [];
  const log =
    (level: string) =>
    (objOrMsg: unknown, msg?: string): void => {
      const entry = typeof objOrMsg === "string" ? { level, obj: undefined, msg: objOrMsg } : { level, obj: objOrMsg, msg };
      entries.push(entry);
      if (process.env["DEBUG_KAFKA"] === "1") console.log(level, entry.msg, JSON.stringify(entry.obj)?.slice(0, 400));
    };
  const logger = {
    entries,
    trace: log("trace"),
    debug: log("debug"),
    info: log("info"),
    warn: log("warn"),
    error: log("error"),
    child: () => logger,
    count: (msg: string) => entries.filter((e) => e.msg === msg).length,
  };
  return logger;
}

/** Fast group settings for tests (the broker allows sessions from 1 s). */
export const FAST = {
  sessionTimeoutMs: 6000,
  heartbeatIntervalMs: 500,
  rebalanceTimeoutMs: 10_000,
  maxWaitTimeMs: 100,
  offsetReset: "earliest",
  driverRetry: { retries: 8, initialRetryTimeMs: 100, maxRetryTimeMs: 2000 },
} as const;

export { sleep };
