/**
 * `WebSocketError`: the one error class of `@pirouette/websocket`.
 *
 * @module
 */
import { PirouetteError, type PirouetteErrorOptions } from "@pirouette/core";

/**
 * The codes a {@link WebSocketError} carries (`const c: WebSocketErrorCode = "SLOW_CONSUMER"`) (the type stays open for the codes core builds,
 * such as `WEBSOCKET_UNKNOWN_METHOD`).
 */
export type WebSocketErrorCode =
  /** The upgrade was refused (by the auth hook, `onUpgrade`, or the server); see `status`. */
  | "UPGRADE_REFUSED"
  /** Client: the opening handshake failed (see `status` for an HTTP answer). */
  | "HANDSHAKE"
  /** The connection failed, dropped, or reconnecting gave up. */
  | "CONNECTION"
  /** The connection is closed (see `closeCode`). */
  | "CLOSED"
  /** A message was larger than `maxFrameSize`: the connection was closed with 1009. */
  | "MESSAGE_TOO_LARGE"
  /** The peer broke the protocol (bad frame, bad UTF-8, bad close code); closed with 1002/1007. */
  | "PROTOCOL"
  /** The peer did not read fast enough: the connection was closed with 1008. */
  | "SLOW_CONSUMER"
  /** `readTextMessage()` got a binary message, or the other way round. */
  | "UNEXPECTED_MESSAGE_TYPE"
  | "TIMEOUT"
  | "INVALID_ARGUMENT"
  | (string & {});

/**
 * Options of {@link WebSocketError}.
 *
 * @example
 * ```ts
 * throw new WebSocketError("UPGRADE_REFUSED", "maintenance", { status: 503 });
 * ```
 */
export interface WebSocketErrorOptions extends PirouetteErrorOptions {
  /** The HTTP status of a refused upgrade (default 403 for `UPGRADE_REFUSED`). */
  readonly status?: number;
  /** The close code involved, when there is one. */
  readonly closeCode?: number;
}

/**
 * The error `@pirouette/websocket` throws and passes to `onError`. Throw one with code
 * `UPGRADE_REFUSED` (and a `status`) from an auth hook or `onUpgrade` to refuse a connection.
 *
 * @example
 * ```ts
 * onUpgrade(req: websocket.UpgradeRequest) {
 *   if (req.headers.authorization !== `Bearer ${token}`) {
 *     throw new websocket.WebSocketError("UPGRADE_REFUSED", "bad token", { status: 401 });
 *   }
 *   return new ChatService();
 * }
 * ```
 */
export class WebSocketError extends PirouetteError {
  override name = "WebSocketError";
  /** The HTTP status of a refused upgrade or failed handshake, else 0. */
  readonly status: number;
  /** The close code involved (1009 for an oversize message, …), else undefined. */
  readonly closeCode: number | undefined;

  constructor(code: WebSocketErrorCode, message: string, options: WebSocketErrorOptions = {}) {
    super(code, message, options);
    this.status = options.status ?? (code === "UPGRADE_REFUSED" ? 403 : 0);
    this.closeCode = options.closeCode;
  }

  /**
   * Whether `value` is a {@link WebSocketError} (by name and brand, not `instanceof`).
   *
   * @example
   * ```ts
   * if (WebSocketError.is(e) && e.closeCode === 1009) shrinkMessages();
   * ```
   */
  static override is(value: unknown): value is WebSocketError {
    return PirouetteError.is(value) && value.name === "WebSocketError";
  }

  override toJSON(): Record<string, unknown> {
    return { ...super.toJSON(), status: this.status, closeCode: this.closeCode };
  }
}
