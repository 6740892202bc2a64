/**
 * `@pirouette/rabbitmq`: Ballerina's RabbitMQ listener/service model on amqplib.
 *
 * ```ts
 * import * as rabbitmq from "@pirouette/rabbitmq";
 *
 * const listener = new rabbitmq.Listener("localhost", 5672, { prefetchCount: 10 });
 *
 * @service(listener)
 * @rabbitmq.ServiceConfig({ queueName: "orders" })
 * class Orders {
 *   @payload(Order)
 *   async onMessage(order: Order, caller: rabbitmq.Caller) { await save(order); }
 *   onError(msg: rabbitmq.Message | undefined, err: Error) { log.warn(err); }
 * }
 *
 * await listener.start();
 * ```
 *
 * @module
 */
export { RabbitMqListener, RabbitMqListener as Listener, ServiceConfig } from "./listener.ts";
export type { Service } from "./listener.ts";
export { RabbitMqClient, RabbitMqClient as Client } from "./client.ts";
export { Caller } from "./caller.ts";
export { RabbitMqError } from "./errors.ts";
export type { RabbitMqErrorCode, RabbitMqErrorOptions } from "./errors.ts";
export { DEFAULT_HOST, DEFAULT_PORT } from "./options.ts";
export type {
  ConnectionConfiguration,
  ConsumeOptions,
  DeadLetterOptions,
  ExchangeConfig,
  ExchangeType,
  Message,
  MessageProperties,
  PublishMessage,
  PublishProperties,
  QosSettings,
  QueueBinding,
  QueueConfig,
  QueueInfo,
  RabbitMqClientOptions,
  RabbitMqListenerOptions,
  RabbitMqServiceConfig,
  ReconnectOptions,
  StreamOptions,
} from "./options.ts";
