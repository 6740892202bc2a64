/**
 * `websocket.Client`: write/read messages, `messages()` as a Stream, reconnection; a `Sink`.
 *
 * @module
 */
import { setTimeout as sleep } from "node:timers/promises";
import { bind, json, Stream, toError, validate, type Codec, type Sink } from "@pirouette/core";
import type { StandardSchemaV1 } from "@standard-schema/spec";
import { WebSocket, type ClientOptions } from "ws";
import { CloseFrame } from "./close-frame.ts";
import { WebSocketError } from "./errors.ts";
import { encodeMessage } from "./internal/encode.ts";
import type { ReconnectOptions, WebSocketClientOptions } from "./options.ts";

/**
 * A received message: text as a string, binary as bytes.
 *
 * @example
 * ```ts
 * const m: Message = await client.messages().first() ?? "";
 * if (typeof m === "string") console.log(m);
 * ```
 */
export type Message = string | Uint8Array;

const DEFAULT_MAX_FRAME = 1024 * 1024;
const RESOLVED = Promise.resolve();

function noop(): void {}

/**
 * Ballerina's `websocket:Client`, asynchronous: `write*` send (resolving at once below the
 * high-water mark, else once written), `read*` take the next message (the client stops
 * reading from the socket while `maxQueuedMessages` are unread), `messages()` is the same
 * queue as a `Stream`. With `reconnect`, a dropped connection is re-opened with backoff and
 * writes wait for it. It is a `Sink`, so `stream.pipeTo(client)` sends a stream's elements.
 *
 * @example
 * ```ts
 * const client = new websocket.Client("ws://127.0.0.1:9090/echo");
 * await client.connect();
 * await client.writeTextMessage("hi");
 * console.log(await client.readTextMessage()); // "echo: hi"
 * await prices.map((p) => ({ type: "price", ...p })).pipeTo(client); // sends, then closes
 * ```
 */
export class WebSocketClient implements Sink<unknown>, AsyncDisposable {
  readonly url: string;
  readonly #o: WebSocketClientOptions;
  readonly #codec: Codec<unknown>;
  readonly #reconnect: Required<ReconnectOptions> | undefined;
  readonly #hwm: number;
  readonly #maxQueued: number;
  #ws: WebSocket | undefined;
  #connecting: Promise<WebSocket> | undefined;
  #queue: Message[] = [];
  #head = 0;
  #wakers: (() => void)[] = [];
  #ended: { readonly error: WebSocketError | undefined } | undefined;
  #closing = false;
  #paused = false;
  #alive = true;
  #pingTimer: NodeJS.Timeout | undefined;
  #lastClose: CloseFrame | undefined;
  #protocol = "";

  constructor(url: string, options: WebSocketClientOptions = {}) {
    let u: URL;
    try {
      u = new URL(url);
    } catch (e) {
      throw new WebSocketError("INVALID_ARGUMENT", `not a URL: ${url}`, { cause: e });
    }
    if (u.protocol !== "ws:" && u.protocol !== "wss:") throw new WebSocketError("INVALID_ARGUMENT", `a WebSocket URL is ws: or wss:, got ${u.protocol}`);
    this.url = u.href;
    this.#o = options;
    this.#codec = options.codec ?? json({ maxBytes: options.maxFrameSize ?? DEFAULT_MAX_FRAME });
    const r = options.reconnect;
    this.#reconnect =
      r === undefined || r === false
        ? undefined
        : {
            maxAttempts: (r === true ? undefined : r.maxAttempts) ?? 10,
            initialDelayMs: (r === true ? undefined : r.initialDelayMs) ?? 100,
            maxDelayMs: (r === true ? undefined : r.maxDelayMs) ?? 5_000,
          };
    this.#hwm = options.highWaterMark ?? 64 * 1024;
    this.#maxQueued = Math.max(1, options.maxQueuedMessages ?? 1024);
  }

  /** True while connected. */
  get isOpen(): boolean {
    return this.#ws?.readyState === WebSocket.OPEN;
  }

  /** The subprotocol the server chose, if any. */
  get negotiatedSubProtocol(): string | undefined {
    return this.#protocol === "" ? undefined : this.#protocol;
  }

  /** The close frame of the last connection that closed, if any. */
  get lastCloseFrame(): CloseFrame | undefined {
    return this.#lastClose;
  }

  /**
   * Open the connection (the other methods do it on first use). Rejects with a
   * {@link WebSocketError}: `HANDSHAKE` (with the HTTP `status` of a refused upgrade) or
   * `CONNECTION`.
   *
   * @example
   * ```ts
   * await client.connect();
   * ```
   */
  async connect(): Promise<void> {
    await this.#ensure();
  }

  // ---------------------------------------------------------------- connecting

  #ensure(): Promise<WebSocket> {
    const ws = this.#ws;
    if (ws !== undefined && ws.readyState === WebSocket.OPEN) return Promise.resolve(ws);
    if (this.#closing) return Promise.reject(new WebSocketError("CLOSED", "the client is closed"));
    if (this.#ended !== undefined) return Promise.reject(this.#ended.error ?? new WebSocketError("CLOSED", "the connection is closed"));
    if (this.#connecting === undefined) {
      const p = this.#open().then(
        (w) => {
          this.#connecting = undefined;
          return w;
        },
        (e: unknown) => {
          this.#connecting = undefined;
          throw e;
        },
      );
      this.#connecting = p;
    }
    return this.#connecting;
  }

  #open(): Promise<WebSocket> {
    return new Promise<WebSocket>((resolve, reject) => {
      const o = this.#o;
      const opts: ClientOptions = {
        ...(o.tls as ClientOptions | undefined),
        maxPayload: o.maxFrameSize ?? DEFAULT_MAX_FRAME,
        handshakeTimeout: o.handshakeTimeoutMs ?? 30_000,
        perMessageDeflate: o.perMessageDeflate ?? false,
        ...(o.headers === undefined ? {} : { headers: { ...o.headers } }),
      };
      let ws: WebSocket;
      try {
        ws = new WebSocket(this.url, [...(o.subProtocols ?? [])], opts);
      } catch (e) {
        reject(new WebSocketError("INVALID_ARGUMENT", toError(e).message, { cause: e }));
        return;
      }
      let settled = false;
      let status = 0;
      ws.on("unexpected-response", (_req, res) => {
        status = res.statusCode ?? 0;
        res.resume();
        ws.terminate();
      });
      ws.on("error", (e: Error) => {
        if (settled) return;
        settled = true;
        ws.terminate();
        reject(
          status > 0
            ? new WebSocketError("HANDSHAKE", `the server refused the upgrade with ${status}`, { status, cause: e })
            : new WebSocketError(/handshake|subprotocol|Sec-WebSocket/i.test(e.message) ? "HANDSHAKE" : "CONNECTION", `connecting to ${this.url} failed: ${e.message}`, { cause: e }),
        );
      });
      ws.once("open", () => {
        if (settled) return;
        settled = true;
        if (this.#closing) {
          ws.terminate();
          reject(new WebSocketError("CLOSED", "the client is closed"));
          return;
        }
        this.#adopt(ws);
        resolve(ws);
      });
    });
  }

  #adopt(ws: WebSocket): void {
    this.#ws = ws;
    this.#protocol = ws.protocol;
    this.#alive = true;
    ws.removeAllListeners("error");
    ws.on("error", noop); // 'close' follows and carries the outcome
    ws.on("message", (data: Buffer, isBinary: boolean) => {
      this.#alive = true;
      this.#queue.push(isBinary ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength) : data.toString("utf8"));
      if (this.#queue.length - this.#head >= this.#maxQueued && !this.#paused) {
        this.#paused = true;
        ws.pause();
      }
      this.#wake();
    });
    ws.on("ping", () => {
      this.#alive = true;
    });
    ws.on("pong", () => {
      this.#alive = true;
    });
    ws.on("close", (code: number, reason: Buffer) => this.#onClose(ws, code, reason.toString("utf8")));
    const every = this.#o.pingIntervalMs ?? 0;
    if (every > 0) {
      clearInterval(this.#pingTimer);
      this.#pingTimer = setInterval(() => {
        if (this.#ws !== ws) return;
        if (!this.#alive) {
          ws.terminate();
          return;
        }
        this.#alive = false;
        ws.ping();
      }, every);
      this.#pingTimer.unref();
    }
  }

  #onClose(ws: WebSocket, code: number, reason: string): void {
    if (this.#ws !== ws) return;
    this.#ws = undefined;
    this.#paused = false;
    clearInterval(this.#pingTimer);
    this.#lastClose = new CloseFrame(code, reason);
    if (this.#closing || code === 1000) {
      this.#end(undefined);
      return;
    }
    if (this.#reconnect !== undefined) {
      const p = this.#reconnectLoop(this.#reconnect).then(
        (w) => {
          this.#connecting = undefined;
          return w;
        },
        (e: unknown) => {
          this.#connecting = undefined;
          throw e;
        },
      );
      p.catch(noop);
      this.#connecting = p;
      return;
    }
    this.#end(code === 1001 ? undefined : new WebSocketError(code === 1009 ? "MESSAGE_TOO_LARGE" : "CONNECTION", `the connection closed with ${code}${reason === "" ? "" : ` (${reason})`}`, { closeCode: code }));
  }

  async #reconnectLoop(r: Required<ReconnectOptions>): Promise<WebSocket> {
    let lastError: unknown;
    for (let attempt = 1; attempt <= r.maxAttempts; attempt++) {
      const base = Math.min(r.maxDelayMs, r.initialDelayMs * 2 ** (attempt - 1));
      await sleep(base * (0.5 + Math.random() / 2));
      if (this.#closing) throw new WebSocketError("CLOSED", "the client is closed");
      try {
        return await this.#open();
      } catch (e) {
        lastError = e;
        if (WebSocketError.is(e) && e.code === "CLOSED") throw e;
      }
    }
    const error = new WebSocketError("CONNECTION", `reconnecting to ${this.url} gave up after ${r.maxAttempts} attempts: ${toError(lastError).message}`, { cause: lastError });
    this.#end(error);
    throw error;
  }

  #end(error: WebSocketError | undefined): void {
    if (this.#ended !== undefined) return;
    this.#ended = { error };
    clearInterval(this.#pingTimer);
    this.#wake();
  }

  #wake(): void {
    const w = this.#wakers;
    if (w.length === 0) return;
    this.#wakers = [];
    for (const f of w) f();
  }

  // ---------------------------------------------------------------- reading

  #available(): number {
    return this.#queue.length - this.#head;
  }

  #shift(): Message {
    const m = this.#queue[this.#head] as Message;
    this.#head++;
    this.#compact();
    return m;
  }

  #takeAll(): Message[] {
    const out = this.#head === 0 ? this.#queue : this.#queue.slice(this.#head);
    this.#queue = [];
    this.#head = 0;
    this.#maybeResume();
    return out;
  }

  #compact(): void {
    if (this.#head === this.#queue.length) {
      this.#queue = [];
      this.#head = 0;
    } else if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
    this.#maybeResume();
  }

  #maybeResume(): void {
    if (this.#paused && this.#available() <= this.#maxQueued / 2) {
      this.#paused = false;
      this.#ws?.resume();
    }
  }

  #waitForMessage(signal: AbortSignal | undefined): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const wake = (): void => {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      };
      const onAbort = (): void => {
        const i = this.#wakers.indexOf(wake);
        if (i >= 0) this.#wakers.splice(i, 1);
        reject(signal?.reason instanceof Error ? signal.reason : new WebSocketError("TIMEOUT", "no message in time"));
      };
      if (signal?.aborted === true) {
        onAbort();
        return;
      }
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#wakers.push(wake);
    });
  }

  async #next(timeoutMs: number | undefined): Promise<Message> {
    if (this.#available() === 0 && this.#ended === undefined) await this.#ensure();
    const ms = timeoutMs ?? this.#o.readTimeoutMs;
    const signal = ms === undefined ? undefined : AbortSignal.timeout(ms);
    for (;;) {
      if (this.#available() > 0) return this.#shift();
      if (this.#ended !== undefined) throw this.#ended.error ?? new WebSocketError("CLOSED", "the connection is closed");
      try {
        await this.#waitForMessage(signal);
      } catch (e) {
        if (signal?.aborted === true) throw new WebSocketError("TIMEOUT", `no message within ${ms} ms`, { cause: e });
        throw e;
      }
    }
  }

  /**
   * The next message, which must be text.
   *
   * @example
   * ```ts
   * const reply = await client.readTextMessage({ timeoutMs: 1000 });
   * ```
   */
  async readTextMessage(options: { readonly timeoutMs?: number } = {}): Promise<string> {
    const m = await this.#next(options.timeoutMs);
    if (typeof m !== "string") throw new WebSocketError("UNEXPECTED_MESSAGE_TYPE", "expected a text message, got a binary one");
    return m;
  }

  /**
   * The next message, which must be binary.
   *
   * @example
   * ```ts
   * const frame = await client.readBinaryMessage();
   * ```
   */
  async readBinaryMessage(options: { readonly timeoutMs?: number } = {}): Promise<Uint8Array> {
    const m = await this.#next(options.timeoutMs);
    if (typeof m === "string") throw new WebSocketError("UNEXPECTED_MESSAGE_TYPE", "expected a binary message, got a text one");
    return m;
  }

  /**
   * The next message decoded with the codec (JSON by default) and, with a schema, validated.
   *
   * @example
   * ```ts
   * const event = await client.readMessage({ schema: ChatEvent }); // typed by the schema
   * ```
   */
  async readMessage<T = unknown, S extends StandardSchemaV1 | undefined = undefined>(
    options: { readonly schema?: S; readonly timeoutMs?: number } = {},
  ): Promise<S extends StandardSchemaV1 ? StandardSchemaV1.InferOutput<S> : T> {
    const m = await this.#next(options.timeoutMs);
    const bytes = typeof m === "string" ? Buffer.from(m, "utf8") : m;
    const coordinates = { url: this.url };
    const value = await bind(bytes, { codec: this.#codec, coordinates });
    return (options.schema === undefined ? value : await validate(options.schema, value, coordinates)) as S extends StandardSchemaV1 ? StandardSchemaV1.InferOutput<S> : T;
  }

  /**
   * Received messages as a Stream (text as strings, binary as bytes), from the same queue as
   * `read*()`. It ends when the connection closes normally and fails with a
   * {@link WebSocketError} when it drops (and reconnecting, if on, gave up). Closing the
   * stream does not close the client.
   *
   * @example
   * ```ts
   * for await (const m of client.messages().take(10)) console.log(m);
   * ```
   */
  messages(): Stream<Message, WebSocketError> {
    let started = false;
    const pull = async (): Promise<readonly Message[] | null> => {
      if (!started) {
        started = true;
        if (this.#available() === 0 && this.#ended === undefined) await this.#ensure();
      }
      for (;;) {
        if (this.#available() > 0) return this.#takeAll();
        if (this.#ended !== undefined) {
          if (this.#ended.error !== undefined) throw this.#ended.error;
          return null;
        }
        await this.#waitForMessage(undefined);
      }
    };
    return new Stream<Message, WebSocketError>({ pull });
  }

  // ---------------------------------------------------------------- writing

  async #send(data: string | Buffer, binary: boolean): Promise<void> {
    const ws = await this.#ensure();
    if (ws.bufferedAmount < this.#hwm) {
      ws.send(data, { binary });
      return;
    }
    await new Promise<void>((resolve, reject) => {
      ws.send(data, { binary }, (err) => (err === undefined || err === null ? resolve() : reject(new WebSocketError("CONNECTION", `sending failed: ${err.message}`, { cause: err }))));
    });
  }

  /**
   * Send a text message.
   *
   * @example
   * ```ts
   * await client.writeTextMessage("hello");
   * ```
   */
  writeTextMessage(text: string): Promise<void> {
    return this.#send(text, false);
  }

  /**
   * Send a binary message.
   *
   * @example
   * ```ts
   * await client.writeBinaryMessage(new Uint8Array([1, 2, 3]));
   * ```
   */
  writeBinaryMessage(data: Uint8Array): Promise<void> {
    return this.#send(Buffer.from(data.buffer, data.byteOffset, data.byteLength), true);
  }

  /**
   * Send a value: a string as text, bytes as binary, anything else as JSON text.
   *
   * @example
   * ```ts
   * await client.writeMessage({ type: "join", room: "lobby" });
   * ```
   */
  writeMessage(value: unknown): Promise<void> {
    let out;
    try {
      out = encodeMessage(value, this.#codec);
    } catch (e) {
      return Promise.reject(toError(e));
    }
    return this.#send(out.data, out.binary);
  }

  /** `Sink.write`: {@link WebSocketClient.writeMessage}. */
  write(value: unknown): Promise<void> {
    return this.writeMessage(value);
  }

  /** `Sink.writeMany`: sends a whole chunk, waiting once for the socket if needed. */
  async writeMany(values: readonly unknown[]): Promise<void> {
    for (const v of values) await this.writeMessage(v);
  }

  /** `Sink.abort`: the piped stream failed; close with 1011. */
  abort(reason: unknown): Promise<void> {
    const message = toError(reason).message;
    return this.close(1011, Buffer.byteLength(message) <= 123 ? message : "the source stream failed");
  }

  /** Send a ping. */
  async ping(data?: Uint8Array | string): Promise<void> {
    (await this.#ensure()).ping(data);
  }

  /** Send a pong. */
  async pong(data?: Uint8Array | string): Promise<void> {
    (await this.#ensure()).pong(data);
  }

  /**
   * Close the connection (no reconnection afterwards): resolves once the server answered the
   * close frame, or after `timeoutMs` (default 5000) when the socket is destroyed. Messages
   * already received can still be read.
   *
   * @example
   * ```ts
   * await client.close(1000, "bye");
   * ```
   */
  close(status = 1000, reason = "", timeoutMs = 5_000): Promise<void> {
    const frame = new CloseFrame(status, reason);
    try {
      frame.check();
    } catch (e) {
      return Promise.reject(e);
    }
    this.#closing = true;
    clearInterval(this.#pingTimer);
    const ws = this.#ws;
    if (ws === undefined || ws.readyState === WebSocket.CLOSED) {
      this.#end(undefined);
      return RESOLVED;
    }
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => ws.terminate(), timeoutMs);
      timer.unref();
      ws.once("close", () => {
        clearTimeout(timer);
        resolve();
      });
      if (this.#paused) ws.resume();
      if (ws.readyState === WebSocket.OPEN) ws.close(status, reason);
      else ws.terminate();
    });
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
