/**
 * `MqttError`: the one error class of `@pirouette/mqtt`.
 *
 * @module
 */
import { PirouetteError, type PirouetteErrorOptions } from "@pirouette/core";

/**
 * The codes an {@link MqttError} carries.
 *
 * | code | when |
 * |---|---|
 * | `MQTT_UNKNOWN_METHOD`, `MQTT_MISSING_METHOD`, `MQTT_METHOD_CONFLICT`, `MQTT_INVALID_SERVICE` | `attach` rejected the service |
 * | `MQTT_INVALID_CONFIG` | an option or service config value is out of range |
 * | `MQTT_INVALID_TOPIC` | an empty topic, a wildcard in a topic name, a misplaced `#`/`+` in a filter |
 * | `MQTT_CONNECTION` | the broker cannot be reached, or the connection was lost and not recovered |
 * | `MQTT_NOT_AUTHORIZED` | the broker refused the credentials (CONNACK 4/5, 0x86/0x87): never retried |
 * | `MQTT_CONNACK` | the broker refused the connection for another reason |
 * | `MQTT_CLIENT_ID_CONFLICT` | another client keeps taking the session over (same clientId): reconnecting stopped |
 * | `MQTT_SUBSCRIBE_FAILED` | the broker refused a subscription (SUBACK 0x80 or an MQTT 5 reason code) |
 * | `MQTT_PUBLISH_FAILED` | the broker refused a publish (MQTT 5 PUBACK/PUBREC reason code ≥ 0x80) or the connection dropped first |
 * | `MQTT_BACKPRESSURE` | the offline queue is full (`maxQueuedMessages` / `maxQueuedBytes`): the publish was not queued |
 * | `MQTT_PACKET_TOO_LARGE` | a publish is larger than `maxPacketSize` or the broker's maximum packet size |
 * | `MQTT_TIMEOUT` | no connection, or no response to a request, in time |
 * | `MQTT_NO_RESPONSE_TOPIC` | `caller.respond()` on a message without an MQTT 5 response topic |
 * | `MQTT_ACK_MODE` | `caller.complete()` without `manualAcks` |
 * | `MQTT_ALREADY_COMPLETED` | `caller.complete()` called twice |
 * | `MQTT_PROTOCOL` | an MQTT 5 feature (properties, request/response) on an MQTT 3.1.1 connection |
 * | `MQTT_CLOSED` | the client or listener is closed |
 * | `MQTT_ENCODE` | a value could not be encoded as a payload |
 */
export type MqttErrorCode =
  | "MQTT_UNKNOWN_METHOD"
  | "MQTT_MISSING_METHOD"
  | "MQTT_METHOD_CONFLICT"
  | "MQTT_INVALID_SERVICE"
  | "MQTT_INVALID_CONFIG"
  | "MQTT_INVALID_TOPIC"
  | "MQTT_CONNECTION"
  | "MQTT_NOT_AUTHORIZED"
  | "MQTT_CONNACK"
  | "MQTT_CLIENT_ID_CONFLICT"
  | "MQTT_SUBSCRIBE_FAILED"
  | "MQTT_PUBLISH_FAILED"
  | "MQTT_BACKPRESSURE"
  | "MQTT_PACKET_TOO_LARGE"
  | "MQTT_TIMEOUT"
  | "MQTT_NO_RESPONSE_TOPIC"
  | "MQTT_ACK_MODE"
  | "MQTT_ALREADY_COMPLETED"
  | "MQTT_PROTOCOL"
  | "MQTT_CLOSED"
  | "MQTT_ENCODE";

/** Options of {@link MqttError}. */
export interface MqttErrorOptions extends PirouetteErrorOptions {
  /** The MQTT reason code (CONNACK return code, MQTT 5 reason code), when the broker sent one. */
  readonly reasonCode?: number | undefined;
}

/**
 * Every error `@pirouette/mqtt` throws or reports, with an `MQTT_*` code (see
 * {@link MqttErrorCode}) and, for broker refusals, the MQTT `reasonCode`. Payload binding
 * failures reach `onError` as core's `PayloadBindingError` / `PayloadValidationError`.
 *
 * @example
 * ```ts
 * try {
 *   await client.publish("sensors/t1", { payload: reading, qos: 1 });
 * } catch (e) {
 *   if (mqtt.MqttError.isMqttError(e) && e.code === "MQTT_BACKPRESSURE") await later();
 * }
 * ```
 */
export class MqttError extends PirouetteError {
  override name = "MqttError";
  declare readonly code: MqttErrorCode;
  /** The MQTT reason code, when the broker sent one. */
  readonly reasonCode: number | undefined;

  constructor(code: MqttErrorCode, message: string, options: MqttErrorOptions = {}) {
    super(code, message, options);
    this.reasonCode = options.reasonCode;
  }

  /**
   * Whether `value` is an `MqttError` (without relying on `instanceof`).
   *
   * @example
   * ```ts
   * if (MqttError.isMqttError(err) && err.code === "MQTT_CLIENT_ID_CONFLICT") alertOps(err);
   * ```
   */
  static isMqttError(value: unknown): value is MqttError {
    return PirouetteError.is(value) && value.name === "MqttError";
  }

  override toJSON(): Record<string, unknown> {
    return { ...super.toJSON(), reasonCode: this.reasonCode };
  }
}
