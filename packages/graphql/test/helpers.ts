import * as graphql from "@pirouette/graphql";
import { createClient, type Client, type FormattedExecutionResult } from "graphql-ws";
import { WebSocket, type ClientOptions, type RawData } from "ws";

/** A started listener on 127.0.0.1:0 with the services attached, stopped by `await using`. */
export async function startGraphql(
  services: readonly [object, string | Record<string, unknown>][],
  options: graphql.GraphqlListenerOptions = {},
): Promise<graphql.Listener & AsyncDisposable & { url: (path?: string) => string; wsUrl: (path?: string) => string }> {
  const l = new graphql.Listener(0, { host: "127.0.0.1", gracefulStopTimeoutMs: 3000, ...options });
  for (const [svc, opts] of services) await l.attach(svc, opts);
  await l.start();
  return Object.assign(l, {
    url: (path = "/graphql") => `http://127.0.0.1:${l.port}${path}`,
    wsUrl: (path = "/graphql") => `ws://127.0.0.1:${l.port}${path}`,
  });
}

/** A raw GraphQL-over-HTTP POST with fetch (a peer we did not write). */
export async function post(
  url: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; type: string; json: { data?: unknown; errors?: { message: string; extensions?: Record<string, unknown>; path?: unknown[]; locations?: unknown[] }[] } }> {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, type: res.headers.get("content-type") ?? "", json: text === "" ? {} : (JSON.parse(text) as never) };
}

/** The reference graphql-ws client over `ws`. */
export function wsClient(url: string, options: Partial<Parameters<typeof createClient>[0]> = {}): Client {
  return createClient({ url, webSocketImpl: WebSocket, retryAttempts: 0, ...options });
}

/** What a reference-client subscription saw. */
export interface Seen {
  readonly next: FormattedExecutionResult<Record<string, unknown>, unknown>[];
  error: unknown;
  completed: boolean;
  readonly done: Promise<void>;
  unsubscribe: () => void;
}

/** Subscribe with the reference client and record everything. */
export function watch(client: Client, query: string, variables?: Record<string, unknown>): Seen {
  let finish!: () => void;
  const seen: Seen = {
    next: [],
    error: undefined,
    completed: false,
    done: new Promise<void>((r) => (finish = r)),
    unsubscribe: () => undefined,
  };
  seen.unsubscribe = client.subscribe(
    { query, ...(variables === undefined ? {} : { variables }) },
    {
      next: (r) => void seen.next.push(r),
      error: (e) => {
        seen.error = e;
        finish();
      },
      complete: () => {
        seen.completed = true;
        finish();
      },
    },
  );
  return seen;
}

/** A plain `ws` client speaking graphql-transport-ws by hand. */
export function openRaw(url: string, protocols: string[] = ["graphql-transport-ws"], options: ClientOptions = {}): Promise<RawSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, protocols, options);
    ws.on("error", () => undefined);
    ws.once("open", () => resolve(new RawSocket(ws)));
    ws.once("unexpected-response", (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode ?? 0}`)));
    ws.once("error", reject);
  });
}

/** Messages of a raw socket, queued for `next()`. */
export class RawSocket {
  readonly ws: WebSocket;
  readonly #queue: Record<string, unknown>[] = [];
  readonly #waiters: ((m: Record<string, unknown>) => void)[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;

  constructor(ws: WebSocket) {
    this.ws = ws;
    ws.on("message", (data: RawData) => {
      const m = JSON.parse((data as Buffer).toString("utf8")) as Record<string, unknown>;
      const w = this.#waiters.shift();
      if (w !== undefined) w(m);
      else this.#queue.push(m);
    });
    this.closed = new Promise((resolve) => ws.once("close", (code: number, reason: Buffer) => resolve({ code, reason: reason.toString("utf8") })));
  }

  send(message: Record<string, unknown>): void {
    this.ws.send(JSON.stringify(message));
  }

  next(): Promise<Record<string, unknown>> {
    const m = this.#queue.shift();
    if (m !== undefined) return Promise.resolve(m);
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  async init(payload?: Record<string, unknown>): Promise<Record<string, unknown>> {
    this.send({ type: "connection_init", ...(payload === undefined ? {} : { payload }) });
    return this.next();
  }
}

export async function waitFor(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** A deferred promise. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (v: T) => void } {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}
