/**
 * `graphql.Client`: queries and mutations over HTTP POST, subscriptions over graphql-ws as
 * `Stream`s.
 *
 * @module
 */
import { PirouetteError, PushSource, Stream, toError } from "@pirouette/core";
import * as http from "@pirouette/http";
import { print, type DocumentNode, type GraphQLFormattedError, type TypedQueryDocumentNode } from "graphql";
import { createClient, type Client as WsClient, type FormattedExecutionResult } from "graphql-ws";
import { WebSocket } from "ws";
import { GraphqlError } from "./errors.ts";
import type { GraphqlClientOptions, OperationOptions, SubscribeOptions } from "./options.ts";

/**
 * Operation variables.
 *
 * @example
 * ```ts
 * const vars: graphql.Variables = { id: "7", limit: 10 };
 * ```
 */
export type Variables = Readonly<Record<string, unknown>>;

/**
 * A GraphQL document: text, a parsed `DocumentNode`, or a typed document
 * (`TypedQueryDocumentNode<TData, TVars>`, as codegen tools emit) whose result and variable
 * types the client methods take.
 *
 * @example
 * ```ts
 * const doc: graphql.Document<{ greeting: string }, { name: string }> = parse(`query($name: String!) { greeting(name: $name) }`);
 * ```
 */
export type Document<TData = Record<string, unknown>, TVars = Variables> = string | DocumentNode | TypedQueryDocumentNode<TData, TVars>;

const ACCEPT = "application/graphql-response+json, application/json;q=0.9";

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === "object" && x !== null && !Array.isArray(x);
}

function text(document: Document<unknown, unknown>): string {
  return typeof document === "string" ? document : print(document);
}

/** The error for GraphQL errors in an answer: coded by the first error's `extensions.code`. */
function fromErrors(errors: readonly GraphQLFormattedError[], extra: { readonly data?: unknown; readonly status?: number }): GraphqlError {
  const code = errors[0]?.extensions?.["code"];
  const message = errors.map((e) => e.message).join("; ");
  return new GraphqlError(typeof code === "string" && code !== "" ? code : "GRAPHQL_ERRORS", message.length > 1000 ? `${message.slice(0, 1000)}…` : message, {
    errors,
    ...(extra.data === undefined || extra.data === null ? {} : { data: extra.data }),
    ...(extra.status === undefined ? {} : { status: extra.status }),
  });
}

interface CloseLike {
  readonly code: number;
  readonly reason: string;
}

function isCloseLike(x: unknown): x is CloseLike {
  return typeof x === "object" && x !== null && typeof (x as { code?: unknown }).code === "number" && "reason" in x;
}

const CLOSE_CODES: Readonly<Record<number, string>> = {
  4400: "BAD_REQUEST",
  4401: "UNAUTHENTICATED",
  4403: "UNAUTHENTICATED",
  4406: "BAD_REQUEST",
  4408: "TIMEOUT",
  4504: "TIMEOUT",
  4500: "INTERNAL",
};

/** What graphql-ws reports (GraphQL errors, a close event, an Error) as a GraphqlError. */
function fromWsError(e: unknown): GraphqlError {
  if (Array.isArray(e)) return fromErrors(e as GraphQLFormattedError[], {});
  if (isCloseLike(e)) {
    const reason = e.reason === "" ? "" : `: ${e.reason}`;
    return new GraphqlError(CLOSE_CODES[e.code] ?? "CONNECTION", `the subscription socket closed with ${e.code}${reason}`, { closeCode: e.code });
  }
  const err = toError(e);
  const cause = (err as { cause?: unknown }).cause;
  return new GraphqlError("CONNECTION", `the subscription socket failed: ${cause instanceof Error ? cause.message : err.message}`, { cause: e });
}

/**
 * A GraphQL client (Ballerina's `graphql:Client`): `query`/`mutate` POST the operation
 * (GraphQL-over-HTTP) and resolve with its `data`, typed by the generic or the typed document;
 * an answer with errors rejects with a {@link GraphqlError} carrying them (`errors`, partial
 * `data`), coded by the first error's `extensions.code`. `subscribe` runs a subscription over
 * graphql-ws (graphql-transport-ws) and returns a `Stream` of its `data`; closing the stream
 * completes the subscription.
 *
 * @example
 * ```ts
 * const client = new graphql.Client("http://127.0.0.1:9000/graphql");
 * const { greeting } = await client.query<{ greeting: string }, { name: string }>(
 *   `query($name: String!) { greeting(name: $name) }`, { name: "Walter" });
 * for await (const { names } of client.subscribe<{ names: string }>(`subscription { names }`)) console.log(names);
 * await client.close();
 * ```
 */
export class GraphqlClient {
  /** The HTTP endpoint. */
  readonly url: string;
  /** The WebSocket endpoint for subscriptions. */
  readonly wsUrl: string;
  readonly #o: GraphqlClientOptions;
  readonly #http: http.Client;
  readonly #path: string;
  readonly #streams = new Set<(error: GraphqlError) => void>();
  #ws: WsClient | undefined;
  #closed = false;

  constructor(url: string, options: GraphqlClientOptions = {}) {
    let u: URL;
    try {
      u = new URL(url);
    } catch (e) {
      throw new GraphqlError("INVALID_ARGUMENT", `not a URL: ${url}`, { cause: e });
    }
    if (u.protocol !== "http:" && u.protocol !== "https:") throw new GraphqlError("INVALID_ARGUMENT", `the URL must be http: or https:, got ${u.protocol}`);
    this.url = u.href;
    this.#o = options;
    this.#path = `${u.pathname}${u.search}`;
    this.#http = new http.Client(u.origin, {
      ...(options.headers === undefined ? {} : { headers: options.headers }),
      ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
      ...(options.maxResponseBytes === undefined ? {} : { maxResponseBytes: options.maxResponseBytes }),
    });
    const ws = new URL(u.href);
    ws.protocol = u.protocol === "https:" ? "wss:" : "ws:";
    this.wsUrl = options.wsUrl ?? ws.href;
  }

  /**
   * Run a query; resolves with its `data`.
   *
   * @example
   * ```ts
   * const data = await client.query<{ order: { id: string } }, { id: string }>(`query($id: ID!) { order(id: $id) { id } }`, { id: "7" });
   * ```
   */
  query<TData = Record<string, unknown>, TVars extends Variables = Variables>(document: Document<TData, TVars>, variables?: TVars, options?: OperationOptions): Promise<TData> {
    return this.#operation<TData>(document, variables, options);
  }

  /**
   * Run a mutation; resolves with its `data`. The mutation fields of one document run one after
   * the other on the server.
   *
   * @example
   * ```ts
   * await client.mutate<{ addName: number }, { name: string }>(`mutation($name: String!) { addName(name: $name) }`, { name: "Hank" });
   * ```
   */
  mutate<TData = Record<string, unknown>, TVars extends Variables = Variables>(document: Document<TData, TVars>, variables?: TVars, options?: OperationOptions): Promise<TData> {
    return this.#operation<TData>(document, variables, options);
  }

  async #operation<TData>(document: Document<unknown, unknown>, variables: Variables | undefined, options: OperationOptions = {}): Promise<TData> {
    if (this.#closed) throw new GraphqlError("CLOSED", "the client is closed");
    const body = {
      query: text(document),
      ...(variables === undefined ? {} : { variables }),
      ...(options.operationName === undefined ? {} : { operationName: options.operationName }),
    };
    let res: http.ClientResponse;
    try {
      res = await this.#http.request("POST", this.#path, {
        body,
        headers: { accept: ACCEPT, ...options.headers },
        ...(options.signal === undefined ? {} : { signal: options.signal }),
        ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
      });
    } catch (e) {
      if (PirouetteError.is(e)) throw new GraphqlError(e.code, e.message, { cause: e, ...(http.HttpError.is(e) ? { status: e.status } : {}) });
      throw new GraphqlError("CONNECTION", toError(e).message, { cause: e });
    }
    const payload = res.body;
    if (!isRecord(payload) || (!("data" in payload) && !("errors" in payload))) {
      throw new GraphqlError("BAD_RESPONSE", `${this.url} answered ${res.status} without a GraphQL response`, { status: res.status });
    }
    const errors = payload["errors"];
    if (Array.isArray(errors) && errors.length > 0) throw fromErrors(errors as GraphQLFormattedError[], { data: payload["data"], status: res.status });
    if (res.status < 200 || res.status > 299) throw new GraphqlError("BAD_RESPONSE", `${this.url} answered ${res.status}`, { status: res.status });
    return payload["data"] as TData;
  }

  /**
   * Subscribe; each `next` is an element (its `data`), `complete` ends the stream, an `error`
   * message or a lost connection fails it with a {@link GraphqlError}. Closing the stream (or
   * leaving a `for await` early) completes the subscription. A `next` with `errors` fails the
   * stream, or with `{ errors: "element" }` becomes a GraphqlError element.
   *
   * @example
   * ```ts
   * const names = client.subscribe<{ names: string }>(`subscription { names }`);
   * console.log(await names.map((d) => d.names).toArray()); // ["Walter", "Skyler", "Jesse"]
   * ```
   */
  subscribe<TData = Record<string, unknown>, TVars extends Variables = Variables>(
    document: Document<TData, TVars>,
    variables?: TVars,
    options?: SubscribeOptions & { readonly errors?: "fail" },
  ): Stream<TData, GraphqlError>;
  subscribe<TData = Record<string, unknown>, TVars extends Variables = Variables>(
    document: Document<TData, TVars>,
    variables: TVars | undefined,
    options: SubscribeOptions & { readonly errors: "element" },
  ): Stream<TData | GraphqlError, GraphqlError>;
  subscribe(document: Document<unknown, unknown>, variables?: Variables, options: SubscribeOptions = {}): Stream<unknown, GraphqlError> {
    if (this.#closed) return Stream.fail(new GraphqlError("CLOSED", "the client is closed"));
    const max = Math.max(1, options.maxBufferedEvents ?? 10_000);
    const asElements = options.errors === "element";
    let finished = false;
    const stop = (): void => {
      finished = true;
      this.#streams.delete(fail);
      unsubscribe();
    };
    const source = new PushSource<unknown, GraphqlError>({ highWaterMark: max, limit: max, onClose: stop });
    const fail = (error: GraphqlError): void => {
      if (finished) return;
      stop();
      source.fail(error);
    };
    const push = (value: unknown): void => {
      if (source.buffered >= max) fail(new GraphqlError("BACKPRESSURE", `the subscription's consumer fell ${max} events behind`));
      else source.push(value);
    };
    this.#streams.add(fail);
    const unsubscribe = this.#wsClient().subscribe(
      {
        query: text(document),
        ...(variables === undefined ? {} : { variables }),
        ...(options.operationName === undefined ? {} : { operationName: options.operationName }),
      },
      {
        next: (result: FormattedExecutionResult) => {
          if (finished) return;
          if (result.errors !== undefined && result.errors.length > 0) {
            const error = fromErrors(result.errors, { data: result.data });
            if (asElements) push(error);
            else fail(error);
            return;
          }
          push(result.data);
        },
        error: (e: unknown) => fail(fromWsError(e)),
        complete: () => {
          if (finished) return;
          finished = true;
          this.#streams.delete(fail);
          source.end();
        },
      },
    );
    return source.stream;
  }

  #wsClient(): WsClient {
    const o = this.#o;
    this.#ws ??= createClient({
      url: this.wsUrl,
      webSocketImpl: WebSocket,
      lazy: true,
      retryAttempts: o.retryAttempts ?? 0,
      keepAlive: o.keepAliveMs ?? 0,
      connectionAckWaitTimeout: o.connectionAckWaitTimeoutMs ?? 10_000,
      ...(o.connectionParams === undefined ? {} : { connectionParams: o.connectionParams }),
    });
    return this.#ws;
  }

  /**
   * Fail open subscriptions with `CLOSED`, close the socket and abort requests in progress.
   *
   * @example
   * ```ts
   * await client.close();
   * ```
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const fail of [...this.#streams]) fail(new GraphqlError("CLOSED", "the client was closed"));
    await this.#http.close();
    try {
      await this.#ws?.dispose();
    } catch {
      // The socket never opened: nothing to close.
    }
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
