/**
 * Host/port/ConnectionConfiguration → amqplib connect arguments.
 * @internal
 * @module
 */
import type { Options, SocketOptions } from "amqplib";
import { RabbitMqError } from "../errors.ts";
import { DEFAULT_HOST, DEFAULT_PORT, type ConnectionConfiguration, type ReconnectOptions } from "../options.ts";

/** @internal Everything needed to open (and reopen) a connection. */
export interface ConnectionParams {
  readonly connect: Options.Connect;
  readonly socket: SocketOptions;
  readonly reconnect: Required<ReconnectOptions>;
  readonly operationTimeoutMs: number;
  /** `amqp://user@host:port/vhost`: for logs and errors, never with the password. */
  readonly display: string;
}

const DEFAULT_RECONNECT: Required<ReconnectOptions> = {
  initialDelayMs: 200,
  maxDelayMs: 5000,
  multiplier: 2,
  jitter: 0.2,
  maxRetries: Infinity,
  connectRetries: 0,
};

function positive(name: string, v: number | undefined, allowZero = false): void {
  if (v === undefined) return;
  if (typeof v !== "number" || Number.isNaN(v) || v < 0 || (!allowZero && v === 0)) {
    throw new RabbitMqError("RABBITMQ_INVALID_CONFIG", `${name} must be a ${allowZero ? "non-negative" : "positive"} number`);
  }
}

/**
 * Build connection parameters. `host` may be a URL (`amqp://user:pass@host:port/vhost` or
 * `amqps://…`); its parts are used unless the configuration overrides them.
 */
export function connectionParams(
  host: string | undefined,
  port: number | undefined,
  config: ConnectionConfiguration,
  role: string,
): ConnectionParams {
  let protocol = config.secureSocket === undefined ? "amqp" : "amqps";
  let hostname = host ?? DEFAULT_HOST;
  let urlPort: number | undefined;
  let username = config.username;
  let password = config.password;
  let vhost = config.virtualHost;
  if (hostname.includes("://")) {
    let url: URL;
    try {
      url = new URL(hostname);
    } catch (e) {
      throw new RabbitMqError("RABBITMQ_INVALID_CONFIG", "host is not a valid amqp:// URL", { cause: e });
    }
    if (url.protocol !== "amqp:" && url.protocol !== "amqps:") {
      throw new RabbitMqError("RABBITMQ_INVALID_CONFIG", `unsupported URL scheme ${url.protocol} (use amqp: or amqps:)`);
    }
    protocol = url.protocol.slice(0, -1);
    hostname = url.hostname.replace(/^\[(.*)\]$/, "$1");
    if (url.port !== "") urlPort = Number(url.port);
    if (username === undefined && url.username !== "") username = decodeURIComponent(url.username);
    if (password === undefined && url.password !== "") password = decodeURIComponent(url.password);
    if (vhost === undefined && url.pathname.length > 1) vhost = decodeURIComponent(url.pathname.slice(1));
  }
  const finalPort = port ?? urlPort ?? (protocol === "amqps" ? 5671 : DEFAULT_PORT);
  if (!Number.isInteger(finalPort) || finalPort < 1 || finalPort > 65535) {
    throw new RabbitMqError("RABBITMQ_INVALID_CONFIG", `port must be an integer in 1 … 65535 (got ${String(finalPort)})`);
  }
  positive("connectionTimeout", config.connectionTimeout);
  positive("heartbeat", config.heartbeat, true);
  positive("operationTimeoutMs", config.operationTimeoutMs);
  const r = { ...DEFAULT_RECONNECT, ...stripUndefined(config.reconnect ?? {}) };
  positive("reconnect.initialDelayMs", r.initialDelayMs, true);
  positive("reconnect.maxDelayMs", r.maxDelayMs);
  positive("reconnect.maxRetries", r.maxRetries, true);
  positive("reconnect.connectRetries", r.connectRetries, true);
  if (!(r.multiplier >= 1)) throw new RabbitMqError("RABBITMQ_INVALID_CONFIG", "reconnect.multiplier must be >= 1");
  if (!(r.jitter >= 0 && r.jitter <= 1)) throw new RabbitMqError("RABBITMQ_INVALID_CONFIG", "reconnect.jitter must be in 0 … 1");
  if (r.maxDelayMs < r.initialDelayMs) throw new RabbitMqError("RABBITMQ_INVALID_CONFIG", "reconnect.maxDelayMs must be >= initialDelayMs");

  const user = username ?? "guest";
  const connect: Options.Connect = {
    protocol,
    hostname,
    port: finalPort,
    username: user,
    password: password ?? (username === undefined ? "guest" : ""),
    // amqplib unescapes the vhost: escape it so that names with % survive.
    vhost: encodeURIComponent(vhost ?? "/"),
    ...(config.heartbeat === undefined ? {} : { heartbeat: config.heartbeat }),
    ...(config.maxFrameSize === undefined ? {} : { maxFrameSize: config.maxFrameSize }),
  };
  const socket: SocketOptions = {
    ...(config.secureSocket ?? {}),
    timeout: Math.round((config.connectionTimeout ?? 10) * 1000),
    noDelay: true,
    clientProperties: { connection_name: `${config.connectionName ?? "pirouette"} (${role})` },
  };
  const hostPart = hostname.includes(":") ? `[${hostname}]` : hostname;
  return {
    connect,
    socket,
    reconnect: r,
    operationTimeoutMs: config.operationTimeoutMs ?? 30_000,
    display: `${protocol}://${encodeURIComponent(user)}@${hostPart}:${finalPort}/${encodeURIComponent(vhost ?? "/")}`,
  };
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  const out: Partial<T> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  return out;
}

/** The delay before reconnection attempt `attempt` (1-based): capped exponential with jitter. */
export function backoffDelay(r: Required<ReconnectOptions>, attempt: number): number {
  const cappedBase = r.maxDelayMs / (1 + r.jitter);
  const base = Math.min(cappedBase, r.initialDelayMs * r.multiplier ** Math.max(0, attempt - 1));
  const spread = base * r.jitter;
  return Math.max(0, Math.round(base + (spread > 0 ? Math.random() * spread * 2 - spread : 0)));
}
