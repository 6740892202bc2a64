/**
 * The one error class of `@pirouette/udp`.
 *
 * @module
 */
import { PirouetteError, type PirouetteErrorOptions } from "@pirouette/core";

/**
 * The codes a {@link UdpError} carries.
 *
 * - `INVALID_ARGUMENT`: a bad option or argument (port, address, a reply that cannot be sent).
 * - `STATE`: the listener or client is in the wrong state for the call.
 * - `CONNECTION`: binding, joining a multicast group or sending failed, or the socket reported
 *   an error (`cause` is Node's error: `EADDRINUSE`, `EACCES` for a broadcast without
 *   `broadcast: true`, `EMSGSIZE`, `ECONNREFUSED` on a connected socket…).
 * - `TIMEOUT`: `receiveDatagram`/`readBytes` got nothing in time.
 * - `CLOSED`: the client is closed.
 * - `UDP_DATAGRAM_TOO_LARGE`: a received datagram over `maxDatagramSize` (reported and dropped).
 * - `UDP_UNKNOWN_METHOD`, `UDP_MISSING_METHOD`, `UDP_METHOD_CONFLICT`, `UDP_INVALID_SERVICE`:
 *   the service has the wrong shape.
 */
export type UdpErrorCode =
  | "INVALID_ARGUMENT"
  | "STATE"
  | "CONNECTION"
  | "TIMEOUT"
  | "CLOSED"
  | "UDP_DATAGRAM_TOO_LARGE"
  | "UDP_UNKNOWN_METHOD"
  | "UDP_MISSING_METHOD"
  | "UDP_METHOD_CONFLICT"
  | "UDP_INVALID_SERVICE";

/**
 * Every error `@pirouette/udp` raises or reports to `onError`. Payloads a codec or schema
 * rejects arrive as core's `PayloadBindingError` / `PayloadValidationError` instead.
 *
 * @example
 * ```ts
 * onError(err: Error, caller?: udp.Caller) {
 *   if (UdpError.is(err) && err.code === "UDP_DATAGRAM_TOO_LARGE") metrics.oversize.add(1);
 * }
 * ```
 */
export class UdpError extends PirouetteError {
  override name = "UdpError";
  declare readonly code: UdpErrorCode;

  constructor(code: UdpErrorCode, message: string, options: PirouetteErrorOptions = {}) {
    super(code, message, options);
  }

  /**
   * Whether `value` is a `UdpError` (by brand and name, so it works across package copies).
   *
   * @example
   * ```ts
   * if (UdpError.is(e) && e.code === "TIMEOUT") retry();
   * ```
   */
  static override is(value: unknown): value is UdpError {
    return PirouetteError.is(value) && value.name === "UdpError";
  }
}
