/**
 * `graphql.Listener`: GraphQL services over HTTP (POST/GET) and graphql-transport-ws on one
 * port, owned or shared with an `http.Listener`.
 *
 * @module
 */
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { AbstractListener, toError, type Attachment, type ServiceSpec } from "@pirouette/core";
import * as http from "@pirouette/http";
import { bytes } from "@pirouette/core";
import type { GraphQLSchema } from "graphql";
import { GraphqlError } from "./errors.ts";
import { handleHttp, type HttpHost } from "./internal/http-transport.ts";
import { resolveLimits, ServiceRuntime, type RuntimeHost } from "./internal/runtime.ts";
import { WsTransport, type WsHost } from "./internal/ws-transport.ts";
import type { Context, GraphqlLimits, GraphqlListenerOptions, GraphqlServiceConfig } from "./options.ts";

/**
 * The service shape: resolver methods (decorated, named in a resolver map, or named like the
 * SDL's root fields) and an optional `onError(error, context)` that hears about every
 * unexpected error a resolver threw (clients get "Internal server error").
 *
 * @example
 * ```ts
 * const svc: graphql.Service = { onError: (err, ctx) => log.error({ err, op: ctx?.operationName }) };
 * ```
 */
export interface GraphqlService {
  onError?(error: Error, context?: Context): unknown;
}

const spec: ServiceSpec = {
  protocol: "graphql",
  methods: { onError: {} },
  error: (code, message) => new GraphqlError(code, message),
};

const LIMIT_KEYS: readonly (keyof GraphqlLimits)[] = [
  "maxDepth",
  "maxComplexity",
  "maxTokens",
  "maxBodyBytes",
  "maxMessageBytes",
  "maxSubscriptionsPerSocket",
  "connectionInitWaitTimeoutMs",
  "keepAliveMs",
];

interface Mounted {
  readonly rt: ServiceRuntime;
  readonly ws: WsTransport;
  /** Our resource service on the HTTP listener. */
  readonly httpService: object;
}

const RAW = bytes();

function normalizePath(p: string): string {
  let s = p.trim();
  if (!s.startsWith("/")) s = `/${s}`;
  while (s.length > 1 && s.endsWith("/")) s = s.slice(0, -1);
  return s;
}

function checkLimits(limits: GraphqlLimits, where: string): void {
  for (const k of LIMIT_KEYS) {
    const v = limits[k];
    if (v !== undefined && !(typeof v === "number" && v >= 0)) throw new GraphqlError("INVALID_ARGUMENT", `${where}: ${k} must be a number >= 0`);
  }
}

/**
 * Ballerina's `graphql:Listener`: serves the attached services' schemas at their paths, over
 * HTTP (POST `{ query, variables, operationName }`, and GET for queries) and over
 * graphql-transport-ws (graphql-ws) on the same port. Query fields resolve concurrently, the
 * mutation fields of an operation run one after the other, and subscription fields stream the
 * `Stream` their method returns: each element is a `next`, an `Error` element a `next` with
 * `errors` (the subscription continues), the end a `complete`; a method that throws sends
 * `error`; the stream is closed when the client completes or goes away. Unexpected errors reach
 * clients as "Internal server error" (the original goes to `onError`). `gracefulStop` refuses new
 * operations, lets running ones finish, completes every subscription (closing its stream) and
 * then closes the sockets.
 *
 * @example
 * ```ts
 * const listener = new graphql.Listener(9000);
 *
 * @service(listener, "/graphql")
 * class Names {
 *   @graphql.query("String!", { args: { name: "String!" } })
 *   greeting({ name }: { name: string }) { return `Hello, ${name}`; }
 *
 *   @graphql.subscription("String!")
 *   names(): Stream<string> { return Stream.from(["Walter", "Skyler", "Jesse"]); }
 * }
 *
 * await listener.start();
 * ```
 */
export class GraphqlListener extends AbstractListener<object, GraphqlServiceConfig> {
  protected readonly spec = spec;
  readonly #o: GraphqlListenerOptions;
  readonly #http: http.Listener;
  readonly #ownsHttp: boolean;
  readonly #built = new Map<object, ServiceRuntime>();
  readonly #mounted = new Map<object, Mounted>();
  readonly #byPath = new Map<string, Mounted>();
  readonly #stop = new AbortController();
  readonly #host: RuntimeHost & HttpHost & WsHost;
  #removeUpgrade: (() => void) | undefined;
  #accepting = false;
  #immediate = false;
  #inflight = 0;
  #idleWaiters: (() => void)[] = [];

  constructor(portOrListener: number | http.Listener, options: GraphqlListenerOptions = {}) {
    super({ ...options, protocol: "graphql" });
    checkLimits(options, "graphql.Listener");
    this.#o = options;
    if (typeof portOrListener === "number") {
      this.#ownsHttp = true;
      this.#http = new http.Listener(portOrListener, {
        ...(options.host === undefined ? {} : { host: options.host }),
        ...(options.tls === undefined ? {} : { tls: options.tls }),
        ...(options.headersTimeoutMs === undefined ? {} : { headersTimeoutMs: options.headersTimeoutMs }),
        ...(options.requestTimeoutMs === undefined ? {} : { requestTimeoutMs: options.requestTimeoutMs }),
        ...(options.maxConnections === undefined ? {} : { maxConnections: options.maxConnections }),
        ...(options.maxBodyBytes === undefined ? {} : { maxBodyBytes: options.maxBodyBytes }),
        ...(options.logger === undefined ? {} : { logger: options.logger }),
        gracefulStopTimeoutMs: Math.min(this.gracefulStopTimeoutMs, 5_000),
      });
    } else {
      this.#ownsHttp = false;
      this.#http = portOrListener;
    }
    this.#host = {
      logger: this.logger,
      accepting: () => this.#accepting,
      stopSignal: this.#stop.signal,
      run: <T>(fn: () => Promise<T>) => this.#run(fn),
      notify: (att, error, context) => void this.notifyError(att, error, context),
    };
  }

  /** The HTTP listener whose server carries the requests and sockets. */
  get httpListener(): http.Listener {
    return this.#http;
  }

  /** The port listened on (the OS-picked one for port 0, once started). */
  get port(): number {
    return this.#http.port;
  }

  /** Subscriptions being served now, across services. */
  get activeSubscriptions(): number {
    let n = 0;
    for (const m of this.#mounted.values()) n += m.rt.sources.size;
    return n;
  }

  /** Open graphql-transport-ws sockets, across services. */
  get socketCount(): number {
    let n = 0;
    for (const m of this.#mounted.values()) n += m.ws.socketCount;
    return n;
  }

  /**
   * The executable schema of an attached service (the derived one for decorated classes).
   *
   * @example
   * ```ts
   * console.log(printSchema(listener.schemaOf(names)!));
   * ```
   */
  schemaOf(service: object): GraphQLSchema | undefined {
    return this.#built.get(service)?.schema;
  }

  override attach(service: object, options?: string | readonly string[] | Record<string, unknown>): Promise<void> {
    const attached = super.attach(service, options);
    const att = this.attachments().find((a) => a.service === service);
    if (att === undefined) return attached;
    // Build the schema now (an invalid one fails attach, and a @service's start()), in this tick.
    try {
      this.#runtimeOf(att);
    } catch (e) {
      attached.catch(() => undefined);
      super.detach(service).catch((err: unknown) => this.logger.warn({ err: toError(err) }, "detaching a refused service failed"));
      return Promise.reject(toError(e));
    }
    return attached;
  }

  override async detach(service: object): Promise<void> {
    await super.detach(service);
    this.#built.delete(service);
  }

  override async immediateStop(): Promise<void> {
    this.#immediate = true;
    await super.immediateStop();
  }

  protected override validateConfig(config: GraphqlServiceConfig, name: string | readonly string[] | undefined): GraphqlServiceConfig {
    const fromName = typeof name === "string" ? name : name === undefined ? undefined : `/${name.join("/")}`;
    const path = normalizePath(config.path ?? fromName ?? "/graphql");
    for (const att of this.attachments()) {
      if (att.config.path === path) throw new GraphqlError("INVALID_ARGUMENT", `another GraphQL service is attached at ${path}`);
    }
    if (config.schema !== undefined && typeof config.schema !== "string") throw new GraphqlError("INVALID_ARGUMENT", "`schema` must be SDL text");
    if (config.auth !== undefined && typeof config.auth !== "function") throw new GraphqlError("INVALID_ARGUMENT", "`auth` must be a function");
    checkLimits(config, `the service at ${path}`);
    return { ...config, path };
  }

  protected async onStart(attachments: Attachment<object, GraphqlServiceConfig>[]): Promise<void> {
    for (const a of attachments) await this.#mount(a);
    this.#removeUpgrade = this.#http.addUpgradeHandler((req, socket, head) => this.#onUpgrade(req, socket, head));
    this.#accepting = true;
    if (this.#ownsHttp) await this.#http.start();
  }

  protected override async onAttach(att: Attachment<object, GraphqlServiceConfig>): Promise<void> {
    await this.#mount(att);
  }

  protected override async onDetach(att: Attachment<object, GraphqlServiceConfig>): Promise<void> {
    const m = this.#mounted.get(att.service);
    if (m === undefined) return;
    this.#mounted.delete(att.service);
    this.#byPath.delete(m.rt.path);
    await this.#completeSubscriptions([m]);
    await m.ws.close(false, Math.min(this.gracefulStopTimeoutMs, 2_000));
    await this.#http.detach(m.httpService);
  }

  protected stopIntake(): Promise<void> {
    // New sockets are refused with 503 (the upgrade handler stays until onClose).
    this.#accepting = false;
    // Subscriptions never finish on their own: complete them (their source streams are closed).
    for (const m of this.#mounted.values()) m.rt.endSubscriptions();
    return Promise.resolve();
  }

  protected async onClose(): Promise<void> {
    this.#accepting = false;
    const all = [...this.#mounted.values()];
    if (this.#immediate) {
      this.#stop.abort(new GraphqlError("UNAVAILABLE", "the listener stopped"));
    } else if (!(await this.#waitIdle(this.gracefulStopTimeoutMs))) {
      this.logger.warn({ timeoutMs: this.gracefulStopTimeoutMs }, "graceful stop timed out; aborting operations");
      this.#stop.abort(new GraphqlError("TIMEOUT", "graceful stop timed out"));
    }
    if (this.#immediate) for (const m of all) m.rt.endSubscriptions();
    else await this.#completeSubscriptions(all);
    this.#removeUpgrade?.();
    this.#removeUpgrade = undefined;
    await Promise.all(all.map((m) => m.ws.close(this.#immediate, Math.min(this.gracefulStopTimeoutMs, 2_000)).catch((e: unknown) => this.logger.warn({ err: toError(e) }, "closing sockets failed"))));
    if (this.#ownsHttp) {
      if (this.#immediate) await this.#http.immediateStop();
      else await this.#http.gracefulStop();
    } else {
      for (const m of all) await this.#http.detach(m.httpService).catch((e: unknown) => this.logger.warn({ err: toError(e) }, "detaching from the HTTP listener failed"));
    }
    this.#mounted.clear();
    this.#byPath.clear();
  }

  // ---------------------------------------------------------------- services

  #runtimeOf(att: Attachment<object, GraphqlServiceConfig>): ServiceRuntime {
    let rt = this.#built.get(att.service);
    if (rt === undefined) {
      rt = new ServiceRuntime(att, att.config.path ?? "/graphql", resolveLimits(att.config, this.#o), this.#host);
      this.#built.set(att.service, rt);
    }
    return rt;
  }

  async #mount(att: Attachment<object, GraphqlServiceConfig>): Promise<void> {
    if (this.#mounted.has(att.service)) return;
    const rt = this.#runtimeOf(att);
    const httpService = {
      onError: (e: Error) => this.logger.error({ err: e, path: rt.path }, "graphql http transport error"),
    };
    const handler = (req: http.Request): Promise<http.Response> => handleHttp(rt, this.#host, req);
    const maxBody = rt.limits.maxBodyBytes;
    await this.#http.attach(httpService, {
      basePath: rt.path,
      resources: {
        "POST /": { handler, codec: RAW, ...(maxBody === undefined ? {} : { maxBodyBytes: maxBody }) },
        "GET /": handler,
      },
    });
    const m: Mounted = { rt, ws: new WsTransport(rt, this.#host), httpService };
    this.#mounted.set(att.service, m);
    this.#byPath.set(rt.path, m);
  }

  /** End the services' subscriptions and give the `complete` messages a moment to go out before the sockets close. */
  async #completeSubscriptions(mounted: readonly Mounted[]): Promise<void> {
    for (const m of mounted) m.rt.endSubscriptions();
    const deadline = Date.now() + Math.min(this.gracefulStopTimeoutMs, 2_000);
    while (mounted.some((m) => m.ws.activeSubscriptions > 0) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  }

  #onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean {
    const url = req.url ?? "/";
    const q = url.indexOf("?");
    const m = this.#byPath.get(normalizePath(q < 0 ? url : url.slice(0, q)));
    if (m === undefined) return false;
    if (!this.#accepting) {
      socket.end("HTTP/1.1 503 Service Unavailable\r\nconnection: close\r\ncontent-length: 0\r\n\r\n");
      return true;
    }
    m.ws.handleUpgrade(req, socket, head);
    return true;
  }

  // ---------------------------------------------------------------- in-flight operations

  async #run<T>(fn: () => Promise<T>): Promise<T> {
    this.#inflight++;
    try {
      return await fn();
    } finally {
      if (--this.#inflight === 0) for (const w of this.#idleWaiters.splice(0)) w();
    }
  }

  #waitIdle(ms: number): Promise<boolean> {
    if (this.#inflight === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), ms);
      this.#idleWaiters.push(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }
}
