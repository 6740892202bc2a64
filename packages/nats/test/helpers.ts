/**
 * Fixtures for the real-server tests: unique names, polling, a capturing logger, a TCP proxy to
 * the NATS server that a test can cut, a raw NATS protocol peer over socat, and JetStream
 * stream cleanup.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createServer, connect as netConnect, type Server, type Socket } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { connect } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import type { Logger } from "@pirouette/core";

export const NATS_URL = process.env["NATS_URL"] ?? "nats://127.0.0.1:4222";
const server = new URL(NATS_URL);
export const NATS_HOST = server.hostname;
export const NATS_PORT = Number(server.port || 4222);

let seq = 0;
const run = `${process.pid}_${Date.now().toString(36)}`;
/** A subject prefix no other test run uses. */
export function unique(prefix: string): string {
  return `pirouette_test.${prefix}.${run}_${++seq}`;
}
/** A stream or durable name no other test run uses. */
export function uniqueName(prefix: string): string {
  return `PT_${prefix}_${run}_${++seq}`.toUpperCase();
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

/** A logger that records everything (and prints with DEBUG_NATS=1). */
export function captureLogger(): Logger & { readonly entries: LogEntry[]; has(level: string, fragment: string): boolean } {
  const entries: LogEntry[] = [];
  const log =
    (level: string) =>
    (objOrMsg: unknown, msg?: string): void => {
      const entry = typeof objOrMsg === "string" ? { level, obj: undefined, msg: objOrMsg } : { level, obj: objOrMsg, msg };
      entries.push(entry);
      if (process.env["DEBUG_NATS"] === "1") console.log(level, entry.msg, entry.obj);
    };
  const logger = {
    entries,
    trace: log("trace"),
    debug: log("debug"),
    info: log("info"),
    warn: log("warn"),
    error: log("error"),
    child: () => logger,
    has: (level: string, fragment: string) => entries.some((e) => e.level === level && (e.msg ?? "").includes(fragment)),
  };
  return logger;
}

/** A TCP proxy to the NATS server: `cut()` kills every proxied connection, `down()` refuses new ones until `up()`. */
export class TcpProxy {
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  #port = 0;
  #accepting = true;
  attempts = 0;

  constructor() {
    this.#server = createServer((client) => {
      this.attempts++;
      if (!this.#accepting) {
        client.destroy();
        return;
      }
      const upstream = netConnect(NATS_PORT, NATS_HOST);
      this.#sockets.add(client);
      this.#sockets.add(upstream);
      const drop = (): void => {
        client.destroy();
        upstream.destroy();
        this.#sockets.delete(client);
        this.#sockets.delete(upstream);
      };
      for (const s of [client, upstream]) {
        s.on("error", drop);
        s.on("close", drop);
      }
      client.pipe(upstream);
      upstream.pipe(client);
    });
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.#server.listen(0, "127.0.0.1", resolve));
    this.#port = (this.#server.address() as { port: number }).port;
    return this;
  }

  get url(): string {
    return `nats://127.0.0.1:${this.#port}`;
  }

  cut(): void {
    for (const s of this.#sockets) s.destroy();
    this.#sockets.clear();
  }

  down(): void {
    this.#accepting = false;
    this.cut();
  }

  up(): void {
    this.#accepting = true;
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}

/**
 * A peer speaking the NATS text protocol through socat (no NATS library involved): write
 * protocol lines, read what the server sends.
 */
export class RawPeer {
  readonly child: ChildProcess;
  #out = "";

  constructor() {
    this.child = spawn("socat", ["-", `TCP:${NATS_HOST}:${NATS_PORT}`], { stdio: ["pipe", "pipe", "pipe"] });
    this.child.stdout?.on("data", (d: Buffer) => (this.#out += d.toString("utf8")));
    this.child.on("error", () => undefined);
    this.child.stdin?.on("error", () => undefined);
  }

  /** What the server sent so far. */
  get output(): string {
    return this.#out;
  }

  send(text: string): void {
    this.child.stdin?.write(text);
  }

  /** Wait for the server's INFO, then CONNECT (no echo of our own messages, no +OK). */
  async handshake(): Promise<void> {
    await waitFor(() => this.#out.startsWith("INFO "), "the server's INFO line");
    this.send('CONNECT {"verbose":false,"pedantic":false,"lang":"socat","version":"0","protocol":1,"echo":false}\r\nPING\r\n');
    await waitFor(() => this.#out.includes("PONG\r\n"), "PONG");
  }

  /** Wait until the output contains a MSG frame on `subject`, and return its payload. */
  async message(subject: string, timeoutMs = 10_000): Promise<string> {
    const re = new RegExp(`MSG ${subject.replace(/\./g, "\\.")} \\d+(?: \\S+)? (\\d+)\\r\\n`);
    let payload: string | undefined;
    await waitFor(
      () => {
        const m = re.exec(this.#out);
        if (m === null) return false;
        const start = m.index + m[0].length;
        const len = Number(m[1]);
        if (this.#out.length < start + len) return false;
        payload = this.#out.slice(start, start + len);
        return true;
      },
      `a MSG on ${subject}`,
      timeoutMs,
    );
    return payload as string;
  }

  close(): void {
    this.child.stdin?.end();
    this.child.kill();
  }
}

/** JetStream streams a test created, deleted afterwards. */
export class Streams {
  readonly names = new Set<string>();

  add(name: string): string {
    this.names.add(name);
    return name;
  }

  async cleanup(): Promise<void> {
    if (this.names.size === 0) return;
    const nc = await connect({ servers: NATS_URL });
    try {
      const jsm = await jetstreamManager(nc);
      for (const n of this.names) await jsm.streams.delete(n).catch(() => undefined);
    } finally {
      this.names.clear();
      await nc.close();
    }
  }
}

/** JSON body of a message. */
export function body<T = unknown>(content: Uint8Array): T {
  return JSON.parse(Buffer.from(content).toString("utf8")) as T;
}

export { sleep };
