/**
 * @pirouette/rabbitmq: RabbitMQ listener and client on amqplib
 *
 * @module
 */
export {};
