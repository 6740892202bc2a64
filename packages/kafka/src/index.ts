/**
 * `@pirouette/kafka`: Ballerina's Kafka listener/service model on a real Kafka cluster
 * (kafkajs behind an internal driver port).
 *
 * ```ts
 * import { service } from "@pirouette/core";
 * import * as kafka from "@pirouette/kafka";
 *
 * const listener = new kafka.Listener("localhost:9092", { groupId: "order-processors", topics: "orders" });
 *
 * @service(listener)
 * class OrderConsumer {
 *   @kafka.payload(Order)
 *   async onConsumerRecord(orders: Order[]) {
 *     for (const o of orders) await processOrder(o);
 *   }
 * }
 *
 * await listener.start();
 * const producer = new kafka.Producer("localhost:9092");
 * await producer.send({ topic: "orders", value: { id: "O-1", amount: 99.99 } });
 * ```
 *
 * @module
 */
export { KafkaListener, KafkaListener as Listener, ServiceConfig, payload } from "./listener.ts";
export type { Service, BatchPayloadDecorator } from "./listener.ts";
export { Caller } from "./caller.ts";
export { KafkaProducer, KafkaProducer as Producer } from "./producer.ts";
export type { Transaction } from "./producer.ts";
export { KafkaConsumer, KafkaConsumer as Consumer } from "./consumer.ts";
export { KafkaError } from "./errors.ts";
export type { KafkaErrorCode, KafkaErrorOptions } from "./errors.ts";
export { DEFAULT_URL, KafkaDeadLetterHeaders } from "./options.ts";
export type {
  ConnectionOptions,
  ConsumerRecord,
  GroupOptions,
  Headers,
  KafkaConsumerOptions,
  KafkaListenerOptions,
  KafkaProducerOptions,
  KafkaServiceConfig,
  OutgoingHeaders,
  PartitionOffset,
  ProducerRecord,
  RecordMetadata,
  SaslOptions,
  TopicPartition,
} from "./options.ts";
