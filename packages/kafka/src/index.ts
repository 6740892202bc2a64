/**
 * @pirouette/kafka: Kafka listener, producer and consumer on kafkajs
 *
 * @module
 */
export {};
