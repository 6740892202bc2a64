/**
 * Fixtures for the real-broker tests: unique names, polling, a capturing logger, a TCP proxy
 * between a client and Mosquitto that a test can cut and restore, and the mosquitto clients.
 */
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { createServer, connect as netConnect, type Server, type Socket } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { promisify } from "node:util";
import { connectAsync } from "mqtt";
import type { Logger } from "@pirouette/core";

const exec = promisify(execFile);

export const MQTT_URL = process.env["MQTT_URL"] ?? "mqtt://127.0.0.1:1883";
const broker = new URL(MQTT_URL.replace(/^tcp:/, "mqtt:"));
export const BROKER_HOST = broker.hostname;
export const BROKER_PORT = Number(broker.port || 1883);

let seq = 0;
/** A topic prefix / client id no other test run uses. */
export function unique(prefix: string): string {
  return `pirouette-test/${prefix}/${process.pid}-${Date.now().toString(36)}-${++seq}`;
}

/** A client id no other test run uses. */
export function uniqueClientId(prefix: string): string {
  return `pt-${prefix}-${process.pid}-${Date.now().toString(36)}-${++seq}`;
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

/** A logger that records everything (and prints with DEBUG_MQTT=1). */
export function captureLogger(): Logger & { readonly entries: LogEntry[]; has(level: string, fragment: string): boolean } {
  const entries: LogEntry[] = [];
  const log =
    (level: string) =>
    (objOrMsg: unknown, msg?: string): void => {
      const entry = typeof objOrMsg === "string" ? { level, obj: undefined, msg: objOrMsg } : { level, obj: objOrMsg, msg };
      entries.push(entry);
      if (process.env["DEBUG_MQTT"] === "1") console.log(level, entry.msg, entry.obj);
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

/**
 * A TCP proxy to the broker. `cut()` destroys every proxied connection (what a broker crash
 * looks like to the client); `down()` also refuses new connections until `up()`.
 */
export class TcpProxy {
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  #port = 0;
  #accepting = true;
  readonly targetHost: string;
  readonly targetPort: number;
  /** Connections accepted and proxied. */
  connections = 0;
  /** Connection attempts, refused ones included. */
  attempts = 0;

  constructor(targetHost = BROKER_HOST, targetPort = BROKER_PORT) {
    this.targetHost = targetHost;
    this.targetPort = targetPort;
    this.#server = createServer((client) => {
      this.attempts++;
      if (!this.#accepting) {
        client.destroy();
        return;
      }
      this.connections++;
      const upstream = netConnect(this.targetPort, this.targetHost);
      this.#sockets.add(client);
      this.#sockets.add(upstream);
      const drop = (): void => {
        client.destroy();
        upstream.destroy();
        this.#sockets.delete(client);
        this.#sockets.delete(upstream);
      };
      client.on("error", drop);
      upstream.on("error", drop);
      client.on("close", drop);
      upstream.on("close", drop);
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
    return `mqtt://127.0.0.1:${this.#port}`;
  }

  get port(): number {
    return this.#port;
  }

  /** Destroy every proxied connection now. */
  cut(): void {
    for (const s of this.#sockets) s.destroy();
    this.#sockets.clear();
  }

  /** Cut and refuse new connections (the broker is "down"). */
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

/** Run mosquitto_pub with the given arguments. */
export async function mosquittoPub(...args: string[]): Promise<void> {
  await exec("mosquitto_pub", ["-h", BROKER_HOST, "-p", String(BROKER_PORT), ...args], { timeout: 20_000 });
}

/** Start mosquitto_sub; `output()` is what it printed so far, `done` resolves when it exits. */
export function mosquittoSub(...args: string[]): { child: ChildProcess; output(): string; done: Promise<number | null>; ready: Promise<void> } {
  // stdbuf: mosquitto_sub block-buffers a piped stdout; its -d lines must come as they happen.
  const child = spawn("stdbuf", ["-oL", "mosquitto_sub", "-h", BROKER_HOST, "-p", String(BROKER_PORT), ...args], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  child.stdout?.on("data", (d: Buffer) => (out += d.toString("utf8")));
  child.stderr?.on("data", (d: Buffer) => (err += d.toString("utf8")));
  const done = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
  child.on("error", () => undefined);
  // mosquitto_sub -d prints "Received SUBACK" once subscribed.
  const ready = (async () => {
    const deadline = Date.now() + 10_000;
    while (!/SUBACK/.test(out + err)) {
      if (Date.now() > deadline) throw new Error(`mosquitto_sub did not subscribe: ${out}${err}`);
      await sleep(10);
    }
  })();
  ready.catch(() => undefined); // awaited only by tests that use -d
  return { child, output: () => out, done, ready };
}

/** Discard a persistent session left on the broker (connect with a clean start, disconnect). */
export async function discardSession(clientId: string, protocolVersion: 4 | 5 = 5): Promise<void> {
  const c = await connectAsync(MQTT_URL, { clientId, clean: true, protocolVersion, reconnectPeriod: 0 });
  await c.endAsync();
}

/** Remove retained messages from topics (publish an empty retained payload). */
export async function clearRetained(...topics: string[]): Promise<void> {
  const c = await connectAsync(MQTT_URL, { reconnectPeriod: 0 });
  for (const t of topics) await c.publishAsync(t, Buffer.alloc(0), { retain: true, qos: 1 });
  await c.endAsync();
}

/** JSON body of a payload. */
export function body<T = unknown>(payload: Uint8Array): T {
  return JSON.parse(Buffer.from(payload).toString("utf8")) as T;
}

export { sleep };
