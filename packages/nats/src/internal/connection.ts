/**
 * One nats.js connection with Pirouette's policies: fail-fast (or retried) first connection,
 * capped exponential backoff with jitter for reconnects, status events turned into typed
 * errors, a fatal hook when the connection is closed for good, and error mapping.
 *
 * @internal
 * @module
 */
import { connect, errors, type NatsConnection, type NodeConnectionOptions } from "@nats-io/transport-node";
import { JetStreamApiError, JetStreamError } from "@nats-io/jetstream";
import { backoffDelay, toError, type Logger } from "@pirouette/core";
import { NatsError, type NatsErrorCode } from "../errors.ts";
import type { ConnectionConfiguration, ReconnectOptions } from "../options.ts";

/** Connection settings after defaults and validation. */
export interface ConnectionParams {
  readonly servers: string[];
  readonly name: string;
  readonly options: ConnectionConfiguration;
  readonly reconnect: Required<ReconnectOptions>;
}

function num(value: number | undefined, name: string, fallback: number, min = 0): number {
  const v = value ?? fallback;
  if (typeof v !== "number" || Number.isNaN(v) || v < min) throw new NatsError("NATS_INVALID_CONFIG", `${name} must be a number >= ${min}`);
  return v;
}

export function resolveConnectionParams(url: string | readonly string[] | undefined, o: ConnectionConfiguration): ConnectionParams {
  const list = url === undefined ? ["nats://localhost:4222"] : typeof url === "string" ? [url] : [...url];
  if (list.length === 0 || list.some((u) => typeof u !== "string" || !/^(nats|tls):\/\/|^[^:/]+(:\d+)?$/.test(u))) {
    throw new NatsError("NATS_INVALID_CONFIG", `url must be nats://host:port (or a list of them); got ${JSON.stringify(url)}`);
  }
  const r = o.reconnect ?? {};
  const maxDelayMs = num(r.maxDelayMs, "reconnect.maxDelayMs", 5000, 1);
  const reconnect: Required<ReconnectOptions> = {
    initialDelayMs: Math.min(num(r.initialDelayMs, "reconnect.initialDelayMs", 250, 1), maxDelayMs),
    maxDelayMs,
    multiplier: num(r.multiplier, "reconnect.multiplier", 2, 1),
    jitter: num(r.jitter, "reconnect.jitter", 0.2),
    maxRetries: num(r.maxRetries, "reconnect.maxRetries", Infinity),
    connectRetries: num(r.connectRetries, "reconnect.connectRetries", 0),
  };
  if (reconnect.jitter > 1) throw new NatsError("NATS_INVALID_CONFIG", "reconnect.jitter must be in 0 … 1");
  if (o.auth !== undefined && !("token" in o.auth) && !("username" in o.auth)) {
    throw new NatsError("NATS_INVALID_CONFIG", "auth must be { username, password } or { token }");
  }
  return { servers: list, name: o.connectionName ?? "pirouette", options: o, reconnect };
}

/** The shared capped, jittered exponential delay (kept here for this package's callers). */
export { backoffDelay };

function redact(url: string): string {
  return url.replace(/\/\/[^@/]*@/, "//");
}

/** Map a nats.js error to a NatsError (kept as `cause`). */
export function toNatsError(e: unknown, context: string, fallback: NatsErrorCode = "NATS_CONNECTION", coordinates?: Record<string, unknown>): NatsError {
  if (NatsError.isNatsError(e)) return e;
  const err = toError(e);
  const where = coordinates === undefined ? {} : { coordinates };
  const make = (code: NatsErrorCode, extra: { apiCode?: number; status?: number } = {}): NatsError =>
    new NatsError(code, `${context}: ${err.message}`, { cause: e, ...where, ...extra });
  if (err instanceof errors.TimeoutError) return make("NATS_TIMEOUT");
  // nats.js reports a JetStream publish nobody answered as "jetstream is not enabled".
  const inner = (err as { cause?: unknown }).cause;
  if (inner instanceof errors.NoRespondersError || (inner instanceof errors.RequestError && inner.isNoResponders())) {
    return new NatsError("NATS_NO_RESPONDERS", `${context}: no responders (for JetStream: no stream captures the subject)`, { cause: e, ...where });
  }
  if (err instanceof errors.NoRespondersError) return make("NATS_NO_RESPONDERS");
  if (err instanceof errors.RequestError) {
    if (err.isNoResponders()) return make("NATS_NO_RESPONDERS");
    const cause = (err as { cause?: unknown }).cause;
    if (cause instanceof errors.TimeoutError) return make("NATS_TIMEOUT");
    if (cause instanceof errors.NoRespondersError) return make("NATS_NO_RESPONDERS");
  }
  if (
    err instanceof errors.AuthorizationError ||
    err instanceof errors.PermissionViolationError ||
    err instanceof errors.UserAuthenticationExpiredError
  ) {
    return make("NATS_AUTHORIZATION");
  }
  if (err instanceof errors.ClosedConnectionError || err instanceof errors.DrainingConnectionError) return make("NATS_CLOSED");
  if (err instanceof errors.InvalidSubjectError) return make("NATS_INVALID_SUBJECT");
  if (err instanceof errors.InvalidArgumentError && /max_payload/.test(err.message)) return make("NATS_MAX_PAYLOAD");
  if (err instanceof JetStreamApiError) return make("NATS_JETSTREAM", { apiCode: err.code, status: err.status });
  if (err instanceof JetStreamError || err.name === "JetStreamNotEnabled") return make("NATS_JETSTREAM");
  if (err instanceof errors.ConnectionError) return make("NATS_CONNECTION");
  return make(fallback);
}

/** Hooks the owner (listener or client) installs. */
export interface ConnectionHooks {
  onDisconnect?(error: NatsError): void;
  onReconnect?(): void;
  /** An asynchronous server error (permission violation, expired credentials …). */
  onServerError?(error: NatsError): void;
  /** Closed for good (reconnect attempts exhausted, credentials refused). */
  onFatal?(error: NatsError): void;
}

/** A managed nats.js connection. */
export class Connection {
  readonly params: ConnectionParams;
  readonly #logger: Logger;
  readonly #hooks: ConnectionHooks;
  #nc: NatsConnection | undefined;
  #opening: Promise<NatsConnection> | undefined;
  #closing = false;
  #fatal: NatsError | undefined;
  #attempt = 0;
  #lastDial = -1;
  #wait = 0;
  #reconnects = 0;
  #connected = false;

  constructor(params: ConnectionParams, logger: Logger, hooks: ConnectionHooks = {}) {
    this.params = params;
    this.#logger = logger;
    this.#hooks = hooks;
  }

  get nc(): NatsConnection | undefined {
    return this.#nc;
  }
  get connected(): boolean {
    return this.#connected;
  }
  get reconnects(): number {
    return this.#reconnects;
  }
  get fatalError(): NatsError | undefined {
    return this.#fatal;
  }
  get closing(): boolean {
    return this.#closing;
  }

  /** Connect (once); rejects with a NatsError. */
  open(): Promise<NatsConnection> {
    if (this.#fatal !== undefined) return Promise.reject(this.#fatal);
    if (this.#closing) return Promise.reject(new NatsError("NATS_CLOSED", "the nats connection is closed"));
    this.#opening ??= this.#connect().catch((e: unknown) => {
      this.#opening = undefined;
      throw e;
    });
    return this.#opening;
  }

  async #connect(): Promise<NatsConnection> {
    const p = this.params;
    const o = p.options;
    const auth =
      o.auth === undefined ? {} : "token" in o.auth ? { token: o.auth.token } : { user: o.auth.username, pass: o.auth.password };
    const options: NodeConnectionOptions = {
      servers: p.servers,
      name: p.name,
      ...auth,
      ...(o.secureSocket === undefined ? {} : { tls: { ...o.secureSocket } }),
      ...(o.connectionTimeout === undefined ? {} : { timeout: o.connectionTimeout * 1000 }),
      ...(o.ping?.pingInterval === undefined ? {} : { pingInterval: o.ping.pingInterval * 1000 }),
      ...(o.ping?.maxPingsOut === undefined ? {} : { maxPingOut: o.ping.maxPingsOut }),
      ...(o.inboxPrefix === undefined ? {} : { inboxPrefix: o.inboxPrefix }),
      ...(o.noEcho === undefined ? {} : { noEcho: o.noEcho }),
      reconnect: p.reconnect.maxRetries > 0,
      maxReconnectAttempts: p.reconnect.maxRetries === Infinity ? -1 : p.reconnect.maxRetries,
      reconnectDelayHandler: () => this.#reconnectDelay(),
      waitOnFirstConnect: false,
      // nats.js captures a stack trace for every request, just in case it fails (a quarter of the
      // CPU of a request/reply round trip); V8's async stack traces already cover our awaits.
      noAsyncTraces: true,
    };
    let attempt = 0;
    for (;;) {
      try {
        const nc = await connect(options);
        if (this.#closing) {
          await nc.close();
          throw new NatsError("NATS_CLOSED", "the nats connection was closed while connecting");
        }
        this.#nc = nc;
        this.#connected = true;
        this.#monitor(nc);
        this.#logger.info({ server: nc.getServer(), name: p.name }, "nats connected");
        return nc;
      } catch (e) {
        const err = toNatsError(e, `cannot connect to ${p.servers.map(redact).join(", ")}`);
        if (err.code === "NATS_CLOSED" || err.code === "NATS_AUTHORIZATION" || attempt >= p.reconnect.connectRetries) throw err;
        attempt++;
        const delay = backoffDelay(p.reconnect, attempt);
        this.#logger.debug({ err, attempt, delayMs: delay }, "nats connect failed; retrying");
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
  }

  /**
   * nats.js asks for the wait before each dial (and again while waiting): the attempt number
   * advances only when a new dial happened, so the answer is stable within one wait.
   */
  #reconnectDelay(): number {
    const servers = this.#nc?.getServers() ?? [];
    const last = servers.reduce((m, s) => Math.max(m, s.lastConnect), 0);
    if (last !== this.#lastDial) {
      this.#lastDial = last;
      this.#attempt++;
      this.#wait = this.#attempt === 1 ? 0 : backoffDelay(this.params.reconnect, this.#attempt - 1);
    }
    return this.#wait;
  }

  #monitor(nc: NatsConnection): void {
    void (async () => {
      try {
        for await (const s of nc.status()) {
          switch (s.type) {
            case "disconnect":
              this.#connected = false;
              this.#logger.warn({ server: s.server }, "nats connection lost; reconnecting");
              this.#hooks.onDisconnect?.(new NatsError("NATS_CONNECTION", `the connection to ${redact(s.server)} was lost; reconnecting`));
              break;
            case "reconnect":
              this.#connected = true;
              this.#attempt = 0;
              this.#reconnects++;
              this.#logger.info({ server: s.server, reconnects: this.#reconnects }, "nats reconnected");
              this.#hooks.onReconnect?.();
              break;
            case "error":
              this.#logger.warn({ err: s.error }, "nats server error");
              this.#hooks.onServerError?.(toNatsError(s.error, "the nats server reported an error"));
              break;
            case "staleConnection":
              this.#logger.warn({}, "nats connection stale (pings unanswered)");
              break;
            case "ldm":
              this.#logger.warn({ server: s.server }, "nats server entering lame-duck mode");
              break;
            default:
              break;
          }
        }
      } catch (e) {
        this.#logger.debug({ err: toError(e) }, "nats status monitor ended");
      }
    })();
    void nc.closed().then((e) => {
      this.#connected = false;
      if (this.#closing) return;
      const err =
        e instanceof Error
          ? toNatsError(e, "the nats connection closed")
          : new NatsError("NATS_CONNECTION", "the nats connection closed and could not be re-established");
      this.#fatal = err;
      this.#logger.error({ err }, "nats connection closed for good");
      this.#hooks.onFatal?.(err);
    });
  }

  /** Flush what was published, then close. */
  async close(): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    const nc = this.#nc ?? (await this.#opening?.catch(() => undefined));
    if (nc === undefined || nc.isClosed()) return;
    try {
      if (this.#connected) await Promise.race([nc.flush(), new Promise((r) => setTimeout(r, 2000).unref())]);
    } catch (e) {
      this.#logger.debug({ err: toError(e) }, "nats flush before close failed");
    }
    await nc.close();
  }
}
