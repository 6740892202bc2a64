/**
 * `websocket.Listener`: WebSocket services on ws, on their own port or sharing an
 * `http.Listener`'s server.
 *
 * @module
 */
import type { IncomingMessage } from "node:http";
import { STATUS_CODES } from "node:http";
import type { Duplex } from "node:stream";
import type { TLSSocket } from "node:tls";
import {
  AbstractListener,
  bind,
  getPayloadSchema,
  getServiceConfig,
  json,
  PirouetteError,
  serviceMethodNames,
  silentLogger,
  toError,
  validate,
  validateService,
  type Attachment,
  type Codec,
  type Delivery,
  type Dispatcher,
  type HandlerContext,
  type ServiceSpec,
} from "@pirouette/core";
import * as http from "@pirouette/http";
import type { StandardSchemaV1 } from "@standard-schema/spec";
import { WebSocketServer, type WebSocket } from "ws";
import { Caller } from "./caller.ts";
import type { CloseFrame } from "./close-frame.ts";
import { WebSocketError } from "./errors.ts";
import { Connection } from "./internal/connection.ts";
import { asBytes, routedMethodName } from "./internal/encode.ts";
import type { UpgradeRequest, UpgradeService, WebSocketListenerOptions, WebSocketService, WebSocketServiceConfig } from "./options.ts";

const CONNECTION_METHODS = ["onOpen", "onTextMessage", "onBinaryMessage", "onMessage", "onPing", "onPong", "onIdleTimeout", "onClose", "onError"] as const;

function specFor(names: readonly string[], withUpgrade: boolean): ServiceSpec {
  const methods: Record<string, object> = {};
  for (const n of names) methods[n] = {};
  if (withUpgrade) methods["onUpgrade"] = {};
  return { protocol: "websocket", methods, error: (code, message) => new WebSocketError(code, message) };
}

const SPEC = specFor(CONNECTION_METHODS, true);
const CONNECTION_SPEC = specFor(CONNECTION_METHODS, false);

/** An open spec: the known methods plus the service's own `on*` methods (dispatcherKey routing targets). */
function openSpec(service: object, withUpgrade: boolean): ServiceSpec {
  const own = serviceMethodNames(service).filter((n) => /^on[A-Z]/.test(n));
  return specFor([...new Set([...CONNECTION_METHODS, ...own])], withUpgrade);
}

type Kind = "open" | "message" | "idle" | "close";

interface Inbound {
  readonly conn: Connection;
  readonly caller: Caller;
  readonly kind: Kind;
  readonly data?: Buffer;
  readonly binary?: boolean;
  readonly frame?: CloseFrame;
}

interface ResolvedConfig {
  readonly path: string;
  readonly subProtocols: readonly string[];
  readonly idleTimeoutMs: number;
  readonly maxFrameSize: number;
  readonly auth: ((request: UpgradeRequest) => unknown) | undefined;
  readonly dispatcherKey: string | undefined;
  readonly codec: Codec<unknown>;
  readonly maxQueuedMessages: number;
}

interface Route {
  readonly att: Attachment<object, WebSocketServiceConfig>;
  readonly config: ResolvedConfig;
  readonly wss: WebSocketServer;
  readonly dispatcher: Dispatcher<Inbound>;
  readonly connections: Set<Connection>;
}

const DEFAULT_MAX_FRAME = 1024 * 1024;

function isBindingError(e: unknown): boolean {
  return PirouetteError.is(e) && (e.code === "PAYLOAD_BINDING" || e.code === "PAYLOAD_VALIDATION");
}

function normalizePath(p: string): string {
  let s = p.trim();
  if (!s.startsWith("/")) s = `/${s}`;
  while (s.length > 1 && s.endsWith("/")) s = s.slice(0, -1);
  return s;
}

function timeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new WebSocketError("TIMEOUT", `${what} did not finish within ${ms} ms`, { status: 503 })), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

/**
 * Ballerina's `websocket:Listener`: upgrades requests on the attached services' paths and
 * calls the per-connection service's methods. Messages of one connection are handled in
 * order (a streamed reply does not hold the next message back, and control frames are never
 * queued behind handlers); connections are handled in parallel. Oversize messages close the
 * connection with 1009, clients that do not read are closed with 1008, binding failures with
 * 1003, and half-open connections are found by a ping sweep.
 *
 * @example
 * ```ts
 * const ws = new websocket.Listener(9090);
 * await ws.attach({ onTextMessage: (text: string) => `echo: ${text}` }, "/echo");
 * await ws.start();
 *
 * // or share an HTTP listener's port:
 * const api = new http.Listener(8080);
 * const chat = new websocket.Listener(api);
 * await serve(api, chat);
 * ```
 */
export class WebSocketListener extends AbstractListener<object, WebSocketServiceConfig> {
  readonly #o: WebSocketListenerOptions;
  readonly #http: http.Listener;
  readonly #ownsHttp: boolean;
  readonly #routes = new Map<string, Route>();
  readonly #byService = new Map<object, Route>();
  #pendingSpec: ServiceSpec | undefined;
  #removeUpgrade: (() => void) | undefined;
  #sweep: NodeJS.Timeout | undefined;
  #immediate = false;
  #accepting = false;

  constructor(portOrListener: number | http.Listener, options: WebSocketListenerOptions = {}) {
    super({ ...options, protocol: "websocket" });
    this.#o = options;
    if (typeof portOrListener === "number") {
      this.#ownsHttp = true;
      this.#http = new http.Listener(portOrListener, {
        ...(options.host === undefined ? {} : { host: options.host }),
        ...(options.tls === undefined ? {} : { tls: options.tls }),
        ...(options.headersTimeoutMs === undefined ? {} : { headersTimeoutMs: options.headersTimeoutMs }),
        ...(options.maxConnections === undefined ? {} : { maxConnections: options.maxConnections }),
        ...(options.logger === undefined ? {} : { logger: options.logger }),
        gracefulStopTimeoutMs: Math.min(this.gracefulStopTimeoutMs, 5_000),
      });
    } else {
      this.#ownsHttp = false;
      this.#http = portOrListener;
    }
  }

  protected get spec(): ServiceSpec {
    return this.#pendingSpec ?? SPEC;
  }

  /** The HTTP listener whose server carries the connections. */
  get httpListener(): http.Listener {
    return this.#http;
  }

  /** The port listened on (the OS-picked one for port 0, once started). */
  get port(): number {
    return this.#http.port;
  }

  /** Open connections, across services. */
  get connectionCount(): number {
    let n = 0;
    for (const r of this.#routes.values()) n += r.connections.size;
    return n;
  }

  override attach(service: object, options?: string | readonly string[] | Record<string, unknown>): Promise<void> {
    const decorated = getServiceConfig<WebSocketServiceConfig>(service);
    const key = (typeof options === "object" && options !== null && !Array.isArray(options) ? (options as WebSocketServiceConfig).dispatcherKey : undefined) ?? decorated?.dispatcherKey;
    this.#pendingSpec = key === undefined ? undefined : openSpec(service, true);
    try {
      return super.attach(service, options);
    } finally {
      this.#pendingSpec = undefined;
    }
  }

  protected override validateConfig(config: WebSocketServiceConfig, name: string | readonly string[] | undefined): WebSocketServiceConfig {
    const fromName = typeof name === "string" ? name : name === undefined ? undefined : `/${name.join("/")}`;
    const path = normalizePath(config.path ?? fromName ?? "/");
    for (const r of this.#routes.values()) {
      if (r.config.path === path) throw new WebSocketError("INVALID_ARGUMENT", `another service is attached at ${path}`);
    }
    for (const att of this.attachments()) {
      if (att.config.path === path) throw new WebSocketError("INVALID_ARGUMENT", `another service is attached at ${path}`);
    }
    if (config.idleTimeoutMs !== undefined && !(config.idleTimeoutMs >= 0)) {
      throw new WebSocketError("INVALID_ARGUMENT", "idleTimeoutMs must be >= 0");
    }
    return { ...config, path };
  }

  protected async onStart(attachments: Attachment<object, WebSocketServiceConfig>[]): Promise<void> {
    for (const a of attachments) this.#addRoute(a);
    this.#removeUpgrade = this.#http.addUpgradeHandler((req, socket, head) => this.#onUpgrade(req, socket, head));
    if (this.#ownsHttp) {
      await this.#http.attach(
        {},
        {
          resources: {
            "GET /*": () => new http.Response({ error: { code: "UPGRADE_REQUIRED", message: "this endpoint speaks WebSocket" } }, { status: 426, headers: { upgrade: "websocket" } }),
          },
        },
      );
      await this.#http.start();
    }
    this.#accepting = true;
    const every = this.#o.pingIntervalMs ?? 30_000;
    if (every > 0) {
      this.#sweep = setInterval(() => this.#livenessSweep(), every);
      this.#sweep.unref();
    }
  }

  protected override async onAttach(att: Attachment<object, WebSocketServiceConfig>): Promise<void> {
    this.#addRoute(att);
  }

  protected override async onDetach(att: Attachment<object, WebSocketServiceConfig>): Promise<void> {
    const route = this.#byService.get(att.service);
    if (route === undefined) return;
    this.#routes.delete(route.config.path);
    this.#byService.delete(att.service);
    await Promise.all([...route.connections].map((c) => c.close(1001, "service detached").catch(() => undefined)));
    await route.dispatcher.drain(this.gracefulStopTimeoutMs);
    this.releaseDispatcher(route.dispatcher);
  }

  protected stopIntake(): Promise<void> {
    this.#accepting = false;
    this.#removeUpgrade?.();
    this.#removeUpgrade = undefined;
    // No new messages: in-flight ones finish, then connections are closed.
    for (const r of this.#routes.values()) for (const c of r.connections) c.pause();
    return Promise.resolve();
  }

  override async immediateStop(): Promise<void> {
    this.#immediate = true;
    await super.immediateStop();
  }

  protected async onClose(): Promise<void> {
    this.#accepting = false;
    this.#removeUpgrade?.();
    clearInterval(this.#sweep);
    const all: Connection[] = [];
    for (const r of this.#routes.values()) all.push(...r.connections);
    if (this.#immediate) {
      for (const c of all) c.terminate();
    } else {
      await Promise.all(all.map((c) => c.close(1001, "going away").catch(() => c.terminate())));
    }
    await Promise.all(all.map((c) => c.closed));
    for (const r of this.#routes.values()) r.wss.close();
    if (this.#ownsHttp) {
      if (this.#immediate) await this.#http.immediateStop();
      else await this.#http.gracefulStop();
    }
  }

  // ---------------------------------------------------------------- routes

  #resolve(att: Attachment<object, WebSocketServiceConfig>): ResolvedConfig {
    const c = att.config;
    const maxFrameSize = c.maxFrameSize ?? this.#o.maxFrameSize ?? DEFAULT_MAX_FRAME;
    return {
      path: c.path ?? "/",
      subProtocols: c.subProtocols ?? [],
      idleTimeoutMs: c.idleTimeoutMs ?? 0,
      maxFrameSize,
      auth: c.auth,
      dispatcherKey: c.dispatcherKey,
      codec: c.codec ?? json({ maxBytes: maxFrameSize }),
      maxQueuedMessages: Math.max(1, c.maxQueuedMessages ?? 64),
    };
  }

  #addRoute(att: Attachment<object, WebSocketServiceConfig>): void {
    if (this.#byService.has(att.service)) return;
    const config = this.#resolve(att);
    const wss = new WebSocketServer({
      noServer: true,
      clientTracking: false,
      autoPong: false,
      maxPayload: config.maxFrameSize,
      perMessageDeflate: this.#o.perMessageDeflate ?? false,
      handleProtocols: (offered: Set<string>) => {
        for (const p of config.subProtocols) if (offered.has(p)) return p;
        return false;
      },
    });
    wss.on("error", (e: Error) => this.logger.error({ err: e }, "websocket server error"));
    const concurrency = this.#o.concurrency ?? 256;
    const dispatcher = this.createDispatcher<Inbound>({
      concurrency,
      maxInFlight: Math.max(concurrency, this.#o.maxInFlight ?? 8192),
      retry: this.#o.retry ?? false,
      onHandlerFailure: "skip",
      telemetry: { system: "websocket" },
      invoke: (d, ctx) => this.#invoke(route, d.message, ctx),
      reportError: (error, d) => this.#reportFailure(route, error, d.message),
    });
    const route: Route = { att, config, wss, dispatcher, connections: new Set() };
    this.#routes.set(config.path, route);
    this.#byService.set(att.service, route);
  }

  // ---------------------------------------------------------------- upgrades

  #onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean {
    const url = req.url ?? "/";
    const q = url.indexOf("?");
    const path = normalizePath(q < 0 ? url : url.slice(0, q));
    const route = this.#routes.get(path);
    if (route === undefined) return false;
    void this.#accept(route, req, socket, head, path, q < 0 ? "" : url.slice(q + 1));
    return true;
  }

  async #accept(route: Route, req: IncomingMessage, socket: Duplex, head: Buffer, path: string, qs: string): Promise<void> {
    const onSocketError = (): void => undefined;
    socket.on("error", onSocketError);
    const offered = String(req.headers["sec-websocket-protocol"] ?? "")
      .split(",")
      .map((s) => s.trim())
      .filter((s) => s.length > 0);
    const request: UpgradeRequest = {
      path,
      query: new URLSearchParams(qs),
      headers: req.headers,
      subProtocols: offered,
      remoteAddress: req.socket.remoteAddress,
      raw: req,
    };
    let service: WebSocketService;
    try {
      if (!this.#accepting) throw new WebSocketError("UPGRADE_REFUSED", "the server is stopping", { status: 503 });
      service = await timeout(this.#upgradeService(route, request), this.#o.upgradeTimeoutMs ?? 10_000, "the upgrade");
    } catch (e) {
      const err = toError(e);
      const known = WebSocketError.is(err) || http.HttpError.is(err);
      const status = known ? (err as { status: number }).status || 403 : 500;
      if (!known) this.logger.error({ err, path }, "onUpgrade/auth failed");
      refuse(socket, status, known ? err.message : "internal server error");
      return;
    }
    if (socket.destroyed || !this.#accepting || !this.#routes.has(path)) {
      socket.destroy();
      return;
    }
    socket.off("error", onSocketError);
    try {
      route.wss.handleUpgrade(req, socket, head, (ws) => this.#onConnection(route, service, ws, req));
    } catch (e) {
      this.logger.error({ err: toError(e), path }, "websocket handshake failed");
      socket.destroy();
    }
  }

  async #upgradeService(route: Route, request: UpgradeRequest): Promise<WebSocketService> {
    const { auth } = route.config;
    if (auth !== undefined) {
      const ok: unknown = await auth(request);
      if (ok === false) throw new WebSocketError("UPGRADE_REFUSED", "not authorized", { status: 401 });
    }
    const attached = route.att.service;
    if (typeof (attached as Partial<UpgradeService>).onUpgrade !== "function") return attached;
    const returned = await (attached as UpgradeService).onUpgrade(request);
    if (returned === undefined || returned === attached) return attached;
    validateService(returned, route.config.dispatcherKey === undefined ? CONNECTION_SPEC : openSpec(returned, false));
    return returned;
  }

  // ---------------------------------------------------------------- connections

  #onConnection(route: Route, service: WebSocketService, ws: WebSocket, req: IncomingMessage): void {
    const conn: Connection = new Connection(ws, service, {
      codec: route.config.codec,
      highWaterMark: 64 * 1024,
      maxBufferedBytes: this.#o.maxBufferedBytes ?? 1024 * 1024,
      sendTimeoutMs: this.#o.sendTimeoutMs ?? 30_000,
      closeTimeoutMs: this.#o.closeTimeoutMs ?? 5_000,
      secure: (req.socket as Partial<TLSSocket>).encrypted === true,
      remoteAddress: req.socket.remoteAddress,
      report: (error) => void this.#notify(route, conn, error, caller),
    }, route.config.path);
    const caller: Caller = new Caller(conn);
    route.connections.add(conn);
    const { idleTimeoutMs } = route.config;
    if (idleTimeoutMs > 0) {
      conn.idleTimer = setTimeout(() => this.#onIdle(route, conn, caller), idleTimeoutMs);
      conn.idleTimer.unref();
    }
    ws.on("error", (e: Error) => void this.#notify(route, conn, wrapSocketError(e), caller));
    ws.on("message", (data: Buffer, isBinary: boolean) => {
      conn.alive = true;
      conn.idleTimer?.refresh();
      this.#submit(route, conn, { conn, caller, kind: "message", data, binary: isBinary }, true);
    });
    ws.on("ping", (data: Buffer) => {
      conn.alive = true;
      if (typeof service.onPing === "function") this.#direct(route, conn, caller, () => service.onPing?.(asBytes(data), caller));
      else if (conn.isOpen) ws.pong(data);
    });
    ws.on("pong", (data: Buffer) => {
      conn.alive = true;
      if (typeof service.onPong === "function") this.#direct(route, conn, caller, () => service.onPong?.(asBytes(data), caller));
    });
    ws.on("close", (code: number, reason: Buffer) => {
      const frame = conn.onClosed(code, reason.toString("utf8"));
      route.connections.delete(conn);
      this.#submit(route, conn, { conn, caller, kind: "close", frame }, false);
    });
    this.#submit(route, conn, { conn, caller, kind: "open" }, false);
  }

  /**
   * Queue a message (or lifecycle event) for the connection's ordered dispatch. Reading stops
   * while `maxQueuedMessages` are unsettled (resuming at half), and while the service's
   * dispatcher is saturated. `counts` is false for lifecycle events, which never pause reads.
   */
  #submit(route: Route, conn: Connection, msg: Inbound, counts: boolean): void {
    if (counts) {
      conn.queued++;
      if (!conn.queuePaused && conn.queued >= route.config.maxQueuedMessages && !conn.isClosed) {
        conn.queuePaused = true;
        conn.pause();
      }
    }
    const ready = route.dispatcher.submit(new InboundDelivery(this.#lateClose, route, msg, counts));
    if (route.dispatcher.saturated && !conn.isClosed) {
      conn.pause();
      void ready.then(() => conn.resume());
    }
  }

  /** onClose for a connection that closed while the listener was stopping (its delivery was rejected). */
  readonly #lateClose = (route: Route, msg: Inbound): void => {
    const conn = msg.conn;
    this.#direct(route, conn, msg.caller, () => conn.service.onClose?.(msg.frame as CloseFrame, msg.caller, detachedContext(conn)));
  };

  #onIdle(route: Route, conn: Connection, caller: Caller): void {
    if (conn.isClosed) return;
    const ms = route.config.idleTimeoutMs;
    if (conn.queued > 0 || conn.pausedByUs) {
      // Busy on our side: not the client's idleness.
      conn.idleTimer?.refresh();
      return;
    }
    if (typeof conn.service.onIdleTimeout === "function") {
      this.#submit(route, conn, { conn, caller, kind: "idle" }, false);
      conn.idleTimer = setTimeout(() => this.#onIdle(route, conn, caller), ms);
      conn.idleTimer.unref();
      return;
    }
    conn.close(1001, "idle timeout").catch(() => conn.terminate());
  }

  #livenessSweep(): void {
    for (const r of this.#routes.values()) {
      for (const c of r.connections) {
        if (c.isClosed) continue;
        if (!c.alive && !c.pausedByUs) {
          this.logger.warn({ connectionId: c.id, path: r.config.path }, "no pong since the last ping; terminating");
          c.terminate();
          continue;
        }
        c.alive = false;
        if (c.isOpen) c.ws.ping();
      }
    }
  }

  // ---------------------------------------------------------------- dispatch

  /** Returns the handler's result (a value or a promise): no async frame on the common paths. */
  #invoke(route: Route, m: Inbound, ctx: HandlerContext): unknown {
    const svc = m.conn.service;
    switch (m.kind) {
      case "message":
        return this.#onMessage(route, m, ctx);
      case "open":
        return svc.onOpen?.(m.caller, ctx);
      case "idle":
        return svc.onIdleTimeout?.(m.caller, ctx);
      case "close":
        return svc.onClose?.(m.frame as CloseFrame, m.caller, ctx);
    }
  }

  #schemaFor(route: Route, svc: object, method: string): StandardSchemaV1 | undefined {
    return getPayloadSchema(svc, method) ?? route.att.payloadSchema(method);
  }

  #onMessage(route: Route, m: Inbound, ctx: HandlerContext): unknown {
    const svc = m.conn.service as Record<string, unknown> & WebSocketService;
    const data = m.data as Buffer;
    if (!m.binary) {
      if (route.config.dispatcherKey !== undefined) return this.#route(route, svc, m, ctx);
      if (typeof svc.onTextMessage === "function") return svc.onTextMessage(data.toString("utf8"), m.caller, ctx);
    } else if (typeof svc.onBinaryMessage === "function") {
      return svc.onBinaryMessage(asBytes(data), m.caller, ctx);
    }
    if (typeof svc.onMessage === "function") return this.#call(route, svc, "onMessage", data, m, ctx, false);
    return undefined;
  }

  /** dispatcherKey routing of a text message. */
  async #route(route: Route, svc: Record<string, unknown> & WebSocketService, m: Inbound, ctx: HandlerContext): Promise<unknown> {
    const data = m.data as Buffer;
    const { codec, dispatcherKey } = route.config;
    let value: unknown;
    let decoded = false;
    try {
      value = await bind(data, { codec, coordinates: ctx.coordinates });
      decoded = true;
    } catch (e) {
      if (typeof svc.onTextMessage !== "function") throw e;
    }
    if (decoded) {
      const keyValue = typeof value === "object" && value !== null ? (value as Record<string, unknown>)[dispatcherKey as string] : undefined;
      const method = typeof keyValue === "string" ? routedMethodName(keyValue) : undefined;
      if (method !== undefined && typeof svc[method] === "function") return this.#call(route, svc, method, value, m, ctx, true);
      if (typeof svc.onMessage === "function") return this.#call(route, svc, "onMessage", value, m, ctx, true);
    }
    if (typeof svc.onTextMessage === "function") return svc.onTextMessage(data.toString("utf8"), m.caller, ctx);
    return undefined;
  }

  /** Bind (decode unless already decoded, then validate) and call `method`; binding failures go to `on<Method>Error` if there is one. */
  async #call(
    route: Route,
    svc: Record<string, unknown>,
    method: string,
    input: unknown,
    m: Inbound,
    ctx: HandlerContext,
    decoded: boolean,
  ): Promise<unknown> {
    const schema = this.#schemaFor(route, svc, method);
    let payload: unknown;
    try {
      if (decoded) payload = schema === undefined ? input : await validate(schema, input, ctx.coordinates);
      else payload = await bind(input as Buffer, { codec: route.config.codec, coordinates: ctx.coordinates, ...(schema === undefined ? {} : { schema }) });
    } catch (e) {
      const handler = svc[`${method}Error`];
      if (isBindingError(e) && typeof handler === "function") return (handler as (...a: unknown[]) => unknown).call(svc, e, m.caller, ctx);
      throw e;
    }
    return (svc[method] as (...a: unknown[]) => unknown).call(svc, payload, m.caller, ctx);
  }

  async #reportFailure(route: Route, error: Error, m: Inbound): Promise<void> {
    await this.#notify(route, m.conn, error, m.caller);
    if (isBindingError(error) && m.conn.isOpen) {
      // Ballerina closes the connection with 1003 (unsupported data) after a binding failure.
      m.conn.close(1003, "payload binding failed").catch(() => m.conn.terminate());
    }
  }

  /** Call a service method outside the per-connection queue (control frames, late onClose). */
  #direct(route: Route, conn: Connection, caller: Caller, fn: () => unknown): void {
    try {
      const r = fn();
      if (r instanceof Promise) r.catch((e: unknown) => void this.#notify(route, conn, toError(e), caller));
    } catch (e) {
      void this.#notify(route, conn, toError(e), caller);
    }
  }

  /** The connection service's `onError`, else the attached service's, else the logger. */
  async #notify(route: Route, conn: Connection, error: Error, caller: Caller): Promise<void> {
    const svc = conn.service;
    if (typeof svc.onError === "function") {
      try {
        await svc.onError(error, caller);
      } catch (e) {
        this.logger.error({ err: toError(e), original: error }, "onError threw");
      }
      return;
    }
    await this.notifyError(route.att, error, caller);
  }
}

/** One queued message or lifecycle event: settling it replies and releases flow control. */
class InboundDelivery implements Delivery<Inbound> {
  readonly message: Inbound;
  readonly key: string;
  readonly destination: string;
  readonly coordinates: Readonly<Record<string, unknown>>;
  readonly headers = undefined;
  readonly #route: Route;
  readonly #counts: boolean;
  readonly #lateClose: (route: Route, msg: Inbound) => void;

  constructor(lateClose: (route: Route, msg: Inbound) => void, route: Route, msg: Inbound, counts: boolean) {
    this.message = msg;
    this.key = msg.conn.id;
    this.destination = route.config.path;
    this.coordinates = msg.conn.coordinates;
    this.#route = route;
    this.#counts = counts;
    this.#lateClose = lateClose;
  }

  ack(result: unknown): void {
    this.#settle();
    if (this.message.kind !== "close") this.message.conn.reply(result);
  }

  reject(): void {
    this.#settle();
    // Stopping: the connection is about to close; still tell the service it closed.
    if (this.message.kind === "close") this.#lateClose(this.#route, this.message);
  }

  #settle(): void {
    if (!this.#counts) return;
    const conn = this.message.conn;
    conn.queued--;
    if (conn.queuePaused && conn.queued <= this.#route.config.maxQueuedMessages >> 1) {
      conn.queuePaused = false;
      conn.resume();
    }
  }
}

function detachedContext(conn: Connection): HandlerContext {
  const controller = new AbortController();
  controller.abort();
  return { signal: controller.signal, attempt: 1, logger: silentLogger, coordinates: { connectionId: conn.id } };
}

function wrapSocketError(e: Error): WebSocketError {
  const code = (e as { code?: unknown }).code;
  if (code === "WS_ERR_UNSUPPORTED_MESSAGE_LENGTH") {
    return new WebSocketError("MESSAGE_TOO_LARGE", `${e.message}; the connection was closed with 1009`, { cause: e, closeCode: 1009 });
  }
  if (typeof code === "string" && code.startsWith("WS_ERR_")) {
    const closeCode = code === "WS_ERR_INVALID_UTF8" ? 1007 : 1002;
    return new WebSocketError("PROTOCOL", `${e.message}; the connection was closed with ${closeCode}`, { cause: e, closeCode });
  }
  return new WebSocketError("CONNECTION", e.message, { cause: e });
}

function refuse(socket: Duplex, status: number, message: string): void {
  if (socket.destroyed) return;
  const s = status >= 400 && status <= 599 ? status : 403;
  const body = JSON.stringify({ error: { code: "UPGRADE_REFUSED", message } });
  socket.end(
    `HTTP/1.1 ${s} ${STATUS_CODES[s] ?? "Error"}\r\nconnection: close\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}
