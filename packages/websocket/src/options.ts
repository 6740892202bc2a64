/**
 * Public option and configuration types of `@pirouette/websocket`.
 *
 * @module
 */
import type { IncomingHttpHeaders, IncomingMessage } from "node:http";
import type { ConnectionOptions } from "node:tls";
import type { Codec, HandlerContext, ListenerOptions, RetryPolicy } from "@pirouette/core";
import type { HttpTlsOptions } from "@pirouette/http";
import type { Caller } from "./caller.ts";
import type { CloseFrame } from "./close-frame.ts";

/**
 * The upgrade request, as the auth hook and `onUpgrade` see it.
 *
 * @example
 * ```ts
 * const auth = (req: UpgradeRequest) => req.query.get("token") === expected;
 * ```
 */
export interface UpgradeRequest {
  /** The path, without the query string. */
  readonly path: string;
  readonly query: URLSearchParams;
  /** Header names are lower-case. */
  readonly headers: IncomingHttpHeaders;
  /** The subprotocols the client offered, in its order. */
  readonly subProtocols: readonly string[];
  readonly remoteAddress: string | undefined;
  /** The underlying Node request. */
  readonly raw: IncomingMessage;
}

/**
 * Options of `new websocket.Listener(port | httpListener, options)`. The HTTP fields apply
 * only when the listener owns its server (a port was given).
 *
 * @example
 * ```ts
 * const ws = new websocket.Listener(9090, { maxFrameSize: 64 * 1024, pingIntervalMs: 15_000 });
 * ```
 */
export interface WebSocketListenerOptions extends ListenerOptions {
  /** Own server only: interface to listen on. Default all interfaces. */
  readonly host?: string;
  /** Own server only: serve `wss:` with these TLS options. */
  readonly tls?: HttpTlsOptions;
  /** Own server only: time allowed for the upgrade request's headers. Default 10 000 ms. */
  readonly headersTimeoutMs?: number;
  /** Own server only: connections beyond this are refused. Default no limit. */
  readonly maxConnections?: number;
  /** Largest message accepted; a bigger one closes the connection with 1009. Default 1 MiB. */
  readonly maxFrameSize?: number;
  /**
   * Bytes queued for a client that does not read before it is closed with 1008 (slow
   * consumer). Default 1 MiB.
   */
  readonly maxBufferedBytes?: number;
  /**
   * A write that waits for the socket (past the 64 KiB high-water mark) this long marks the
   * client as a slow consumer, closed with 1008. Default 30 000 ms.
   */
  readonly sendTimeoutMs?: number;
  /**
   * Every connection is pinged this often; one that has not answered (or sent anything) since
   * the previous ping is terminated (half-open connections). Default 30 000 ms; 0 turns it off.
   */
  readonly pingIntervalMs?: number;
  /** How long a close handshake may take before the socket is destroyed. Default 5 000 ms. */
  readonly closeTimeoutMs?: number;
  /** How long the auth hook and `onUpgrade` may take. Default 10 000 ms. */
  readonly upgradeTimeoutMs?: number;
  /** Negotiate permessage-deflate. Default false (CPU and memory cost per connection). */
  readonly perMessageDeflate?: boolean;
  /** Handlers running at once per service, across connections. Default 256. */
  readonly concurrency?: number;
  /** Messages accepted and unhandled per service before connections are paused. Default 8192. */
  readonly maxInFlight?: number;
  /** Failed handlers are retried per this policy. Default `false`. */
  readonly retry?: RetryPolicy | false;
}

/**
 * Per-service configuration: `@websocket.ServiceConfig({...})` or the attach options
 * (Ballerina's `@websocket:ServiceConfig`).
 *
 * @example
 * ```ts
 * await ws.attach(new ChatUpgrade(), { name: "/chat", subProtocols: ["chat.v1"], idleTimeoutMs: 60_000, dispatcherKey: "type" });
 * ```
 */
export interface WebSocketServiceConfig {
  /** The upgrade path. Default: the attach name, else `/`. */
  readonly path?: string;
  /** Subprotocols the service speaks, preferred first; the first one the client offers is chosen. */
  readonly subProtocols?: readonly string[];
  /**
   * With no message from the client for this long, `onIdleTimeout(caller)` is called (or,
   * without one, the connection is closed with 1001). Default 0: off.
   */
  readonly idleTimeoutMs?: number;
  /** Largest message accepted for this service. Default the listener's `maxFrameSize`. */
  readonly maxFrameSize?: number;
  /** Runs before the upgrade: return `false` or throw to refuse it (401, or the error's status). */
  readonly auth?: (request: UpgradeRequest) => unknown;
  /**
   * Route JSON messages by this field to `on<Value>` methods: with `"type"`,
   * `{"type":"join"}` goes to `onJoin` (`user-left` → `onUserLeft`). Unmatched messages go
   * to `onMessage`, else `onTextMessage`, else are dropped. A binding failure goes to
   * `on<Value>Error` when there is one; otherwise to `onError`, and the connection is closed
   * with 1003.
   */
  readonly dispatcherKey?: string;
  /** Codec for `onMessage` and routed payloads. Default `json({ maxBytes: maxFrameSize })`. */
  readonly codec?: Codec<unknown>;
  /** Messages queued per connection before it stops reading (backpressure). Default 64. */
  readonly maxQueuedMessages?: number;
}

/**
 * Reconnection settings of a {@link WebSocketClientOptions}: delays grow from `initialDelayMs`
 * by ×2 (with jitter) up to `maxDelayMs`; after `maxAttempts` failures in a row the client gives up.
 *
 * @example
 * ```ts
 * new websocket.Client(url, { reconnect: { maxAttempts: 20, initialDelayMs: 250, maxDelayMs: 10_000 } });
 * ```
 */
export interface ReconnectOptions {
  readonly maxAttempts?: number;
  readonly initialDelayMs?: number;
  readonly maxDelayMs?: number;
}

/**
 * Options of `new websocket.Client(url, options)`.
 *
 * @example
 * ```ts
 * const client = new websocket.Client("ws://127.0.0.1:9090/chat", { subProtocols: ["chat.v1"], reconnect: { maxAttempts: 5 } });
 * ```
 */
export interface WebSocketClientOptions {
  readonly subProtocols?: readonly string[];
  /** Extra headers for the opening handshake. */
  readonly headers?: Readonly<Record<string, string>>;
  /** Largest message accepted; a bigger one closes the connection with 1009. Default 1 MiB. */
  readonly maxFrameSize?: number;
  /** Time allowed for the opening handshake. Default 30 000 ms. */
  readonly handshakeTimeoutMs?: number;
  /** Default time a `read*()` call waits for a message. Default: no limit. */
  readonly readTimeoutMs?: number;
  /** Reconnect after the connection drops (not after a normal close). Default off. */
  readonly reconnect?: boolean | ReconnectOptions;
  /** Ping the server this often and reconnect (or fail) if it stops answering. Default 0: off. */
  readonly pingIntervalMs?: number;
  /** Messages received and not read before the client stops reading (backpressure). Default 1024. */
  readonly maxQueuedMessages?: number;
  /** `write*()` waits for the socket once this many bytes are queued. Default 64 KiB. */
  readonly highWaterMark?: number;
  /** Codec for `writeMessage` objects and `readMessage`. Default `json({ maxBytes: maxFrameSize })`. */
  readonly codec?: Codec<unknown>;
  /** TLS options for `wss:` (ca, cert, key, servername…). */
  readonly tls?: ConnectionOptions;
  /** Negotiate permessage-deflate. Default false. */
  readonly perMessageDeflate?: boolean;
}

/**
 * The per-connection service: every method is optional; the caller comes after the payload
 * and the dispatch context last. A returned value is the reply: a string → text, bytes →
 * binary, a {@link CloseFrame} → close, a `Stream` → one message per element, anything else
 * → JSON text.
 *
 * @example
 * ```ts
 * class Echo implements websocket.Service {
 *   onTextMessage(text: string) { return `echo: ${text}`; }
 *   onClose(frame: websocket.CloseFrame, caller: websocket.Caller) { console.log(caller.connectionId, frame.status); }
 * }
 * ```
 */
export interface WebSocketService {
  onOpen?(caller: Caller, context: HandlerContext): unknown;
  onTextMessage?(text: string, caller: Caller, context: HandlerContext): unknown;
  onBinaryMessage?(data: Uint8Array, caller: Caller, context: HandlerContext): unknown;
  onMessage?(payload: never, caller: Caller, context: HandlerContext): unknown;
  /** Defining it turns off the automatic pong: answer with `caller.pong(data)`. */
  onPing?(data: Uint8Array, caller: Caller): unknown;
  onPong?(data: Uint8Array, caller: Caller): unknown;
  onIdleTimeout?(caller: Caller, context: HandlerContext): unknown;
  onClose?(frame: CloseFrame, caller: Caller, context: HandlerContext): unknown;
  onError?(error: Error, caller?: Caller): unknown;
}

/**
 * An upgrade service (Ballerina's `resource function get .()` returning a service): it gets
 * the upgrade request and returns the connection's service, or `undefined` to use itself;
 * throwing refuses the upgrade.
 *
 * @example
 * ```ts
 * class ChatUpgrade implements websocket.UpgradeService {
 *   onUpgrade(req: websocket.UpgradeRequest) { return new ChatConnection(req.query.get("name") ?? "anon"); }
 * }
 * ```
 */
export interface UpgradeService {
  onUpgrade(request: UpgradeRequest): WebSocketService | undefined | Promise<WebSocketService | undefined>;
  onError?(error: Error, caller?: Caller): unknown;
}
