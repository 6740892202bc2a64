/**
 * `RabbitMqError`: the one error class of `@pirouette/rabbitmq`.
 *
 * @module
 */
import { PirouetteError, type PirouetteErrorOptions } from "@pirouette/core";

/**
 * The codes a {@link RabbitMqError} carries.
 *
 * | code | when |
 * |---|---|
 * | `RABBITMQ_UNKNOWN_METHOD`, `RABBITMQ_MISSING_METHOD`, `RABBITMQ_METHOD_CONFLICT`, `RABBITMQ_INVALID_SERVICE` | `attach` rejected the service |
 * | `RABBITMQ_MISSING_QUEUE` | neither `ServiceConfig({ queueName })` nor an attach name |
 * | `RABBITMQ_INVALID_CONFIG` | an option or config value is out of range |
 * | `RABBITMQ_CONNECTION` | the broker cannot be reached, or the connection was lost and not recovered |
 * | `RABBITMQ_ACCESS_REFUSED` | wrong credentials or missing permissions (AMQP 403) |
 * | `RABBITMQ_NOT_ALLOWED` | the virtual host does not exist or is not allowed (AMQP 530) |
 * | `RABBITMQ_NOT_FOUND` | a queue or exchange does not exist (AMQP 404) |
 * | `RABBITMQ_PRECONDITION_FAILED` | a declaration conflicts with the existing one (AMQP 406) |
 * | `RABBITMQ_RESOURCE_LOCKED` | an exclusive queue belongs to another connection (AMQP 405) |
 * | `RABBITMQ_CHANNEL` | any other channel error |
 * | `RABBITMQ_UNROUTABLE` | a mandatory message matched no queue (basic.return) |
 * | `RABBITMQ_NACKED` | the broker refused a published message (basic.nack) |
 * | `RABBITMQ_NOT_CONFIRMED` | the channel closed before the broker confirmed a publish |
 * | `RABBITMQ_TIMEOUT` | no connection or no confirm within `operationTimeoutMs` |
 * | `RABBITMQ_ALREADY_SETTLED` | a message was acknowledged or rejected twice |
 * | `RABBITMQ_AUTO_ACK` | `basicAck`/`basicNack` on a message consumed with `autoAck` |
 * | `RABBITMQ_CONSUMER_CANCELLED` | the broker cancelled a consumer (its queue was deleted) |
 * | `RABBITMQ_DELIVERY_LIMIT` | a message was delivered more than `maxDeliveries` times |
 * | `RABBITMQ_CLOSED` | the client or listener is closed |
 * | `RABBITMQ_ENCODE` | a value could not be encoded as a message body |
 *
 * @example
 * ```ts
 * const retriable: RabbitMqErrorCode[] = ["RABBITMQ_NOT_CONFIRMED", "RABBITMQ_TIMEOUT"];
 * ```
 */
export type RabbitMqErrorCode =
  | "RABBITMQ_UNKNOWN_METHOD"
  | "RABBITMQ_MISSING_METHOD"
  | "RABBITMQ_METHOD_CONFLICT"
  | "RABBITMQ_INVALID_SERVICE"
  | "RABBITMQ_MISSING_QUEUE"
  | "RABBITMQ_INVALID_CONFIG"
  | "RABBITMQ_CONNECTION"
  | "RABBITMQ_ACCESS_REFUSED"
  | "RABBITMQ_NOT_ALLOWED"
  | "RABBITMQ_NOT_FOUND"
  | "RABBITMQ_PRECONDITION_FAILED"
  | "RABBITMQ_RESOURCE_LOCKED"
  | "RABBITMQ_CHANNEL"
  | "RABBITMQ_UNROUTABLE"
  | "RABBITMQ_NACKED"
  | "RABBITMQ_NOT_CONFIRMED"
  | "RABBITMQ_TIMEOUT"
  | "RABBITMQ_ALREADY_SETTLED"
  | "RABBITMQ_AUTO_ACK"
  | "RABBITMQ_CONSUMER_CANCELLED"
  | "RABBITMQ_DELIVERY_LIMIT"
  | "RABBITMQ_CLOSED"
  | "RABBITMQ_ENCODE";

/**
 * Options of {@link RabbitMqError}.
 *
 * @example
 * ```ts
 * new RabbitMqError("RABBITMQ_NOT_FOUND", "no queue orders", { replyCode: 404, coordinates: { queue: "orders" } });
 * ```
 */
export interface RabbitMqErrorOptions extends PirouetteErrorOptions {
  /** The AMQP reply code, when the broker sent one (404, 406, 312 …). */
  readonly replyCode?: number | undefined;
}

/**
 * Every error `@pirouette/rabbitmq` throws or reports, with a `RABBITMQ_*` code (see
 * {@link RabbitMqErrorCode}) and, for broker errors, the AMQP `replyCode`. Payload binding
 * failures reach `onError` as core's `PayloadBindingError` / `PayloadValidationError`.
 *
 * @example
 * ```ts
 * try {
 *   await client.publishMessage({ exchange: "orders", routingKey: "nowhere", content: order });
 * } catch (e) {
 *   if (e instanceof rabbitmq.RabbitMqError && e.code === "RABBITMQ_UNROUTABLE") park(order);
 * }
 * ```
 */
export class RabbitMqError extends PirouetteError {
  override name = "RabbitMqError";
  declare readonly code: RabbitMqErrorCode;
  /** The AMQP reply code, when the broker sent one. */
  readonly replyCode: number | undefined;

  constructor(code: RabbitMqErrorCode, message: string, options: RabbitMqErrorOptions = {}) {
    super(code, message, options);
    this.replyCode = options.replyCode;
  }

  /**
   * Whether `value` is a `RabbitMqError` (without relying on `instanceof`).
   *
   * @example
   * ```ts
   * if (RabbitMqError.isRabbitMqError(err) && err.code === "RABBITMQ_NOT_FOUND") declareIt();
   * ```
   */
  static isRabbitMqError(value: unknown): value is RabbitMqError {
    return PirouetteError.is(value) && value.name === "RabbitMqError";
  }

  override toJSON(): Record<string, unknown> {
    return { ...super.toJSON(), replyCode: this.replyCode };
  }
}
