/**
 * Public option and service types of `@pirouette/tcp`.
 *
 * @module
 */
import type { ConnectionOptions, TlsOptions } from "node:tls";
import type { Codec, HandlerContext, ListenerOptions, RetryPolicy } from "@pirouette/core";
import type { TcpCaller } from "./caller.ts";

/**
 * How a byte stream is cut into frames. Without framing, `onBytes` (and `readBytes`, `stream()`)
 * get whatever one socket read returned, as in Ballerina.
 *
 * - `"length-prefixed"`: each frame is preceded by its length as an unsigned integer of
 *   `headerBytes` (1, 2 or 4; default 4) bytes in `byteOrder` (default `"big"`).
 * - `"delimiter"`: frames end with `delimiter` (a string is UTF-8 encoded); the delimiter is
 *   not part of the frame and is appended to the frames you write.
 * - `"line"`: frames end with `\n`; a `\r` before it is dropped (so `\r\n` works too).
 * - `"fixed"`: every frame is exactly `size` bytes.
 *
 * The strings `"line"` and `"length-prefixed"` are shorthands for the defaults.
 *
 * @example
 * ```ts
 * const framing: Framing = { type: "length-prefixed", headerBytes: 2, byteOrder: "little" };
 * new tcp.Listener(7000, { framing, maxFrameSize: 64 * 1024 });
 * ```
 */
export type Framing =
  | "line"
  | "length-prefixed"
  | { readonly type: "length-prefixed"; readonly headerBytes?: 1 | 2 | 4; readonly byteOrder?: "big" | "little" }
  | { readonly type: "delimiter"; readonly delimiter: string | Uint8Array }
  | { readonly type: "line" }
  | { readonly type: "fixed"; readonly size: number };

/**
 * The per-connection service: all methods optional. `onBytes(data, caller, context)` gets one
 * frame (or, without framing, one socket read) as a `Buffer`, or the decoded value `T` with a
 * `codec`; a returned `Uint8Array` or string (UTF-8) is written back (framed), another value is
 * encoded with the codec, and `undefined` writes nothing.
 * While `onBytes` runs the socket is read ahead by at most 256 KiB, then paused (frames keep
 * their order: the next batch starts when the running one settled). `onError(error, caller)` hears about handler
 * failures, socket errors, oversize frames and idle timeouts; `onClose(caller)` runs once when
 * the connection is gone.
 *
 * @example
 * ```ts
 * const echo: tcp.ConnectionService = {
 *   onBytes: (data) => data,
 *   onClose: (caller) => console.log(`${caller.remoteHost} left`),
 * };
 * ```
 */
export interface TcpConnectionService<T = Buffer> {
  onBytes?(data: T, caller: TcpCaller, context: HandlerContext): unknown;
  onError?(error: Error, caller: TcpCaller): unknown;
  onClose?(caller: TcpCaller): unknown;
}

/**
 * The service attached to a {@link TcpListener}. `onConnect(caller, context)` runs once per
 * connection (no bytes are read until it returns) and returns the connection's service; if it
 * returns nothing, or there is no `onConnect`, this service handles the connection itself with
 * its own `onBytes`/`onError`/`onClose`. A service needs `onConnect` or `onBytes`. `onError`
 * here also hears about failed `onConnect` calls, refused connections and TLS handshake failures.
 *
 * @example
 * ```ts
 * await listener.attach({
 *   onConnect: (caller) => new Session(caller), // a TcpConnectionService per connection
 *   onError: (err) => log.warn(err),
 * });
 * ```
 */
export interface TcpService<T = Buffer> extends TcpConnectionService<T> {
  onConnect?(
    caller: TcpCaller,
    context: HandlerContext,
  ): TcpConnectionService<T> | undefined | void | Promise<TcpConnectionService<T> | undefined | void>;
}

/**
 * Options of {@link TcpListener}.
 *
 * @example
 * ```ts
 * new tcp.Listener(7000, {
 *   localHost: "127.0.0.1",
 *   framing: "line",
 *   maxFrameSize: 64 * 1024,
 *   maxConnections: 1000,
 *   idleTimeoutMs: 30_000,
 * });
 * ```
 */
export interface TcpListenerOptions extends ListenerOptions {
  /** Interface to listen on. Default: all interfaces (Node's default). */
  readonly localHost?: string;
  /** TLS: Node's `tls.createServer` options (`key`, `cert`, `ca`, `requestCert`…). */
  readonly secureSocket?: TlsOptions;
  /** Connections at once; more are closed at accept and reported as `TCP_CONNECTION_LIMIT`. Default: unlimited. */
  readonly maxConnections?: number;
  /**
   * Close a connection (with `TCP_IDLE_TIMEOUT` to `onError`) when no complete frame arrived and
   * nothing was written for this long, so a peer dribbling a frame byte by byte does not hold
   * a connection forever. A running handler counts as activity. Default 0: off.
   */
  readonly idleTimeoutMs?: number;
  /** Cut the byte stream into frames. Default: none (one `onBytes` per socket read). */
  readonly framing?: Framing;
  /** Largest frame accepted or written, in bytes. Default 1 MiB. */
  readonly maxFrameSize?: number;
  /**
   * Decode each frame with this codec (e.g. `json()`, `text()`) before `onBytes`; a returned
   * value that is not bytes or a string is encoded with it. A payload schema (`@payload`,
   * `attach({ payload })`) without a codec uses `json()`. Failures go to `onError` as
   * `PayloadBindingError`s and the connection goes on. Default: none (raw `Buffer`s).
   */
  readonly codec?: Codec<unknown>;
  /** `onConnect`/`onBytes` calls running at once across connections. Default 1024. */
  readonly concurrency?: number;
  /** Retries of a failing `onBytes`/`onConnect` before `onError`. Default `false` (no retry). */
  readonly retry?: RetryPolicy | false;
  /** Disable Nagle's algorithm on accepted sockets. Default true. */
  readonly noDelay?: boolean;
  /** Enable TCP keep-alive probes after this much idle time. Default: off. */
  readonly keepAliveMs?: number;
  /** Listen backlog. Default: Node's (511). */
  readonly backlog?: number;
}

/**
 * Options of {@link TcpClient}.
 *
 * @example
 * ```ts
 * const client = new tcp.Client("db.internal", 7000, {
 *   framing: "length-prefixed",
 *   timeoutMs: 5_000,
 *   secureSocket: { ca: readFileSync("ca.pem") },
 * });
 * ```
 */
export interface TcpClientOptions {
  /** Local interface to connect from. */
  readonly localHost?: string;
  /** Local port to connect from. Default: any. */
  readonly localPort?: number;
  /**
   * TLS: Node's `tls.connect` options (`ca`, `cert`, `key`, `servername`…). The server's
   * certificate is verified (`rejectUnauthorized` defaults to true).
   */
  readonly secureSocket?: Omit<ConnectionOptions, "host" | "port" | "socket" | "path">;
  /** Connect (and TLS handshake) timeout. Default 10 000 ms. */
  readonly connectTimeoutMs?: number;
  /** How long `readBytes` waits for data. Default 300 000 ms (Ballerina's 300 s). */
  readonly timeoutMs?: number;
  /** How long a write may wait for the socket to drain. Default 300 000 ms. */
  readonly writeTimeoutMs?: number;
  /** Cut the byte stream into frames (both directions). Default: none. */
  readonly framing?: Framing;
  /** Largest frame accepted or written, in bytes. Default 1 MiB. */
  readonly maxFrameSize?: number;
  /** Received frames (or reads) buffered before the socket is paused. Default 1024. */
  readonly highWaterMark?: number;
  /** Disable Nagle's algorithm. Default true. */
  readonly noDelay?: boolean;
  /** Enable TCP keep-alive probes after this much idle time. Default: off. */
  readonly keepAliveMs?: number;
}
