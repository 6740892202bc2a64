/**
 * `rabbitmq.Caller`: what a service method gets besides the message.
 *
 * @module
 */
import { settle, isSettled, type Origin } from "./internal/settle.ts";

/**
 * Settles the message being handled. You rarely need it: the listener acknowledges a message
 * once its handler succeeded. Call `basicAck`/`basicNack` to settle earlier or differently
 * (e.g. `basicNack(false, false)` to drop a message without dead-lettering); the listener then
 * leaves it alone. A second ack/nack, or one on a service with `autoAck: true`, throws a
 * {@link RabbitMqError} (`RABBITMQ_ALREADY_SETTLED`, `RABBITMQ_AUTO_ACK`).
 *
 * Both return `true` when the ack/nack was sent, and `false` when it was dropped because the
 * channel that delivered the message has closed (after a reconnect): the broker has already
 * requeued the message, and sending the ack on the new channel would close it with a 406.
 *
 * @example
 * ```ts
 * async onMessage(order: Order, caller: rabbitmq.Caller) {
 *   if (order.test) {
 *     caller.basicNack(false, false); // drop it
 *     return;
 *   }
 *   await save(order); // acknowledged by the listener afterwards
 * }
 * ```
 */
export class Caller {
  readonly #origin: Origin;

  /** @internal */
  constructor(origin: Origin) {
    this.#origin = origin;
  }

  /** The message's delivery tag (channel-scoped). */
  get deliveryTag(): number {
    return this.#origin.tag;
  }

  /** True once the message was acknowledged or rejected (or when the service uses autoAck). */
  get isSettled(): boolean {
    return isSettled(this.#origin);
  }

  /**
   * Acknowledge the message (with `multiple`, every unsettled message up to this one on its
   * channel).
   *
   * @throws {RabbitMqError} `RABBITMQ_ALREADY_SETTLED`, `RABBITMQ_AUTO_ACK`
   */
  basicAck(multiple = false): boolean {
    return settle(this.#origin, "ack", multiple, false, true);
  }

  /**
   * Reject the message: `requeue` (default true) puts it back in the queue, `false` drops it
   * (or hands it to the queue's own dead-letter exchange).
   *
   * @throws {RabbitMqError} `RABBITMQ_ALREADY_SETTLED`, `RABBITMQ_AUTO_ACK`
   */
  basicNack(multiple = false, requeue = true): boolean {
    return settle(this.#origin, "nack", multiple, requeue, true);
  }
}
