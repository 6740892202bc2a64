/**
 * Public option and configuration types of `@pirouette/http`.
 *
 * @module
 */
import type { SecureContextOptions, TlsOptions } from "node:tls";
import type { Codec, HandlerContext, ListenerOptions, RetryPolicy } from "@pirouette/core";
import type { StandardSchemaV1 } from "@standard-schema/spec";
import type { Caller } from "./caller.ts";
import type { Request } from "./request.ts";

/**
 * TLS settings: Node's `tls` server options (key, cert, ca, requestCert, …).
 *
 * @example
 * ```ts
 * new http.Listener(8443, { tls: { key: readFileSync("key.pem"), cert: readFileSync("cert.pem") } });
 * ```
 */
export type HttpTlsOptions = SecureContextOptions & TlsOptions;

/**
 * Server-sent events settings of a listener.
 *
 * @example
 * ```ts
 * new http.Listener(8080, { sse: { heartbeatIntervalMs: 10_000, stallTimeoutMs: 15_000 } });
 * ```
 */
export interface SseOptions {
  /** A comment line (`:`) is written to a feed idle for this long, so proxies keep it open. Default 15 000 ms; 0 turns heartbeats off. */
  readonly heartbeatIntervalMs?: number;
  /**
   * A client that does not take what was written (the socket buffer stays full) for this long
   * is disconnected and its source stream closed. Default 30 000 ms.
   */
  readonly stallTimeoutMs?: number;
}

/**
 * Options of `new http.Listener(port, options)`. Limits default to safe values
 * (reliability.md §3): 10 s for request headers, 30 s for the whole request, 1 MiB bodies.
 *
 * @example
 * ```ts
 * const listener = new http.Listener(8080, { host: "127.0.0.1", maxConnections: 10_000, maxBodyBytes: 64 * 1024 });
 * ```
 */
export interface HttpListenerOptions extends ListenerOptions {
  /** Interface to listen on. Default: all interfaces. */
  readonly host?: string;
  /** Serve HTTPS with these TLS options. */
  readonly tls?: HttpTlsOptions;
  /** Time allowed to receive the request headers (slowloris guard). Default 10 000 ms. */
  readonly headersTimeoutMs?: number;
  /** Time allowed to receive the whole request. Default 30 000 ms. */
  readonly requestTimeoutMs?: number;
  /** Idle keep-alive connections are closed after this long. Default 5 000 ms. */
  readonly keepAliveTimeoutMs?: number;
  /** Connections beyond this are refused. Default: no limit. */
  readonly maxConnections?: number;
  /** Largest request header block, in bytes. Default Node's (16 KiB). */
  readonly maxHeaderSize?: number;
  /** Largest request body; a bigger one is answered 413. Default 1 MiB. */
  readonly maxBodyBytes?: number;
  /** Handlers running at once per service. Default 1024. */
  readonly concurrency?: number;
  /** Failed handlers are retried per this policy before answering. Default `false` (no retries). */
  readonly retry?: RetryPolicy | false;
  /** Server-sent events settings. */
  readonly sse?: SseOptions;
}

/**
 * Schemas and limits of one resource. Each schema is any Standard Schema (zod, valibot,
 * arktype…); a failure answers 400 with the issues and goes to the service's `onError`.
 *
 * @example
 * ```ts
 * const opts: ResourceOptions = { params: z.object({ id: z.coerce.number() }), body: Order };
 * ```
 */
export interface ResourceOptions {
  /** Validates (and may transform) the path parameters. */
  readonly params?: StandardSchemaV1;
  /** Validates the query (`?a=1&b=2&b=3` → `{ a: "1", b: ["2", "3"] }`). */
  readonly query?: StandardSchemaV1;
  /** Validates the decoded body (JSON, text, form or bytes, by content type). */
  readonly body?: StandardSchemaV1;
  /** Validates the request headers (lower-case names). */
  readonly headers?: StandardSchemaV1;
  /** Codec for a JSON body. Default `json({ maxBytes: maxBodyBytes })`. */
  readonly codec?: Codec<unknown>;
  /** Largest body for this resource. Default the listener's `maxBodyBytes`. */
  readonly maxBodyBytes?: number;
}

/**
 * A resource handler: the request first, the caller second, the dispatch context third.
 *
 * @example
 * ```ts
 * const ping: ResourceHandler = (_req, caller) => ({ pong: caller.remoteAddress });
 * ```
 */
export type ResourceHandler = (
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  request: Request<any, any, any>,
  caller: Caller,
  context: HandlerContext,
) => unknown;

/**
 * A decorator-free resource: its handler (a function or the name of a service method) and options.
 *
 * @example
 * ```ts
 * const create: ResourceDefinition = { handler: "create", body: Order, maxBodyBytes: 16 * 1024 };
 * ```
 */
export interface ResourceDefinition extends ResourceOptions {
  readonly handler: ResourceHandler | string;
}

/**
 * The decorator-free resource map: `"<METHOD> <path>"` to a handler, a service method name,
 * or a {@link ResourceDefinition}. Paths use find-my-way syntax (`:param`, `*`).
 *
 * @example
 * ```ts
 * const resources: ResourceMap = {
 *   "GET /orders/:id": "getOrder",
 *   "POST /orders": { handler: (req) => create(req.body), body: Order },
 * };
 * ```
 */
export type ResourceMap = Readonly<Record<string, ResourceHandler | string | ResourceDefinition>>;

/**
 * Per-service configuration: `@http.ServiceConfig({...})` or the attach options.
 *
 * @example
 * ```ts
 * await listener.attach(service, { name: "/api", maxBodyBytes: 256 * 1024 });
 * ```
 */
export interface HttpServiceConfig {
  /** Where the service's resources live. Default: the attach name, else `/`. */
  readonly basePath?: string;
  /** Resources without decorators. */
  readonly resources?: ResourceMap;
  /** Largest request body for this service's resources. Default the listener's. */
  readonly maxBodyBytes?: number;
}

/**
 * Options of `new http.Client(baseUrl, options)`.
 *
 * @example
 * ```ts
 * const client = new http.Client("http://127.0.0.1:8080", { headers: { authorization: `Bearer ${token}` }, timeoutMs: 5000 });
 * ```
 */
export interface HttpClientOptions {
  /** Headers sent with every request. */
  readonly headers?: Readonly<Record<string, string>>;
  /** Time allowed for a request until its response body is read. Default 30 000 ms; 0 turns it off. */
  readonly timeoutMs?: number;
  /** Largest response body read. Default 10 MiB. */
  readonly maxResponseBytes?: number;
  /** Codec for JSON request and response bodies. Default `json({ maxBytes: maxResponseBytes })`. */
  readonly codec?: Codec<unknown>;
}

/**
 * A query value: repeated keys take an array; `undefined` entries are skipped.
 *
 * @example
 * ```ts
 * const query: Record<string, QueryValue> = { limit: 10, tag: ["a", "b"], cursor: undefined };
 * ```
 */
export type QueryValue = string | number | boolean | readonly (string | number | boolean)[] | undefined;

/**
 * Options of one client request.
 *
 * @example
 * ```ts
 * await client.get("/orders", { query: { status: "open", limit: 10 }, schema: z.array(Order) });
 * ```
 */
export interface RequestOptions<S extends StandardSchemaV1 | undefined = undefined> {
  readonly headers?: Readonly<Record<string, string>>;
  readonly query?: Readonly<Record<string, QueryValue>>;
  /** Validate the decoded response body; the call resolves with the schema's output type. */
  readonly schema?: S;
  readonly signal?: AbortSignal;
  /** Overrides the client's `timeoutMs`. */
  readonly timeoutMs?: number;
}

/**
 * Options of `client.events(path)`.
 *
 * @example
 * ```ts
 * client.events("/prices", { lastEventId: "41", reconnect: { maxAttempts: 5, delayMs: 500 } });
 * ```
 */
export interface EventsOptions {
  readonly headers?: Readonly<Record<string, string>>;
  readonly query?: Readonly<Record<string, QueryValue>>;
  /** Sent as `Last-Event-ID` on the first connection (resume a feed). */
  readonly lastEventId?: string;
  /**
   * Reconnect after the connection fails or drops, sending the last event id received as
   * `Last-Event-ID` and waiting `retry` (from the server) or `delayMs` first. Default on, with
   * 10 consecutive failed attempts at most and 3000 ms between them. A feed the server ends
   * cleanly ends the stream, unless `onEnd` is true (EventSource behaviour; the server then ends
   * the feed for good by answering 204).
   */
  readonly reconnect?:
    | false
    | {
        readonly maxAttempts?: number;
        readonly delayMs?: number;
        readonly onEnd?: boolean;
      };
  /** Fail the stream with an `SSE_ERROR_EVENT` error when the server sends `event: error`. Default true. */
  readonly failOnErrorEvent?: boolean;
  /** Largest single event, in characters. Default 1 MiB. */
  readonly maxEventSize?: number;
  /** Events buffered before reading pauses (backpressure to the server). Default 1024. */
  readonly highWaterMark?: number;
}
