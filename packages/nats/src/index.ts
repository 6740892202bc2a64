/**
 * @pirouette/nats: NATS and JetStream listener and client
 *
 * @module
 */
export {};
