/**
 * `KafkaError`: the one error class of `@pirouette/kafka`.
 *
 * @module
 */
import { PirouetteError, type PirouetteErrorOptions } from "@pirouette/core";

/**
 * The codes a {@link KafkaError} carries.
 *
 * | code | when |
 * |---|---|
 * | `KAFKA_UNKNOWN_METHOD`, `KAFKA_MISSING_METHOD`, `KAFKA_METHOD_CONFLICT`, `KAFKA_INVALID_SERVICE` | `attach` rejected the service |
 * | `KAFKA_INVALID_CONFIG` | an option or config value is missing or out of range |
 * | `KAFKA_MISSING_TOPICS` | a service has no topics (neither `ServiceConfig({ topics })` nor the listener's `topics`) |
 * | `KAFKA_CONNECTION` | the brokers cannot be reached, or the connection was lost and not recovered |
 * | `KAFKA_AUTHENTICATION` | SASL authentication failed |
 * | `KAFKA_AUTHORIZATION` | the broker refused an operation (topic, group or transactional-id ACL) |
 * | `KAFKA_TIMEOUT` | a request or an operation did not finish in time |
 * | `KAFKA_PROTOCOL` | any other error the broker answered with (`kafkaErrorType` holds its name) |
 * | `KAFKA_SEND` | a record could not be produced |
 * | `KAFKA_COMMIT` | committing offsets failed |
 * | `KAFKA_NOT_ASSIGNED` | a commit or seek for a partition this consumer is not assigned |
 * | `KAFKA_TRANSACTION` | a transaction could not begin, commit or abort |
 * | `KAFKA_CONSUMER_CRASHED` | the driver's consumer crashed (it is restarted when the cause is retriable) |
 * | `KAFKA_ENCODE` | a value could not be encoded as a record value |
 * | `KAFKA_STATE` | the operation does not fit the current state (e.g. a second transaction at once) |
 * | `KAFKA_CLOSED` | the producer, consumer or listener is closed |
 *
 * Payload binding failures reach `onError` as core's `PayloadBindingError` /
 * `PayloadValidationError`, with `{ topic, partition, offset }` coordinates.
 */
export type KafkaErrorCode =
  | "KAFKA_UNKNOWN_METHOD"
  | "KAFKA_MISSING_METHOD"
  | "KAFKA_METHOD_CONFLICT"
  | "KAFKA_INVALID_SERVICE"
  | "KAFKA_INVALID_CONFIG"
  | "KAFKA_MISSING_TOPICS"
  | "KAFKA_CONNECTION"
  | "KAFKA_AUTHENTICATION"
  | "KAFKA_AUTHORIZATION"
  | "KAFKA_TIMEOUT"
  | "KAFKA_PROTOCOL"
  | "KAFKA_SEND"
  | "KAFKA_COMMIT"
  | "KAFKA_NOT_ASSIGNED"
  | "KAFKA_TRANSACTION"
  | "KAFKA_CONSUMER_CRASHED"
  | "KAFKA_ENCODE"
  | "KAFKA_STATE"
  | "KAFKA_CLOSED";

/** Options of {@link KafkaError}. */
export interface KafkaErrorOptions extends PirouetteErrorOptions {
  /** The broker's error name (`"REBALANCE_IN_PROGRESS"`, `"TOPIC_AUTHORIZATION_FAILED"` …), when it sent one. */
  readonly kafkaErrorType?: string | undefined;
  /** Whether retrying the operation may succeed. */
  readonly retriable?: boolean | undefined;
}

/**
 * Every error `@pirouette/kafka` throws or reports, with a `KAFKA_*` code (see
 * {@link KafkaErrorCode}), the broker's error name when there is one, and whether the
 * operation is worth retrying. Guard with {@link KafkaError.isKafkaError} (or
 * `PirouetteError.is`), which survives duplicate installs.
 *
 * @example
 * ```ts
 * try {
 *   await producer.send({ topic: "orders", value: order });
 * } catch (e) {
 *   if (kafka.KafkaError.isKafkaError(e) && e.code === "KAFKA_AUTHORIZATION") alertOps(e);
 * }
 * ```
 */
export class KafkaError extends PirouetteError {
  override name = "KafkaError";
  declare readonly code: KafkaErrorCode;
  /** The broker's error name, when it sent one. */
  readonly kafkaErrorType: string | undefined;
  /** Whether retrying may succeed. */
  readonly retriable: boolean;

  constructor(code: KafkaErrorCode, message: string, options: KafkaErrorOptions = {}) {
    super(code, message, options);
    this.kafkaErrorType = options.kafkaErrorType;
    this.retriable = options.retriable ?? false;
  }

  /**
   * Whether `value` is a `KafkaError` (without relying on `instanceof`).
   *
   * @example
   * ```ts
   * if (KafkaError.isKafkaError(err) && err.code === "KAFKA_NOT_ASSIGNED") return;
   * ```
   */
  static isKafkaError(value: unknown): value is KafkaError {
    return PirouetteError.is(value) && value.name === "KafkaError";
  }

  override toJSON(): Record<string, unknown> {
    return { ...super.toJSON(), kafkaErrorType: this.kafkaErrorType, retriable: this.retriable };
  }
}
