/**
 * Acknowledgement bookkeeping: every manual-ack delivery is tracked on the channel generation
 * that delivered it, so a message is settled at most once (a second settle is a typed error or
 * a no-op) and a settle for a closed channel is dropped instead of being sent on a new channel
 * (where the broker would answer 406 PRECONDITION_FAILED and close it).
 * @internal
 * @module
 */
import type { Message as AmqpMessage } from "amqplib";
import { RabbitMqError } from "../errors.ts";
import { isClosedChannelError, toRabbitMqError } from "./amqp-errors.ts";
import type { Generation } from "./connection.ts";

/** Where a manual-ack message came from. `gen` undefined: consumed with autoAck. */
export interface Origin {
  readonly gen: Generation | undefined;
  readonly tag: number;
}

/** Messages handed to users (client gets and streams) → their origin. */
export const origins = new WeakMap<object, Origin>();

/** Whether the message is no longer waiting for a settle (settled, or consumed with autoAck). */
export function isSettled(o: Origin): boolean {
  return o.gen === undefined || !o.gen.unsettled.has(o.tag);
}

/**
 * Ack or nack a delivery. Returns true when sent, false when dropped because its channel is
 * gone (the broker has requeued the message). With `strict`, settling a message twice or one
 * consumed with autoAck throws a RabbitMqError; without, it is a no-op returning false.
 */
export function settle(o: Origin, kind: "ack" | "nack", multiple: boolean, requeue: boolean, strict: boolean): boolean {
  const gen = o.gen;
  if (gen === undefined) {
    if (strict) {
      throw new RabbitMqError("RABBITMQ_AUTO_ACK", `cannot ${kind} delivery ${o.tag}: it was consumed with autoAck`, {
        coordinates: { deliveryTag: o.tag },
      });
    }
    return false;
  }
  if (!gen.unsettled.has(o.tag)) {
    if (strict) {
      throw new RabbitMqError("RABBITMQ_ALREADY_SETTLED", `delivery ${o.tag} was already acknowledged or rejected`, {
        coordinates: { deliveryTag: o.tag },
      });
    }
    return false;
  }
  // Deferred acks first, so that the broker sees settles in the order they were decided.
  if (gen.pendingAcks.length > 0) flushAcks(gen);
  if (multiple) {
    for (const t of gen.unsettled) if (t <= o.tag) gen.unsettled.delete(t);
  } else {
    gen.unsettled.delete(o.tag);
  }
  if (!gen.open) return false;
  const msg = { fields: { deliveryTag: o.tag } } as AmqpMessage;
  try {
    if (kind === "ack") gen.channel.ack(msg, multiple);
    else gen.channel.nack(msg, multiple, requeue);
    return true;
  } catch (e) {
    if (isClosedChannelError(e)) {
      gen.open = false;
      return false;
    }
    throw toRabbitMqError(e, `${kind} of delivery ${o.tag} failed`);
  }
}

/** What {@link deferAck} did. */
export type DeferResult = "queued" | "already-settled" | "stale";

/**
 * Acknowledge a delivery at the end of the current tick, together with the others acknowledged
 * in the same tick: the contiguous run below the oldest unsettled delivery goes as one
 * `multiple` ack (one frame and one socket write instead of one per message); the rest one by
 * one. Safe because every outstanding delivery of the channel is tracked in `unsettled`.
 */
export function deferAck(o: Origin): DeferResult {
  const gen = o.gen;
  if (gen === undefined || !gen.unsettled.delete(o.tag)) return "already-settled";
  if (!gen.open) return "stale";
  gen.pendingAcks.push(o.tag);
  if (!gen.flushScheduled) {
    gen.flushScheduled = true;
    queueMicrotask(() => flushAcks(gen));
  }
  return "queued";
}

/** Send the acks {@link deferAck} queued on a channel. Never throws. */
export function flushAcks(gen: Generation): void {
  gen.flushScheduled = false;
  const pending = gen.pendingAcks;
  if (pending.length === 0) return;
  gen.pendingAcks = [];
  if (!gen.open) return;
  let low = Infinity;
  for (const t of gen.unsettled) {
    // Tags are added in delivery order, so the first one is the oldest still unsettled.
    low = t;
    break;
  }
  let sorted = true;
  for (let i = 1; i < pending.length; i++) {
    if ((pending[i] as number) < (pending[i - 1] as number)) {
      sorted = false;
      break;
    }
  }
  if (!sorted) pending.sort((a, b) => a - b);
  let i = 0;
  while (i < pending.length && (pending[i] as number) < low) i++;
  try {
    if (i > 0) gen.channel.ack({ fields: { deliveryTag: pending[i - 1] } } as AmqpMessage, i > 1);
    for (; i < pending.length; i++) gen.channel.ack({ fields: { deliveryTag: pending[i] } } as AmqpMessage, false);
  } catch {
    // The channel closed under us: the broker requeues what was not acknowledged.
    gen.open = false;
  }
}
