/**
 * `http.Listener`: resource services on `node:http` (or `node:https`), routed by find-my-way.
 *
 * @module
 */
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo, Socket } from "node:net";
import type { Duplex } from "node:stream";
import {
  AbstractListener,
  PirouetteError,
  serviceMethodNames,
  toError,
  validate,
  type AckOutcome,
  type Attachment,
  type Delivery,
  type Dispatcher,
  type HandlerContext,
  type ServiceSpec,
  type Stream,
} from "@pirouette/core";
import FindMyWay from "find-my-way";
import { Caller, type CallerBackend } from "./caller.ts";
import { getResourceSpecs } from "./decorators.ts";
import { CLIENT_CODES, HttpError } from "./errors.ts";
import { decodeBody, hasBody, parseQuery, readBody } from "./internal/body.ts";
import { sendError, sendValue, writeWhole, type Headers } from "./internal/reply.ts";
import { SseSession } from "./internal/sse-session.ts";
import type { HttpListenerOptions, HttpServiceConfig, ResourceDefinition, ResourceHandler, ResourceOptions } from "./options.ts";
import type { Request } from "./request.ts";
import { HttpResponse, type ResponseInit } from "./response.ts";

/**
 * The service shape: any methods declared as resources (decorators or a `resources` map),
 * and an optional `onError(error, request)` that hears about failed requests (everything
 * but `HttpError`s below 500 the handler threw on purpose).
 *
 * @example
 * ```ts
 * const svc: http.Service = { onError: (err, req) => log.error({ err, path: req?.path }) };
 * ```
 */
export interface HttpService {
  onError?(error: Error, request?: Request): unknown;
}

/**
 * Handles a WebSocket (or other) upgrade request. Return true to take it; the socket is then
 * yours. Used by `@pirouette/websocket` to share a listener's server.
 *
 * @example
 * ```ts
 * const handler: UpgradeHandler = (req, socket) => req.url === "/raw" && (socket.end(), true);
 * ```
 */
export type UpgradeHandler = (request: IncomingMessage, socket: Duplex, head: Buffer) => boolean;

const spec: ServiceSpec = {
  protocol: "http",
  methods: { onError: {} },
  error: (code, message) => new HttpError(code, message),
};

const DEFAULT_MAX_BODY = 1024 * 1024;
const BODY_METHODS = new Set(["POST", "PUT", "PATCH", "DELETE", "OPTIONS"]);

interface Route {
  readonly att: Attachment<object, HttpServiceConfig>;
  readonly method: string;
  /** The full pattern, e.g. `/api/orders/:id`. */
  readonly pattern: string;
  readonly handler: ResourceHandler;
  readonly options: ResourceOptions;
  readonly maxBodyBytes: number;
}

interface Exchange extends CallerBackend {
  readonly route: Route;
  readonly res: ServerResponse;
  readonly params: Record<string, string | undefined>;
  readonly query: string;
  readonly path: string;
  readonly body: Buffer | undefined;
}

interface ServiceState {
  readonly dispatcher: Dispatcher<Exchange>;
}

type Router = FindMyWay.Instance<FindMyWay.HTTPVersion.V1>;

function noop(): void {}

/**
 * Ballerina's `http:Listener`: serves the resources of the services attached to it at their
 * base paths. A resource's returned value is the response (JSON, text, bytes, an
 * {@link HttpResponse}, or a `Stream` served as server-sent events); a thrown
 * {@link HttpError} answers with its status, a payload binding failure with 400, anything
 * else with 500.
 *
 * @example
 * ```ts
 * const listener = new http.Listener(8080);
 *
 * @service(listener, "/api")
 * class Orders {
 *   @http.get("/orders/:id")
 *   get(req: http.Request<{ id: string }>) {
 *     return orders.get(req.params.id) ?? Promise.reject(new http.HttpError("NOT_FOUND", "no such order"));
 *   }
 * }
 *
 * await listener.start();
 * ```
 */
export class HttpListener extends AbstractListener<object, HttpServiceConfig> {
  protected readonly spec = spec;
  /** The underlying Node server (created at construction, listening after `start()`). */
  readonly server: Server;
  readonly #o: HttpListenerOptions;
  readonly #port: number;
  readonly #maxBody: number;
  readonly #services = new Map<object, ServiceState>();
  readonly #sessions = new Set<SseSession>();
  readonly #upgradeHandlers: UpgradeHandler[] = [];
  /** Open sockets and how many responses each has in progress. */
  readonly #sockets = new Map<Socket, number>();
  #router: Router;
  #methods = new Set<string>();
  #sweep: NodeJS.Timeout | undefined;
  readonly #heartbeatMs: number;
  readonly #stallMs: number;
  #accepting = false;

  constructor(port: number, options: HttpListenerOptions = {}) {
    super({ ...options, protocol: "http" });
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      throw new HttpError("INVALID_ARGUMENT", `port must be an integer from 0 to 65535, got ${String(port)}`);
    }
    this.#o = options;
    this.#port = port;
    this.#maxBody = options.maxBodyBytes ?? DEFAULT_MAX_BODY;
    this.#heartbeatMs = options.sse?.heartbeatIntervalMs ?? 15_000;
    this.#stallMs = options.sse?.stallTimeoutMs ?? 30_000;
    const headersTimeout = options.headersTimeoutMs ?? 10_000;
    const requestTimeout = Math.max(options.requestTimeoutMs ?? 30_000, headersTimeout);
    const serverOptions = {
      headersTimeout,
      requestTimeout,
      keepAliveTimeout: options.keepAliveTimeoutMs ?? 5_000,
      // Node checks the two timeouts every connectionsCheckingInterval (30 s by default).
      connectionsCheckingInterval: Math.max(50, Math.min(1_000, Math.floor(headersTimeout / 4))),
      ...(options.maxHeaderSize === undefined ? {} : { maxHeaderSize: options.maxHeaderSize }),
    };
    const onRequest = (req: IncomingMessage, res: ServerResponse): void => this.#onRequest(req, res);
    this.server = options.tls === undefined ? createHttpServer(serverOptions, onRequest) : createHttpsServer({ ...options.tls, ...serverOptions }, onRequest);
    this.server.timeout = 0;
    if (options.maxConnections !== undefined) this.server.maxConnections = options.maxConnections;
    this.server.on("connection", (socket: Socket) => {
      this.#sockets.set(socket, 0);
      socket.once("close", () => this.#sockets.delete(socket));
    });
    this.server.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => this.#onUpgrade(req, socket, head));
    this.server.on("error", (e: Error) => this.logger.error({ err: e }, "http server error"));
    this.#router = this.#newRouter();
  }

  /** The port listened on: the one given, or the one the OS picked for port 0 once started. */
  get port(): number {
    const a = this.server.address();
    return typeof a === "object" && a !== null ? a.port : this.#port;
  }

  /** The bound address once started. */
  get address(): AddressInfo | undefined {
    const a = this.server.address();
    return typeof a === "object" && a !== null ? a : undefined;
  }

  /** True when serving HTTPS. */
  get isSecure(): boolean {
    return this.#o.tls !== undefined;
  }

  /**
   * Take upgrade requests (WebSocket) on this listener's server. Handlers are asked in order;
   * an upgrade no handler takes is answered 404. Returns a function that removes the handler.
   *
   * @example
   * ```ts
   * const remove = listener.addUpgradeHandler((req, socket, head) => {
   *   if (req.url !== "/ws") return false;
   *   wss.handleUpgrade(req, socket, head, (ws) => wss.emit("connection", ws, req));
   *   return true;
   * });
   * ```
   */
  addUpgradeHandler(handler: UpgradeHandler): () => void {
    this.#upgradeHandlers.push(handler);
    return () => {
      const i = this.#upgradeHandlers.indexOf(handler);
      if (i >= 0) this.#upgradeHandlers.splice(i, 1);
    };
  }

  override async attach(service: object, options?: string | readonly string[] | Record<string, unknown>): Promise<void> {
    await super.attach(service, options);
    try {
      this.#rebuildRoutes();
    } catch (e) {
      await super.detach(service);
      throw e;
    }
  }

  override async detach(service: object): Promise<void> {
    await super.detach(service);
    this.#rebuildRoutes();
  }

  protected override validateConfig(config: HttpServiceConfig, name: string | readonly string[] | undefined): HttpServiceConfig {
    const fromName = typeof name === "string" ? name : name === undefined ? undefined : `/${name.join("/")}`;
    const basePath = normalizeBase(config.basePath ?? fromName ?? "/");
    if (config.maxBodyBytes !== undefined && !(config.maxBodyBytes >= 0)) {
      throw new HttpError("INVALID_ARGUMENT", "maxBodyBytes must be a non-negative number");
    }
    return { ...config, basePath };
  }

  protected async onStart(attachments: Attachment<object, HttpServiceConfig>[]): Promise<void> {
    for (const a of attachments) this.#ensureDispatcher(a);
    this.#rebuildRoutes();
    await new Promise<void>((resolve, reject) => {
      const onError = (e: Error): void => {
        this.server.off("listening", onListening);
        reject(new HttpError("LISTEN", `cannot listen on port ${this.#port}: ${e.message}`, { cause: e }));
      };
      const onListening = (): void => {
        this.server.off("error", onError);
        resolve();
      };
      this.server.once("error", onError);
      this.server.once("listening", onListening);
      this.server.listen(this.#port, this.#o.host);
    });
    this.#accepting = true;
    // One sweep for every feed: heartbeats and stalled clients (no timer per write).
    const beat = this.#heartbeatMs;
    const every = Math.max(10, Math.floor(Math.min(beat > 0 ? beat / 2 : Number.POSITIVE_INFINITY, this.#stallMs / 4)));
    this.#sweep = setInterval(() => {
      if (this.#sessions.size === 0) return;
      const now = Date.now();
      for (const s of this.#sessions) s.sweep(now);
    }, every);
    this.#sweep.unref();
  }

  protected override async onAttach(att: Attachment<object, HttpServiceConfig>): Promise<void> {
    this.#ensureDispatcher(att);
  }

  protected override async onDetach(att: Attachment<object, HttpServiceConfig>): Promise<void> {
    const state = this.#services.get(att.service);
    this.#services.delete(att.service);
    if (state !== undefined) {
      await state.dispatcher.drain(this.gracefulStopTimeoutMs);
      this.releaseDispatcher(state.dispatcher);
    }
  }

  protected stopIntake(): Promise<void> {
    this.#accepting = false;
    this.server.close(noop);
    this.server.closeIdleConnections();
    // Event feeds never finish on their own: end them (the source streams are closed).
    for (const s of [...this.#sessions]) s.stop();
    return Promise.resolve();
  }

  protected async onClose(): Promise<void> {
    this.#accepting = false;
    clearInterval(this.#sweep);
    for (const s of [...this.#sessions]) s.stop();
    if (this.server.listening) this.server.close(noop);
    this.server.closeIdleConnections();
    // Sockets without a response in progress go now; responses still being written (to slow
    // clients) get a moment; then every socket goes (upgraded ones included).
    const deadline = Date.now() + Math.min(this.gracefulStopTimeoutMs, 1_000);
    for (;;) {
      for (const [socket, active] of this.#sockets) if (active === 0) socket.destroy();
      if (this.#sockets.size === 0 || Date.now() >= deadline) break;
      await new Promise((r) => setTimeout(r, 10));
    }
    for (const socket of this.#sockets.keys()) socket.destroy();
    this.#sockets.clear();
  }

  // ---------------------------------------------------------------- routing

  #newRouter(): Router {
    return FindMyWay({
      ignoreTrailingSlash: true,
      ignoreDuplicateSlashes: true,
      maxParamLength: 1000,
      querystringParser: (s: string) => s as unknown,
    });
  }

  #rebuildRoutes(): void {
    const router = this.#newRouter();
    const methods = new Set<string>();
    for (const att of this.attachments()) {
      for (const r of this.#routesOf(att)) {
        try {
          router.on(r.method as FindMyWay.HTTPMethod, r.pattern, noop, r);
        } catch (e) {
          throw new HttpError("ROUTE", `cannot route ${r.method} ${r.pattern}: ${toError(e).message}`, { cause: e });
        }
        methods.add(r.method);
      }
    }
    this.#router = router;
    this.#methods = methods;
  }

  #routesOf(att: Attachment<object, HttpServiceConfig>): Route[] {
    const service = att.service as Record<string, unknown>;
    const base = att.config.basePath ?? "/";
    const maxBody = att.config.maxBodyBytes ?? this.#maxBody;
    const routes: Route[] = [];
    const add = (method: string, path: string, handler: ResourceHandler, options: ResourceOptions): void => {
      if (!/^[A-Z][A-Z-]*$/.test(method)) throw new HttpError("ROUTE", `invalid HTTP method "${method}"`);
      routes.push({ att, method, pattern: joinPath(base, path), handler, options, maxBodyBytes: options.maxBodyBytes ?? maxBody });
    };
    for (const name of serviceMethodNames(service)) {
      const fn = service[name];
      for (const s of getResourceSpecs(fn) ?? []) {
        add(s.method, s.path, (req, caller, ctx) => (fn as ResourceHandler).call(service, req, caller, ctx), s.options);
      }
    }
    for (const [key, value] of Object.entries(att.config.resources ?? {})) {
      const m = /^\s*([A-Za-z-]+)\s+(\S+)\s*$/.exec(key);
      if (m === null) throw new HttpError("ROUTE", `resource keys are "<METHOD> <path>", got "${key}"`);
      const def: ResourceDefinition = typeof value === "object" ? value : { handler: value };
      let handler: ResourceHandler;
      if (typeof def.handler === "string") {
        const fn = service[def.handler];
        if (typeof fn !== "function") throw new HttpError("ROUTE", `resource "${key}" names a method "${def.handler}" the service does not have`);
        handler = (req, caller, ctx) => (fn as ResourceHandler).call(service, req, caller, ctx);
      } else {
        handler = def.handler;
      }
      const { handler: _h, ...options } = def;
      add((m[1] as string).toUpperCase(), m[2] as string, handler, options);
    }
    return routes;
  }

  #ensureDispatcher(att: Attachment<object, HttpServiceConfig>): void {
    if (this.#services.has(att.service)) return;
    const concurrency = this.#o.concurrency ?? 1024;
    const dispatcher = this.createDispatcher<Exchange>({
      concurrency,
      maxInFlight: concurrency * 4,
      retry: this.#o.retry ?? false,
      onHandlerFailure: "skip",
      telemetry: { system: "http" },
      invoke: (d, ctx) => this.#invoke(d.message, ctx),
      reportError: (error, d) => {
        // A 4xx HttpError thrown on purpose is an answer, not a failure.
        if (HttpError.is(error) && error.status < 500 && !CLIENT_CODES.has(error.code)) return;
        return this.notifyError(att, error, this.#requestView(d.message, undefined, undefined, undefined));
      },
    });
    this.#services.set(att.service, { dispatcher });
  }

  // ---------------------------------------------------------------- requests

  #onRequest(req: IncomingMessage, res: ServerResponse): void {
    const socket = req.socket;
    const n = this.#sockets.get(socket);
    if (n !== undefined) {
      this.#sockets.set(socket, n + 1);
      res.once("close", () => {
        const m = this.#sockets.get(socket);
        if (m !== undefined) this.#sockets.set(socket, m - 1);
      });
    }
    const method = req.method ?? "GET";
    const url = req.url ?? "/";
    if (!this.#accepting) {
      writeWhole(res, 503, { connection: "close" }, "application/json", Buffer.from('{"error":{"code":"UNAVAILABLE","message":"the server is stopping"}}'));
      return;
    }
    let found = this.#router.find(method as FindMyWay.HTTPMethod, url);
    if (found === null && method === "HEAD") found = this.#router.find("GET", url);
    if (found === null) {
      this.#notFound(req, res, method, url);
      return;
    }
    const route = found.store as Route;
    const state = this.#services.get(route.att.service);
    if (state === undefined) {
      this.#notFound(req, res, method, url);
      return;
    }
    const qs = found.searchParams as unknown as string;
    const q = url.indexOf("?");
    const path = q < 0 ? url : url.slice(0, q);
    const submit = (body: Buffer | undefined): void => {
      const ex = this.#exchange(route, req, res, found.params, path, qs, body);
      void state.dispatcher.submit({
        message: ex,
        destination: `${route.method} ${route.pattern}`,
        coordinates: { method, path, route: route.pattern },
        headers: req.headers as Record<string, string | undefined>,
        ack: (result, outcome) => this.#answer(ex, result, outcome),
        reject: (error) => sendError(res, PirouetteError.is(error) && error.code === "CLOSED" ? new HttpError("UNAVAILABLE", "the server is stopping") : error, ex.headers),
      } satisfies Delivery<Exchange>);
    };
    if (!hasBody(req)) {
      submit(undefined);
      return;
    }
    if (!BODY_METHODS.has(method) && route.options.body === undefined) {
      // A body on GET/HEAD is read (within the limit) and ignored.
      readBody(req, route.maxBodyBytes).then(() => submit(undefined), (e: unknown) => this.#bodyFailed(res, e));
      return;
    }
    readBody(req, route.maxBodyBytes).then(submit, (e: unknown) => this.#bodyFailed(res, e));
  }

  #bodyFailed(res: ServerResponse, e: unknown): void {
    // The rest of the body is not read: close the connection once answered.
    sendError(res, e, { connection: "close" });
  }

  #notFound(req: IncomingMessage, res: ServerResponse, method: string, url: string): void {
    const allowed: string[] = [];
    for (const m of this.#methods) {
      if (m !== method && this.#router.find(m as FindMyWay.HTTPMethod, url) !== null) allowed.push(m);
    }
    if (allowed.length > 0) {
      if (allowed.includes("GET")) allowed.push("HEAD");
      sendError(res, new HttpError("METHOD_NOT_ALLOWED", `${method} is not allowed here`, { headers: { allow: allowed.join(", ") } }));
      return;
    }
    req.resume();
    sendError(res, new HttpError("NOT_FOUND", `no resource for ${method} ${url.split("?")[0] ?? url}`));
  }

  #exchange(
    route: Route,
    req: IncomingMessage,
    res: ServerResponse,
    params: Record<string, string | undefined>,
    path: string,
    query: string,
    body: Buffer | undefined,
  ): Exchange {
    const ex: Exchange = {
      route,
      raw: req,
      res,
      params,
      path,
      query,
      body,
      headers: {},
      responded: false,
      respond: (value: unknown, init: ResponseInit | undefined) => {
        ex.responded = true;
        this.#send(ex, init === undefined ? value : new HttpResponse(value, init));
      },
    };
    return ex;
  }

  async #invoke(ex: Exchange, ctx: HandlerContext): Promise<unknown> {
    const { route } = ex;
    const o = route.options;
    const coordinates = ctx.coordinates;
    let params: unknown = ex.params;
    if (o.params !== undefined) params = await validate(o.params, ex.params, coordinates);
    let query: unknown = parseQuery(ex.query);
    if (o.query !== undefined) query = await validate(o.query, query, coordinates);
    if (o.headers !== undefined) await validate(o.headers, ex.raw.headers, coordinates);
    const body = await decodeBody(ex.raw, ex.body, o.body, o.codec, route.maxBodyBytes, coordinates);
    const request = this.#requestView(ex, params, query, body);
    const caller = new Caller(ex);
    return route.handler(request, caller, ctx);
  }

  #requestView(ex: Exchange, params: unknown, query: unknown, body: unknown): Request<unknown, unknown, unknown> {
    const req = ex.raw;
    const res = ex.res;
    let controller: AbortController | undefined;
    const lastEventId = req.headers["last-event-id"];
    return {
      method: req.method ?? "GET",
      path: ex.path,
      url: req.url ?? "/",
      params: params ?? ex.params,
      query: query ?? parseQuery(ex.query),
      body,
      headers: req.headers,
      lastEventId: Array.isArray(lastEventId) ? lastEventId[0] : lastEventId,
      raw: req,
      get signal(): AbortSignal {
        if (controller === undefined) {
          controller = new AbortController();
          if (res.writableFinished || res.destroyed) {
            if (!res.writableFinished) controller.abort(new HttpError("CONNECTION", "the client went away"));
          } else {
            const c = controller;
            res.once("close", () => {
              if (!res.writableFinished) c.abort(new HttpError("CONNECTION", "the client went away"));
            });
          }
        }
        return controller.signal;
      },
    };
  }

  #answer(ex: Exchange, result: unknown, outcome: AckOutcome): void {
    if (outcome.kind !== "succeeded") {
      // Failed and skipped (the listener's policy): answer with the error.
      if (!ex.responded) sendError(ex.res, outcome.error, ex.headers);
      return;
    }
    if (ex.responded) {
      if (result !== undefined) this.logger.warn({ route: ex.route.pattern }, "the handler returned a value after caller.respond(); ignored");
      return;
    }
    this.#send(ex, result);
  }

  #send(ex: Exchange, value: unknown): void {
    try {
      sendValue(ex.res, ex.raw.method ?? "GET", value, ex.headers, (stream, status, headers) => this.#startSse(ex, stream, status, headers));
    } catch (e) {
      // The value could not be written (e.g. JSON.stringify of a BigInt).
      const err = new HttpError("INTERNAL", `the handler's result could not be written: ${toError(e).message}`, { cause: e });
      this.logger.error({ err, route: ex.route.pattern }, "writing the response failed");
      sendError(ex.res, err);
    }
  }

  #startSse(ex: Exchange, stream: Stream<unknown, unknown>, status: number, headers: Headers): void {
    if (!this.#accepting) {
      stream.close().catch(noop);
      sendError(ex.res, new HttpError("UNAVAILABLE", "the server is stopping"));
      return;
    }
    if (ex.raw.method === "HEAD") {
      // Headers only: never start a feed nobody will read.
      stream.close().catch(noop);
      ex.res.writeHead(status, { "content-type": "text/event-stream", "cache-control": "no-cache", ...headers });
      ex.res.end();
      return;
    }
    const att = ex.route.att;
    const session = new SseSession(ex.res, stream, status, headers, {
      stallTimeoutMs: this.#stallMs,
      heartbeatIntervalMs: this.#heartbeatMs,
      onStreamError: (error) => {
        void this.notifyError(att, error, this.#requestView(ex, undefined, undefined, undefined));
      },
      onStall: () => this.logger.warn({ route: ex.route.pattern }, "SSE client did not read in time; disconnected"),
      onDone: (s) => this.#sessions.delete(s),
    });
    if (!session.closed) this.#sessions.add(session);
  }

  /** Event feeds being served now. */
  get activeEventStreams(): number {
    return this.#sessions.size;
  }

  // ---------------------------------------------------------------- upgrades

  #onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on("error", noop);
    if (this.#accepting) {
      for (const h of this.#upgradeHandlers) {
        try {
          if (h(req, socket, head)) {
            // Owned by the upgrade handler: on stop, give it a moment to close the connection itself.
            if (this.#sockets.has(socket as Socket)) this.#sockets.set(socket as Socket, 1);
            return;
          }
        } catch (e) {
          this.logger.error({ err: toError(e) }, "upgrade handler threw");
          socket.destroy();
          return;
        }
      }
    }
    const status = this.#accepting ? "404 Not Found" : "503 Service Unavailable";
    socket.end(`HTTP/1.1 ${status}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
  }
}

function normalizeBase(path: string): string {
  let p = path.trim();
  if (!p.startsWith("/")) p = `/${p}`;
  while (p.length > 1 && p.endsWith("/")) p = p.slice(0, -1);
  return p;
}

function joinPath(base: string, path: string): string {
  const rel = path === "" || path === "/" ? "" : path.startsWith("/") ? path : `/${path}`;
  if (base === "/") return rel === "" ? "/" : rel;
  return base + rel;
}
