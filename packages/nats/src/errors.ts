/**
 * `NatsError`: the one error class of `@pirouette/nats`.
 *
 * @module
 */
import { PirouetteError, type PirouetteErrorOptions } from "@pirouette/core";

/**
 * The codes a {@link NatsError} carries.
 *
 * | code | when |
 * |---|---|
 * | `NATS_UNKNOWN_METHOD`, `NATS_MISSING_METHOD`, `NATS_METHOD_CONFLICT`, `NATS_INVALID_SERVICE` | `attach` rejected the service |
 * | `NATS_MISSING_SUBJECT` | neither `ServiceConfig({ subject })` nor an attach name |
 * | `NATS_INVALID_CONFIG` | an option or service config value is out of range |
 * | `NATS_INVALID_SUBJECT` | an empty subject, whitespace, empty tokens, a wildcard in a publish subject |
 * | `NATS_CONNECTION` | the server cannot be reached, or the connection was lost and not recovered |
 * | `NATS_AUTHORIZATION` | the server refused the credentials, or a publish/subscribe permission |
 * | `NATS_TIMEOUT` | no reply (or no JetStream acknowledgement) in time |
 * | `NATS_NO_RESPONDERS` | a request to a subject nobody listens on |
 * | `NATS_SERVICE_ERROR` | the responder answered with an error (`Nats-Service-Error` header) |
 * | `NATS_SLOW_CONSUMER` | a core-NATS service fell behind its `pendingLimits`: messages were dropped |
 * | `NATS_BACKPRESSURE` | a `subscribe()` stream's consumer fell behind its `limit`: the stream failed |
 * | `NATS_MAX_PAYLOAD` | a message is larger than the server's `max_payload` |
 * | `NATS_JETSTREAM` | a JetStream API error (no such stream or consumer, wrong expectations …); `apiCode` holds its code |
 * | `NATS_DELIVERY_LIMIT` | a JetStream message reached `maxDeliver`: dead-lettered and terminated |
 * | `NATS_ALREADY_SETTLED` | `caller.ack/nak/term` on a message already settled |
 * | `NATS_NOT_JETSTREAM` | `caller.ack/nak/term/inProgress` on a core NATS message |
 * | `NATS_CLOSED` | the client or listener is closed |
 * | `NATS_ENCODE` | a value could not be encoded |
 */
export type NatsErrorCode =
  | "NATS_UNKNOWN_METHOD"
  | "NATS_MISSING_METHOD"
  | "NATS_METHOD_CONFLICT"
  | "NATS_INVALID_SERVICE"
  | "NATS_MISSING_SUBJECT"
  | "NATS_INVALID_CONFIG"
  | "NATS_INVALID_SUBJECT"
  | "NATS_CONNECTION"
  | "NATS_AUTHORIZATION"
  | "NATS_TIMEOUT"
  | "NATS_NO_RESPONDERS"
  | "NATS_SERVICE_ERROR"
  | "NATS_SLOW_CONSUMER"
  | "NATS_BACKPRESSURE"
  | "NATS_MAX_PAYLOAD"
  | "NATS_JETSTREAM"
  | "NATS_DELIVERY_LIMIT"
  | "NATS_ALREADY_SETTLED"
  | "NATS_NOT_JETSTREAM"
  | "NATS_CLOSED"
  | "NATS_ENCODE";

/** Options of {@link NatsError}. */
export interface NatsErrorOptions extends PirouetteErrorOptions {
  /** The JetStream API error code (10014 consumer not found, 10059 stream not found …). */
  readonly apiCode?: number | undefined;
  /** The error code a responder put in `Nats-Service-Error-Code`, or a JetStream status. */
  readonly status?: number | undefined;
}

/**
 * Every error `@pirouette/nats` throws or reports, with a `NATS_*` code (see
 * {@link NatsErrorCode}). Payload binding failures reach `onError` as core's
 * `PayloadBindingError` / `PayloadValidationError`.
 *
 * @example
 * ```ts
 * try {
 *   await client.request("prices.get", { sku: "A1" }, { timeoutMs: 1000 });
 * } catch (e) {
 *   if (nats.NatsError.isNatsError(e) && e.code === "NATS_NO_RESPONDERS") useCachedPrice();
 * }
 * ```
 */
export class NatsError extends PirouetteError {
  override name = "NatsError";
  declare readonly code: NatsErrorCode;
  readonly apiCode: number | undefined;
  readonly status: number | undefined;

  constructor(code: NatsErrorCode, message: string, options: NatsErrorOptions = {}) {
    super(code, message, options);
    this.apiCode = options.apiCode;
    this.status = options.status;
  }

  /**
   * Whether `value` is a `NatsError` (without relying on `instanceof`).
   *
   * @example
   * ```ts
   * if (NatsError.isNatsError(err) && err.code === "NATS_TIMEOUT") retry();
   * ```
   */
  static isNatsError(value: unknown): value is NatsError {
    return PirouetteError.is(value) && value.name === "NatsError";
  }

  override toJSON(): Record<string, unknown> {
    return { ...super.toJSON(), apiCode: this.apiCode, status: this.status };
  }
}
