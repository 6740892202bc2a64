/**
 * The one error class of `@pirouette/tcp`.
 *
 * @module
 */
import { PirouetteError, type PirouetteErrorOptions } from "@pirouette/core";

/**
 * The codes a {@link TcpError} carries.
 *
 * - `INVALID_ARGUMENT`: a bad option or argument (port, framing, a reply that cannot be framed).
 * - `STATE`: the listener or client is in the wrong state for the call.
 * - `CONNECTION`: connecting failed, or the socket reported an error (`cause` is Node's error).
 * - `TIMEOUT`: connect, `readBytes` or a write did not finish in time.
 * - `CLOSED`: the connection or client is closed (or the peer closed it during a read).
 * - `TCP_FRAME_TOO_LARGE`: a frame over `maxFrameSize`; the connection is closed.
 * - `TCP_IDLE_TIMEOUT`: no complete frame and no write for `idleTimeoutMs`; the connection is closed.
 * - `TCP_CONNECTION_LIMIT`: a connection over `maxConnections` was refused.
 * - `TCP_TLS`: a TLS handshake failed (unknown CA, wrong host name, no client certificate…).
 * - `TCP_UNKNOWN_METHOD`, `TCP_MISSING_METHOD`, `TCP_INVALID_SERVICE`: the service (or the
 *   connection service `onConnect` returned) has the wrong shape.
 */
export type TcpErrorCode =
  | "INVALID_ARGUMENT"
  | "STATE"
  | "CONNECTION"
  | "TIMEOUT"
  | "CLOSED"
  | "TCP_FRAME_TOO_LARGE"
  | "TCP_IDLE_TIMEOUT"
  | "TCP_CONNECTION_LIMIT"
  | "TCP_TLS"
  | "TCP_UNKNOWN_METHOD"
  | "TCP_MISSING_METHOD"
  | "TCP_METHOD_CONFLICT"
  | "TCP_INVALID_SERVICE";

/**
 * Every error `@pirouette/tcp` raises or reports to `onError`. Check the `code` (and use
 * `PirouetteError.is` / `TcpError.is`, not `instanceof`, across package copies). Socket
 * errors keep Node's error as `cause` (`cause.code` is e.g. `ECONNREFUSED`).
 *
 * @example
 * ```ts
 * onError(err: Error, caller: tcp.Caller) {
 *   if (TcpError.is(err) && err.code === "TCP_FRAME_TOO_LARGE") metrics.oversize.add(1);
 * }
 * ```
 */
export class TcpError extends PirouetteError {
  override name = "TcpError";
  declare readonly code: TcpErrorCode;

  constructor(code: TcpErrorCode, message: string, options: PirouetteErrorOptions = {}) {
    super(code, message, options);
  }

  /**
   * Whether `value` is a `TcpError` (by brand and name, so it works across package copies).
   *
   * @example
   * ```ts
   * if (TcpError.is(e) && e.code === "TIMEOUT") retry();
   * ```
   */
  static override is(value: unknown): value is TcpError {
    return PirouetteError.is(value) && value.name === "TcpError";
  }
}
