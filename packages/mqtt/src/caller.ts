/**
 * `mqtt.Caller`: what a service method gets besides the message.
 *
 * @module
 */
import { MqttError } from "./errors.ts";
import type { DeliveryToken, Message, PublishMessage } from "./options.ts";

/** @internal What the listener gives a caller. */
export interface CallerContext {
  readonly message: Message<unknown>;
  readonly manualAcks: boolean;
  /** Acknowledge; false when the message's connection was lost (the broker redelivers it). */
  complete(): boolean;
  respond(response: PublishMessage): Promise<DeliveryToken>;
}

/**
 * Ballerina's `mqtt:Caller`: acknowledge the message in `manualAcks` mode (`complete`) and
 * answer an MQTT 5 request (`respond`, to the request's response topic with its correlation
 * data).
 *
 * @example
 * ```ts
 * async onMessage(msg: mqtt.Message, caller: mqtt.Caller) {
 *   await save(msg.payload);
 *   await caller.complete(); // with manualAcks: true
 *   if (msg.properties?.responseTopic) await caller.respond({ payload: { saved: true } });
 * }
 * ```
 */
export class Caller {
  readonly #ctx: CallerContext;
  #completed = false;
  #responded = false;

  /** @internal */
  constructor(ctx: CallerContext) {
    this.#ctx = ctx;
  }

  /** The topic the message was published to. */
  get topic(): string {
    return this.#ctx.message.topic;
  }

  /** The packet identifier of a QoS 1/2 message. */
  get messageId(): number | undefined {
    return this.#ctx.message.messageId;
  }

  /** The MQTT 5 response topic of a request, if any. */
  get responseTopic(): string | undefined {
    return this.#ctx.message.properties?.responseTopic;
  }

  /** True once `complete()` ran. */
  get isCompleted(): boolean {
    return this.#completed;
  }

  /** True once `respond()` was called. */
  get hasResponded(): boolean {
    return this.#responded;
  }

  /**
   * Acknowledge the message (PUBACK for QoS 1; QoS 0 and 2 need nothing) in `manualAcks` mode.
   * If the connection that delivered it was lost meanwhile, nothing is sent: the broker
   * redelivers the message to the resumed session.
   *
   * @throws {MqttError} `MQTT_ACK_MODE` without `manualAcks`, `MQTT_ALREADY_COMPLETED` on a second call
   */
  complete(): Promise<void> {
    if (!this.#ctx.manualAcks) {
      return Promise.reject(new MqttError("MQTT_ACK_MODE", "complete() needs a listener with manualAcks: true; otherwise the listener acknowledges"));
    }
    if (this.#completed) return Promise.reject(new MqttError("MQTT_ALREADY_COMPLETED", "this message was completed already"));
    this.#completed = true;
    this.#ctx.complete();
    return Promise.resolve();
  }

  /**
   * Publish a response to the request's MQTT 5 response topic, with its correlation data. A
   * value returned by `onMessage` is sent the same way when the handler did not call
   * `respond` itself. Resolves once the broker has it; the service's `onComplete` hears of it.
   *
   * @throws {MqttError} `MQTT_NO_RESPONSE_TOPIC`, `MQTT_PUBLISH_FAILED`, `MQTT_PACKET_TOO_LARGE`
   */
  respond(response: PublishMessage): Promise<DeliveryToken> {
    if (typeof response !== "object" || response === null || !("payload" in response)) {
      return Promise.reject(new MqttError("MQTT_INVALID_CONFIG", "respond() needs a message: { payload, qos?, retained?, properties? }"));
    }
    this.#responded = true;
    return this.#ctx.respond(response);
  }

  /** @internal Whether an auto-response may still be sent. */
  get canAutoRespond(): boolean {
    return !this.#responded && this.responseTopic !== undefined;
  }
}
