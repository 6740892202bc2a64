/**
 * `@pirouette/mqtt`: Ballerina's MQTT listener/service model on mqtt.js.
 *
 * ```ts
 * import * as mqtt from "@pirouette/mqtt";
 * import { payload, service } from "@pirouette/core";
 *
 * const listener = new mqtt.Listener("mqtt://localhost:1883", "thermostat-1", { topic: "sensors/+/temperature", qos: 1 }, {
 *   cleanStart: false, // resume the session: nothing published while we are down is lost
 * });
 *
 * @service(listener)
 * class Temperatures {
 *   @payload(Reading)
 *   async onMessage(reading: Reading, caller: mqtt.Caller) { await store(reading); }
 *   onError(err: Error, msg?: mqtt.Message) { log.warn({ topic: msg?.topic, err }); }
 * }
 *
 * await listener.start();
 * ```
 *
 * @module
 */
export { MqttListener, MqttListener as Listener, ServiceConfig } from "./listener.ts";
export type { Service } from "./listener.ts";
export { MqttClient, MqttClient as Client } from "./client.ts";
export type { GrantedSubscription } from "./client.ts";
export { Caller } from "./caller.ts";
export { MqttError } from "./errors.ts";
export type { MqttErrorCode, MqttErrorOptions } from "./errors.ts";
export { DEFAULT_URL } from "./options.ts";
export type {
  ConnectionConfiguration,
  DeadLetterOptions,
  DeliveryToken,
  Message,
  MessageProperties,
  MqttClientOptions,
  MqttListenerOptions,
  MqttServiceConfig,
  PublishMessage,
  QoS,
  ReceiveOptions,
  ReconnectOptions,
  RequestOptions,
  Subscription,
  Subscriptions,
  TopicMessage,
  WillMessage,
} from "./options.ts";
