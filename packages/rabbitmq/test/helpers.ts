/**
 * Fixtures for the real-broker tests: unique names, a cleanup registry, rabbitmqctl, a
 * capturing logger and polling.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "@pirouette/core";
import * as rabbitmq from "../src/index.ts";

const exec = promisify(execFile);

export const RABBITMQ_URL = process.env["RABBITMQ_URL"] ?? "amqp://guest:guest@127.0.0.1:5672";

let seq = 0;
/** A name no other test run uses. */
export function unique(prefix: string): string {
  return `pirouette-test.${prefix}.${process.pid}.${Date.now().toString(36)}.${++seq}`;
}

/** Run rabbitmqctl (the broker's admin tool). */
export async function rabbitmqctl(...args: string[]): Promise<string> {
  const { stdout } = await exec("rabbitmqctl", args, { timeout: 60_000 });
  return stdout;
}

/** `rabbitmqctl list_queues name <field>` for one queue. */
export async function queueField(queue: string, field: string): Promise<number> {
  const out = await rabbitmqctl("list_queues", "-q", "--no-table-headers", "name", field);
  for (const line of out.split("\n")) {
    const [name, value] = line.trim().split(/\s+/);
    if (name === queue) return Number(value);
  }
  throw new Error(`queue ${queue} not listed`);
}

/** Poll until `condition` holds. */
export async function waitFor(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(20);
  }
}

export interface LogEntry {
  readonly level: string;
  readonly obj: unknown;
  readonly msg: string | undefined;
}

/** A logger that records everything (and prints with DEBUG_RABBITMQ=1). */
export function captureLogger(): Logger & { readonly entries: LogEntry[]; count(msg: string): number } {
  const entries: LogEntry[] = [];
  const log =
    (level: string) =>
    (objOrMsg: unknown, msg?: string): void => {
      const entry = typeof objOrMsg === "string" ? { level, obj: undefined, msg: objOrMsg } : { level, obj: objOrMsg, msg };
      entries.push(entry);
      if (process.env["DEBUG_RABBITMQ"] === "1") console.log(level, entry.msg, entry.obj);
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

/**
 * Queues and exchanges a test created, deleted by `cleanup()` (through a fresh client, so
 * that it works whatever state the test left its own clients in).
 */
export class Topology {
  readonly queues = new Set<string>();
  readonly exchanges = new Set<string>();

  queue(name: string): string {
    this.queues.add(name);
    return name;
  }

  /** A queue name plus its default dead-letter exchange and queue. */
  serviceQueue(name: string): string {
    this.queues.add(name);
    this.queues.add(`${name}.dlq`);
    this.exchanges.add(`${name}.dlx`);
    return name;
  }

  exchange(name: string): string {
    this.exchanges.add(name);
    return name;
  }

  async cleanup(): Promise<void> {
    const client = new rabbitmq.Client(RABBITMQ_URL);
    try {
      for (const q of this.queues) await client.queueDelete(q).catch(() => undefined);
      for (const e of this.exchanges) await client.exchangeDelete(e).catch(() => undefined);
    } finally {
      await client.close();
      this.queues.clear();
      this.exchanges.clear();
    }
  }
}

/** JSON body of a message. */
export function body<T = unknown>(msg: { content: Uint8Array }): T {
  return JSON.parse(Buffer.from(msg.content).toString("utf8")) as T;
}

export { sleep };
