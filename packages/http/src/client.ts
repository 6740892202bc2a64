/**
 * `http.Client`: requests with typed JSON responses over `fetch`, and server-sent event feeds
 * as `Stream<SseEvent>`.
 *
 * @module
 */
import { setTimeout as sleep } from "node:timers/promises";
import { json, PushSource, text, toError, validate, type Codec, type Stream } from "@pirouette/core";
import type { StandardSchemaV1 } from "@standard-schema/spec";
import { createParser } from "eventsource-parser";
import { HttpError } from "./errors.ts";
import type { EventsOptions, HttpClientOptions, QueryValue, RequestOptions } from "./options.ts";
import type { SseEvent } from "./sse.ts";

/**
 * A response as {@link HttpClient.request} resolves it: status, headers and the decoded body.
 *
 * @example
 * ```ts
 * const res: ClientResponse = await client.request("GET", "/health");
 * if (res.status === 503) retryLater(res.headers.get("retry-after"));
 * ```
 */
export interface ClientResponse<T = unknown> {
  readonly status: number;
  readonly headers: Headers;
  /** JSON (parsed), text (`text/*`), bytes (other types) or `undefined` (no body). */
  readonly body: T;
}

type Result<S extends StandardSchemaV1 | undefined, T> = S extends StandardSchemaV1 ? StandardSchemaV1.InferOutput<S> : T;

const DEFAULT_MAX_RESPONSE = 10 * 1024 * 1024;
const textCodec = text({ maxBytes: Number.POSITIVE_INFINITY });

/**
 * Ballerina's `http:Client` over the global `fetch`: `get`/`post`/`put`/`patch`/`delete`
 * encode a body (JSON for objects), decode the response by its content type (JSON safely
 * parsed, with an optional Standard Schema to type and check it) and reject with an
 * {@link HttpError} (code `HTTP_STATUS`) on a status outside 2xx. `events(path)` reads a
 * server-sent events feed as a `Stream<SseEvent>`, reconnecting with `Last-Event-ID`.
 *
 * @example
 * ```ts
 * const client = new http.Client("http://127.0.0.1:8080");
 * const order = await client.get("/api/orders/7", { schema: Order }); // typed as Order
 * await client.post("/api/orders", { sku: "tutu", quantity: 2 });
 * for await (const e of client.events("/api/prices").take(10)) console.log(e.data);
 * ```
 */
export class HttpClient {
  readonly baseUrl: string;
  readonly #o: HttpClientOptions;
  readonly #codec: Codec<unknown>;
  readonly #maxBytes: number;
  readonly #controllers = new Set<AbortController>();
  #closed = false;

  constructor(baseUrl: string, options: HttpClientOptions = {}) {
    let url: URL;
    try {
      url = new URL(baseUrl);
    } catch (e) {
      throw new HttpError("INVALID_ARGUMENT", `not a URL: ${baseUrl}`, { cause: e });
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") {
      throw new HttpError("INVALID_ARGUMENT", `the base URL must be http: or https:, got ${url.protocol}`);
    }
    this.baseUrl = url.href.endsWith("/") ? url.href.slice(0, -1) : url.href;
    this.#o = options;
    this.#maxBytes = options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE;
    this.#codec = options.codec ?? json({ maxBytes: this.#maxBytes });
  }

  /**
   * GET `path`; resolves with the decoded body.
   *
   * @example
   * ```ts
   * const orders = await client.get("/orders", { query: { status: "open" }, schema: z.array(Order) });
   * ```
   */
  get<T = unknown, S extends StandardSchemaV1 | undefined = undefined>(path: string, options?: RequestOptions<S>): Promise<Result<S, T>> {
    return this.#call("GET", path, undefined, options);
  }

  /**
   * POST `body` (objects as JSON, strings as text, bytes as octet-stream) to `path`.
   *
   * @example
   * ```ts
   * const created = await client.post("/orders", { sku: "tutu" }, { schema: Order });
   * ```
   */
  post<T = unknown, S extends StandardSchemaV1 | undefined = undefined>(path: string, body?: unknown, options?: RequestOptions<S>): Promise<Result<S, T>> {
    return this.#call("POST", path, body, options);
  }

  /**
   * PUT `body` to `path`.
   *
   * @example
   * ```ts
   * await client.put("/orders/7", order);
   * ```
   */
  put<T = unknown, S extends StandardSchemaV1 | undefined = undefined>(path: string, body?: unknown, options?: RequestOptions<S>): Promise<Result<S, T>> {
    return this.#call("PUT", path, body, options);
  }

  /**
   * PATCH `path` with `body`.
   *
   * @example
   * ```ts
   * await client.patch("/orders/7", { quantity: 3 });
   * ```
   */
  patch<T = unknown, S extends StandardSchemaV1 | undefined = undefined>(path: string, body?: unknown, options?: RequestOptions<S>): Promise<Result<S, T>> {
    return this.#call("PATCH", path, body, options);
  }

  /**
   * DELETE `path`.
   *
   * @example
   * ```ts
   * await client.delete("/orders/7");
   * ```
   */
  delete<T = unknown, S extends StandardSchemaV1 | undefined = undefined>(path: string, options?: RequestOptions<S>): Promise<Result<S, T>> {
    return this.#call("DELETE", path, undefined, options);
  }

  /**
   * Any method; resolves with status, headers and decoded body, whatever the status.
   *
   * @example
   * ```ts
   * const res = await client.request("HEAD", "/health");
   * if (res.status !== 200) alert();
   * ```
   */
  async request<T = unknown, S extends StandardSchemaV1 | undefined = undefined>(
    method: string,
    path: string,
    options: RequestOptions<S> & { readonly body?: unknown } = {},
  ): Promise<ClientResponse<Result<S, T>>> {
    const { response, body } = await this.#exchange(method.toUpperCase(), path, options.body, options);
    const value = options.schema === undefined ? body : await validate(options.schema, body, { method, path, status: response.status });
    return { status: response.status, headers: response.headers, body: value as Result<S, T> };
  }

  async #call<R>(method: string, path: string, body: unknown, options: RequestOptions<StandardSchemaV1 | undefined> = {}): Promise<R> {
    const { response, body: decoded } = await this.#exchange(method, path, body, options);
    if (response.status < 200 || response.status > 299) {
      const detail = errorMessage(decoded);
      throw new HttpError("HTTP_STATUS", `${method} ${path} answered ${response.status}${detail === undefined ? "" : `: ${detail}`}`, {
        status: response.status,
        body: decoded,
        headers: Object.fromEntries(response.headers),
        coordinates: { method, path },
      });
    }
    if (options.schema === undefined) return decoded as R;
    return (await validate(options.schema, decoded, { method, path, status: response.status })) as R;
  }

  async #exchange(
    method: string,
    path: string,
    body: unknown,
    options: RequestOptions<StandardSchemaV1 | undefined>,
  ): Promise<{ response: globalThis.Response; body: unknown }> {
    if (this.#closed) throw new HttpError("CLOSED", "the client is closed");
    const url = this.#url(path, options.query);
    const headers: Record<string, string> = { accept: "application/json, text/plain;q=0.9, */*;q=0.8", ...this.#o.headers, ...options.headers };
    let payload: string | Uint8Array | URLSearchParams | undefined;
    if (body !== undefined) {
      const has = (name: string): boolean => Object.keys(headers).some((k) => k.toLowerCase() === name);
      if (typeof body === "string") {
        payload = body;
        if (!has("content-type")) headers["content-type"] = "text/plain; charset=utf-8";
      } else if (body instanceof Uint8Array) {
        payload = body;
        if (!has("content-type")) headers["content-type"] = "application/octet-stream";
      } else if (body instanceof URLSearchParams) {
        payload = body;
      } else {
        payload = this.#codec.encode(body);
        if (!has("content-type")) headers["content-type"] = this.#codec.contentType;
      }
    }
    const controller = new AbortController();
    this.#controllers.add(controller);
    const timeoutMs = options.timeoutMs ?? this.#o.timeoutMs ?? 30_000;
    let timedOut = false;
    const timer =
      timeoutMs > 0
        ? setTimeout(() => {
            timedOut = true;
            controller.abort();
          }, timeoutMs)
        : undefined;
    const onAbort = (): void => controller.abort(options.signal?.reason);
    options.signal?.addEventListener("abort", onAbort, { once: true });
    try {
      let response: globalThis.Response;
      try {
        response = await fetch(url, { method, headers, ...(payload === undefined ? {} : { body: payload }), signal: controller.signal });
      } catch (e) {
        throw this.#failure(e, method, path, timedOut, timeoutMs);
      }
      let bytes: Uint8Array;
      try {
        bytes = await readLimited(response, this.#maxBytes);
      } catch (e) {
        if (HttpError.is(e)) throw e;
        throw this.#failure(e, method, path, timedOut, timeoutMs);
      }
      return { response, body: this.#decode(response, bytes, method, path) };
    } finally {
      clearTimeout(timer);
      options.signal?.removeEventListener("abort", onAbort);
      this.#controllers.delete(controller);
    }
  }

  #failure(e: unknown, method: string, path: string, timedOut: boolean, timeoutMs: number): HttpError {
    if (timedOut) return new HttpError("TIMEOUT", `${method} ${path}: no response within ${timeoutMs} ms`, { cause: e, coordinates: { method, path } });
    if (this.#closed) return new HttpError("CLOSED", "the client was closed", { cause: e });
    const err = toError(e);
    if (err.name === "AbortError") return new HttpError("ABORTED", `${method} ${path} was aborted`, { cause: e, coordinates: { method, path } });
    const cause = (err as { cause?: unknown }).cause;
    const detail = cause instanceof Error ? cause.message : err.message;
    return new HttpError("CONNECTION", `${method} ${this.baseUrl}${path} failed: ${detail}`, { cause: e, coordinates: { method, path } });
  }

  #decode(response: globalThis.Response, bytes: Uint8Array, method: string, path: string): unknown {
    if (bytes.length === 0) return undefined;
    const type = (response.headers.get("content-type") ?? "").split(";")[0]?.trim().toLowerCase() ?? "";
    const coordinates = { method, path, status: response.status };
    try {
      if (type === "application/json" || type.endsWith("+json")) return this.#codec.decode(bytes);
      if (type.startsWith("text/")) return textCodec.decode(bytes);
    } catch (e) {
      throw new HttpError("BAD_RESPONSE", `${method} ${path}: the response body could not be decoded: ${toError(e).message}`, { cause: e, coordinates, status: response.status });
    }
    return bytes;
  }

  #url(path: string, query: Readonly<Record<string, QueryValue>> | undefined): string {
    let url = this.baseUrl + (path.startsWith("/") ? path : `/${path}`);
    if (query !== undefined) {
      const qs = new URLSearchParams();
      for (const [k, v] of Object.entries(query)) {
        if (v === undefined) continue;
        if (Array.isArray(v)) for (const x of v as readonly (string | number | boolean)[]) qs.append(k, String(x));
        else qs.append(k, String(v));
      }
      const s = qs.toString();
      if (s.length > 0) url += (url.includes("?") ? "&" : "?") + s;
    }
    return url;
  }

  /**
   * Read a server-sent events feed. The stream reconnects after the connection drops,
   * sending the last event id as `Last-Event-ID` and waiting the server's `retry` (see
   * {@link EventsOptions}); it ends when the server ends the feed (or answers 204), and fails
   * with an {@link HttpError} on a non-200 answer, when reconnecting gives up, or (by default)
   * when the server sends `event: error`. Closing the stream closes the connection.
   *
   * @example
   * ```ts
   * const prices = client.events("/prices", { lastEventId: saved });
   * for await (const e of prices) {
   *   saved = e.id ?? saved;
   *   show(JSON.parse(e.data ?? "null"));
   * }
   * ```
   */
  events(path: string, options: EventsOptions = {}): Stream<SseEvent, HttpError> {
    const controller = new AbortController();
    this.#controllers.add(controller);
    const source = new PushSource<SseEvent, HttpError>({
      highWaterMark: options.highWaterMark ?? 1024,
      onClose: () => {
        controller.abort();
        this.#controllers.delete(controller);
      },
    });
    void this.#runEvents(path, options, source, controller.signal).catch((e: unknown) => {
      source.fail(HttpError.is(e) ? e : new HttpError("CONNECTION", `events ${path} failed: ${toError(e).message}`, { cause: e }));
    });
    return source.stream;
  }

  async #runEvents(path: string, options: EventsOptions, source: PushSource<SseEvent, HttpError>, signal: AbortSignal): Promise<void> {
    const reconnect = options.reconnect === false ? undefined : (options.reconnect ?? {});
    const maxAttempts = reconnect?.maxAttempts ?? 10;
    const failOnError = options.failOnErrorEvent !== false;
    let delayMs = reconnect?.delayMs ?? 3000;
    let lastEventId = options.lastEventId;
    let failures = 0;
    const url = this.#url(path, options.query);
    for (;;) {
      if (source.isClosed || signal.aborted) return;
      let lastError: unknown;
      let ended = false;
      let stop = false;
      try {
        const headers: Record<string, string> = {
          accept: "text/event-stream",
          "cache-control": "no-cache",
          ...this.#o.headers,
          ...options.headers,
        };
        if (lastEventId !== undefined) headers["last-event-id"] = lastEventId;
        const response = await fetch(url, { headers, signal });
        if (response.status === 204) {
          await response.body?.cancel().catch(() => undefined);
          source.end();
          return;
        }
        if (response.status !== 200) {
          const bytes = await readLimited(response, 64 * 1024).catch(() => new Uint8Array());
          const body = this.#decodeQuietly(response, bytes);
          const detail = errorMessage(body);
          source.fail(
            new HttpError("HTTP_STATUS", `events ${path} answered ${response.status}${detail === undefined ? "" : `: ${detail}`}`, {
              status: response.status,
              body,
              coordinates: { path },
            }),
          );
          return;
        }
        const type = (response.headers.get("content-type") ?? "").toLowerCase();
        if (!type.startsWith("text/event-stream")) {
          await response.body?.cancel().catch(() => undefined);
          source.fail(new HttpError("SSE_CONTENT_TYPE", `events ${path}: expected text/event-stream, got ${type || "no content type"}`, { status: response.status }));
          return;
        }
        failures = 0;
        const parser = createParser({
          maxBufferSize: options.maxEventSize ?? 1024 * 1024,
          onEvent: (m) => {
            if (stop) return;
            if (m.id !== undefined) lastEventId = m.id;
            if (m.event === "error" && failOnError) {
              stop = true;
              source.fail(new HttpError("SSE_ERROR_EVENT", m.data, { coordinates: { path, lastEventId } }));
              return;
            }
            const e: { -readonly [K in keyof SseEvent]: SseEvent[K] } = { data: m.data };
            if (m.id !== undefined) e.id = m.id;
            if (m.event !== undefined) e.event = m.event;
            source.push(e);
          },
          onRetry: (ms) => {
            delayMs = ms;
          },
          onError: (err) => {
            if (err.type === "max-buffer-size-exceeded") {
              stop = true;
              source.fail(new HttpError("RESPONSE_TOO_LARGE", `events ${path}: an event is larger than ${options.maxEventSize ?? 1024 * 1024} characters`));
            }
          },
        });
        const body = response.body;
        if (body === null) {
          ended = true;
        } else {
          const reader = body.getReader() as ReadableStreamDefaultReader<Uint8Array>;
          const decoder = new TextDecoder();
          try {
            for (;;) {
              await source.ready();
              if (source.isClosed || stop) break;
              const { value, done } = await reader.read();
              if (done) {
                ended = true;
                break;
              }
              parser.feed(decoder.decode(value, { stream: true }));
              if (stop) break;
            }
          } finally {
            await reader.cancel().catch(() => undefined);
          }
        }
      } catch (e) {
        lastError = e;
      }
      if (stop || source.isClosed || signal.aborted) return;
      if (ended && reconnect?.onEnd !== true) {
        source.end();
        return;
      }
      if (reconnect === undefined) {
        if (ended) source.end();
        else source.fail(this.#failure(lastError, "GET", path, false, 0));
        return;
      }
      if (lastError !== undefined) failures++;
      if (failures > maxAttempts) {
        source.fail(
          new HttpError("CONNECTION", `events ${path}: gave up after ${maxAttempts} failed reconnection attempts: ${toError(lastError).message}`, {
            cause: lastError,
            coordinates: { path, lastEventId },
          }),
        );
        return;
      }
      try {
        await sleep(delayMs, undefined, { signal });
      } catch {
        return;
      }
    }
  }

  #decodeQuietly(response: globalThis.Response, bytes: Uint8Array): unknown {
    try {
      return this.#decode(response, bytes, "GET", "");
    } catch {
      return undefined;
    }
  }

  /**
   * Abort every request and event feed in progress; later calls reject with code `CLOSED`.
   *
   * @example
   * ```ts
   * await client.close();
   * ```
   */
  close(): Promise<void> {
    this.#closed = true;
    for (const c of this.#controllers) c.abort();
    this.#controllers.clear();
    return Promise.resolve();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** Read a response body, refusing more than `limit` bytes. */
async function readLimited(response: globalThis.Response, limit: number): Promise<Uint8Array> {
  const len = Number(response.headers.get("content-length"));
  if (Number.isFinite(len) && len > limit) {
    await response.body?.cancel().catch(() => undefined);
    throw new HttpError("RESPONSE_TOO_LARGE", `the response body (${len} bytes) is larger than ${limit} bytes`, { status: response.status });
  }
  if (response.body === null) return new Uint8Array();
  const reader = response.body.getReader() as ReadableStreamDefaultReader<Uint8Array>;
  const parts: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel().catch(() => undefined);
      throw new HttpError("RESPONSE_TOO_LARGE", `the response body is larger than ${limit} bytes`, { status: response.status });
    }
    parts.push(value);
  }
  if (parts.length === 1) return parts[0] as Uint8Array;
  const out = new Uint8Array(size);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.byteLength;
  }
  return out;
}

function errorMessage(body: unknown): string | undefined {
  if (typeof body === "string") return body.length > 200 ? `${body.slice(0, 200)}…` : body;
  if (typeof body === "object" && body !== null) {
    const e = (body as { error?: unknown }).error;
    if (typeof e === "object" && e !== null && typeof (e as { message?: unknown }).message === "string") return (e as { message: string }).message;
    if (typeof (body as { message?: unknown }).message === "string") return (body as { message: string }).message;
  }
  return undefined;
}
