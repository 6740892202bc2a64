/**
 * `@pirouette/nats`: the listener/service model on NATS and JetStream (@nats-io v3 client).
 *
 * ```ts
 * import * as nats from "@pirouette/nats";
 *
 * const listener = new nats.Listener("nats://localhost:4222");
 *
 * @service(listener, "prices.get")
 * @nats.ServiceConfig({ queueName: "pricing" })
 * class Prices {
 *   @payload(Quote)
 *   onRequest(q: Quote) { return { sku: q.sku, cents: lookup(q.sku) }; } // the reply
 * }
 *
 * @service(listener)
 * @nats.ServiceConfig({ subject: "orders.created", jetstream: { stream: "ORDERS", durable: "billing" } })
 * class Billing {
 *   @payload(Order)
 *   async onMessage(order: Order) { await bill(order); } // acked after success, redelivered after a failure
 * }
 *
 * await listener.start();
 * ```
 *
 * @module
 */
export { NatsListener, NatsListener as Listener, ServiceConfig } from "./listener.ts";
export type { Service } from "./listener.ts";
export { NatsClient, NatsClient as Client, JetStream } from "./client.ts";
export { Caller } from "./caller.ts";
export { NatsError } from "./errors.ts";
export type { NatsErrorCode, NatsErrorOptions } from "./errors.ts";
export { DEFAULT_URL } from "./options.ts";
export type {
  ConnectionConfiguration,
  DeadLetterOptions,
  Headers,
  JetStreamInfo,
  JetStreamPublishOptions,
  JetStreamServiceConfig,
  Message,
  NatsClientOptions,
  NatsListenerOptions,
  NatsServiceConfig,
  PubAck,
  PublishOptions,
  ReconnectOptions,
  RequestOptions,
  StreamConfig,
  SubjectMessage,
  SubscribeOptions,
} from "./options.ts";
