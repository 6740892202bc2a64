/**
 * Public option, configuration and message types of `@pirouette/mqtt`.
 *
 * @module
 */
import type { ConnectionOptions as TlsConnectionOptions } from "node:tls";
import type { Codec, DeadLetterTarget, FailureAction, ListenerOptions, Logger, RetryPolicy } from "@pirouette/core";

/**
 * Ballerina's `mqtt:DEFAULT_URL`.
 *
 * @example
 * ```ts
 * new mqtt.Listener(mqtt.DEFAULT_URL, "billing-1", "orders/#");
 * ```
 */
export const DEFAULT_URL = "tcp://localhost:1883";

/**
 * MQTT quality of service: 0 at most once, 1 at least once, 2 exactly once (per hop).
 *
 * @example
 * ```ts
 * const qos: mqtt.QoS = 1;
 * ```
 */
export type QoS = 0 | 1 | 2;

/**
 * Ballerina's `mqtt:Subscription`: a topic filter (`+` and `#` wildcards allowed) and its QoS.
 *
 * @example
 * ```ts
 * const subs: Subscription[] = [{ topic: "sensors/+/temperature", qos: 1 }, { topic: "alerts/#", qos: 2 }];
 * ```
 */
export interface Subscription {
  readonly topic: string;
  /** Default 1, as in Ballerina. */
  readonly qos?: QoS;
  /** MQTT 5: do not receive what this connection publishes itself. */
  readonly noLocal?: boolean;
  /** MQTT 5: keep the retain flag as published (otherwise only retained-on-subscribe messages carry it). */
  readonly retainAsPublished?: boolean;
  /** MQTT 5: 0 send retained messages on subscribe (default), 1 only for a new subscription, 2 never. */
  readonly retainHandling?: 0 | 1 | 2;
}

/**
 * What the listener and `Client.subscribe` accept: Ballerina's `string|string[]|Subscription|Subscription[]`.
 *
 * @example
 * ```ts
 * const subs: mqtt.Subscriptions = ["sensors/+/temperature", { topic: "alerts/#", qos: 2 }];
 * ```
 */
export type Subscriptions = string | Subscription | readonly (string | Subscription)[];

/**
 * MQTT 5 message properties (Ballerina's `MessageProperties` plus the rest of the spec). On an
 * MQTT 3.1.1 connection they are not sent.
 *
 * @example
 * ```ts
 * const props: MessageProperties = { responseTopic: "replies/me", correlationData: Buffer.from("42") };
 * ```
 */
export interface MessageProperties {
  /** Where the receiver should publish its response (request/response). */
  readonly responseTopic?: string;
  /** Opaque data the responder copies into its response. */
  readonly correlationData?: Uint8Array;
  readonly contentType?: string;
  /** True: the payload is UTF-8 text. */
  readonly payloadFormatIndicator?: boolean;
  /** Seconds the broker keeps the message for a subscriber that is offline. */
  readonly messageExpiryInterval?: number;
  /** Application headers (also carry the W3C trace context). */
  readonly userProperties?: Readonly<Record<string, string | readonly string[]>>;
  /** Received only: which subscriptions matched (when the subscriber set identifiers). */
  readonly subscriptionIdentifier?: number | readonly number[];
}

/**
 * A received message (Ballerina's `mqtt:Message`). `payload` is the raw bytes, or the decoded
 * and validated payload when the service has a payload schema in `"message"` mode.
 *
 * @example
 * ```ts
 * onMessage(msg: mqtt.Message, caller: mqtt.Caller) {
 *   console.log(msg.topic, Buffer.from(msg.payload).toString());
 * }
 * ```
 */
export interface Message<T = Uint8Array> {
  readonly payload: T;
  readonly topic: string;
  readonly qos: QoS;
  /** The broker sent it from its retained store (on subscribe), or `retainAsPublished` kept the flag. */
  readonly retained: boolean;
  /** A redelivery (after a reconnect): it may have been handled before. */
  readonly duplicate: boolean;
  /** The packet identifier (QoS 1 and 2 only). */
  readonly messageId: number | undefined;
  readonly properties: MessageProperties | undefined;
}

/**
 * A message to publish (Ballerina's `mqtt:Message` on the producer side). `payload`: bytes are
 * sent as is, a string as UTF-8 text, anything else through the client's codec (JSON by default).
 *
 * @example
 * ```ts
 * await client.publish("sensors/t1", { payload: { celsius: 21.5 }, qos: 1, retained: true });
 * ```
 */
export interface PublishMessage<T = unknown> {
  readonly payload: T;
  /** Default 1 (the client's `defaultQos`). */
  readonly qos?: QoS;
  /** Ask the broker to keep it as the topic's last known value. Default false. */
  readonly retained?: boolean;
  /** MQTT 5 properties. */
  readonly properties?: Omit<MessageProperties, "subscriptionIdentifier">;
}

/**
 * Ballerina's `mqtt:DeliveryToken`: what `publish` and `respond` resolve to once the broker
 * has the message (PUBACK for QoS 1, PUBCOMP for QoS 2, written to the socket for QoS 0).
 *
 * @example
 * ```ts
 * const token = await client.publish("orders/new", { payload: order });
 * console.log(token.messageId, token.topic);
 * ```
 */
export interface DeliveryToken {
  /** The packet identifier; 0 for QoS 0. */
  readonly messageId: number;
  readonly topic: string;
}

/**
 * The last will: published by the broker when the connection ends without a DISCONNECT
 * (crash, network loss, keep-alive timeout). Ballerina's `WillDetails`.
 *
 * @example
 * ```ts
 * new mqtt.Client(url, "sensor-7", { will: { topic: "sensors/7/status", payload: "offline", retained: true } });
 * ```
 */
export interface WillMessage {
  readonly topic: string;
  /** Bytes, text, or a value for the codec. */
  readonly payload: unknown;
  /** Default 1. */
  readonly qos?: QoS;
  readonly retained?: boolean;
  /** MQTT 5: seconds the broker waits before publishing the will. */
  readonly delayInterval?: number;
  readonly properties?: Omit<MessageProperties, "subscriptionIdentifier" | "responseTopic" | "correlationData">;
}

/**
 * Reconnection after a lost connection: capped exponential backoff with jitter. The n-th delay
 * is about `initialDelayMs × multiplier^(n−1)`, at most `maxDelayMs`, spread by ± `jitter`.
 * (mqtt.js alone retries every second, forever, without backoff.)
 *
 * @example
 * ```ts
 * const reconnect: ReconnectOptions = { initialDelayMs: 500, maxDelayMs: 10_000 };
 * ```
 */
export interface ReconnectOptions {
  /** First delay. Default 1000 ms. */
  readonly initialDelayMs?: number;
  /** Largest delay. Default 30 000 ms (Ballerina's `maxReconnectDelay`). */
  readonly maxDelayMs?: number;
  /** Growth factor. Default 2. */
  readonly multiplier?: number;
  /** Random spread, 0 … 1 (0.2 = ± 20 %). Default 0.2. */
  readonly jitter?: number;
  /** Reconnection attempts after a loss before giving up. Default Infinity. */
  readonly maxRetries?: number;
  /** Retries of the very first connection (`start()`). Default 0: fail fast. */
  readonly connectRetries?: number;
}

/**
 * Ballerina's `mqtt:ConnectionConfiguration` plus what mqtt.js exposes. Durations named as in
 * Ballerina are in seconds (`keepAliveInterval`, `connectionTimeout`) or milliseconds
 * (`maxReconnectDelay`, as Ballerina); the `…Ms` ones are milliseconds.
 *
 * @example
 * ```ts
 * const cfg: ConnectionConfiguration = { username: "app", password: secret, keepAliveInterval: 30, cleanStart: false };
 * ```
 */
export interface ConnectionConfiguration {
  readonly username?: string;
  readonly password?: string;
  /** Connect with TLS (`mqtts://`); Node `tls` options (ca, cert, key, servername …). */
  readonly secureSocket?: TlsConnectionOptions;
  /** MQTT 5 (default) or MQTT 3.1.1 (`4`). */
  readonly protocolVersion?: 4 | 5;
  /** Keep-alive in seconds. Default 60. */
  readonly keepAliveInterval?: number;
  /** Seconds to wait for the connection (TCP + CONNACK). Default 30. */
  readonly connectionTimeout?: number;
  /**
   * Start a new session (default true). `false` resumes the broker-side session of this
   * clientId: subscriptions and QoS 1/2 messages queued while offline survive. Needs a fixed
   * clientId and QoS ≥ 1 subscriptions; the listener warns otherwise.
   */
  readonly cleanStart?: boolean;
  /**
   * MQTT 5: seconds the broker keeps the session after a disconnect. Default: with
   * `cleanStart: false`, 0xFFFFFFFF (never expires, as MQTT 3.1.1's persistent sessions);
   * otherwise 0.
   */
  readonly sessionExpiryInterval?: number;
  /** Reconnect automatically (default true). */
  readonly automaticReconnect?: boolean;
  /** Ballerina's name for `reconnect.maxDelayMs`, in milliseconds. */
  readonly maxReconnectDelay?: number;
  readonly reconnect?: ReconnectOptions;
  /** The last will. */
  readonly will?: WillMessage;
  /**
   * Largest packet this side sends or accepts, in bytes. Publishes over it (or over the
   * broker's own limit from the MQTT 5 CONNACK) fail with `MQTT_PACKET_TOO_LARGE` and are not
   * sent; MQTT 5 brokers are told not to send larger packets. Default 1 MiB.
   */
  readonly maxPacketSize?: number;
  /**
   * `"close"` (default): when the broker ends three connections in a row right after accepting
   * them (a clean close within 3 s of the CONNACK, or an MQTT 5 DISCONNECT 0x8E "session taken
   * over"), another client is using the same clientId and the two keep kicking each other out:
   * reconnecting stops with `MQTT_CLIENT_ID_CONFLICT` instead of flapping forever. `"ignore"`
   * keeps reconnecting.
   */
  readonly onClientIdConflict?: "close" | "ignore";
  /** A pino-compatible logger. Silent by default. */
  readonly logger?: Logger;
}

/**
 * Where failed messages go. Published (QoS 1, not retained) with the original payload; on
 * MQTT 5 the error, attempt count and original topic travel as `x-pirouette-*` user properties.
 *
 * @example
 * ```ts
 * new mqtt.Listener(url, "billing", "orders/#", { deadLetter: { topic: (m) => `dead/${m.topic}` } });
 * ```
 */
export interface DeadLetterOptions {
  /** The dead-letter topic, or a function of the failed message. */
  readonly topic: string | ((message: Message) => string);
  /** Default 1. */
  readonly qos?: QoS;
}

/**
 * Options of {@link Listener}: Ballerina's `ListenerConfiguration` (`manualAcks` and the
 * connection configuration) plus dispatch policy.
 *
 * @example
 * ```ts
 * new mqtt.Listener(url, "billing-1", { topic: "orders/#", qos: 1 }, {
 *   cleanStart: false,
 *   concurrency: 4,
 *   retry: { maxAttempts: 5 },
 *   deadLetter: { topic: "orders-dead" },
 * });
 * ```
 */
export interface MqttListenerOptions extends ConnectionConfiguration, ListenerOptions {
  /**
   * `false` (default): the listener acknowledges (PUBACK) a QoS 1 message after its handler
   * succeeded. `true`: the handler acknowledges with `caller.complete()` (Ballerina).
   */
  readonly manualAcks?: boolean;
  /** Handlers running at once per service. Default 1 (Ballerina: sequential). */
  readonly concurrency?: number;
  /**
   * Unacknowledged messages per service before the listener stops reading from the broker.
   * On MQTT 5 it is also sent as the CONNECT Receive Maximum. Default max(16, 2 × concurrency).
   */
  readonly maxInFlight?: number;
  /**
   * Ordering key: messages with the same key are handled one at a time, in order. Default
   * `"topic"` (MQTT orders messages per topic). `false`: no ordering beyond `concurrency`.
   */
  readonly orderBy?: "topic" | false | ((message: Message) => string | undefined);
  /** In-process retries of a failing handler. Default: core's (3 attempts, 100 ms × 2, jitter). */
  readonly retry?: RetryPolicy | false;
  /** After the retries: a dead-letter topic, your own target, or `false` (default: `onError`, then acknowledged). */
  readonly deadLetter?: DeadLetterOptions | DeadLetterTarget<Message> | false;
  readonly onHandlerFailure?: FailureAction;
  readonly onBindingFailure?: FailureAction;
  /** Payload codec. Default core's `json()` (1 MiB, depth 64, no prototype pollution). */
  readonly codec?: Codec<unknown>;
}

/**
 * Per-service configuration: `@mqtt.ServiceConfig({...})` or the attach options.
 *
 * @example
 * ```ts
 * @mqtt.ServiceConfig({ subscriptions: "sensors/+/temperature", mode: "payload" })
 * class Temperatures { onMessage(t: Reading) {} }
 * ```
 */
export interface MqttServiceConfig {
  /**
   * Topic filters this service handles (subscribed by the listener, too). Without them the
   * service gets every message of the listener's subscriptions.
   */
  readonly subscriptions?: Subscriptions;
  /**
   * `"payload"`: the method receives the decoded payload; `"message"`: the {@link Message}
   * (its `payload` decoded and validated when a payload schema is set, else the raw bytes).
   * Default: `"payload"` when a payload schema is set, else `"message"` (Ballerina).
   */
  readonly mode?: "payload" | "message";
}

/**
 * Options of {@link Client}: Ballerina's `ClientConfiguration` plus the offline queue.
 *
 * @example
 * ```ts
 * const client = new mqtt.Client(url, "sensor-7", { maxQueuedMessages: 1000, sink: { topic: "sensors/7", qos: 1 } });
 * await readings.pipeTo(client);
 * ```
 */
export interface MqttClientOptions extends ConnectionConfiguration {
  /**
   * Publishes accepted and not yet completed (queued while offline, or waiting for the broker's
   * PUBACK/PUBCOMP), at most. One more fails at once with `MQTT_BACKPRESSURE`. Default 10 000.
   */
  readonly maxQueuedMessages?: number;
  /** The same cap on their payload bytes. Default 16 MiB. */
  readonly maxQueuedBytes?: number;
  /** QoS of a publish that does not say. Default 1. */
  readonly defaultQos?: QoS;
  /** Codec for payloads that are neither bytes nor strings. Default core's `json()`. */
  readonly codec?: Codec<unknown>;
  /**
   * MQTT 5: send the codec's content type (`application/json` …) with each publish whose payload
   * the codec encoded. Default false: MQTT 5 properties cost CPU on both ends (mqtt.js encodes
   * and parses them slowly: about a third of the throughput in `bench/mqtt.ts`).
   */
  readonly sendContentType?: boolean;
  /** Where `write` (the `Sink` side) publishes values that are not `{ topic, payload }` objects. */
  readonly sink?: { readonly topic: string; readonly qos?: QoS; readonly retained?: boolean };
  /** Messages kept for `receive()` while no stream is open (oldest dropped beyond). Default 1000. */
  readonly receiveBuffer?: number;
  /** MQTT 5 response topic for `request()`. Default `pirouette/responses/<clientId>`. */
  readonly responseTopic?: string;
}

/**
 * Options of {@link Client.receive}.
 *
 * @example
 * ```ts
 * for await (const msg of client.receive({ highWaterMark: 256 })) handle(msg);
 * ```
 */
export interface ReceiveOptions {
  /**
   * Buffered messages at which the client stops reading from the broker until the stream's
   * consumer catches up (QoS 1/2 acknowledgements wait too). Default 1024.
   */
  readonly highWaterMark?: number;
}

/**
 * Options of {@link Client.request}.
 *
 * @example
 * ```ts
 * const reply = await client.request("rpc/price", { payload: { sku: "A1" } }, { timeoutMs: 2000 });
 * ```
 */
export interface RequestOptions {
  /** Default 5000 ms. */
  readonly timeoutMs?: number;
}

/**
 * A topic/message pair, what the client's `Sink` side accepts without a `sink` option.
 *
 * @example
 * ```ts
 * await Stream.from(readings).map((r): mqtt.TopicMessage => ({ topic: `sensors/${r.id}`, payload: r })).pipeTo(client);
 * ```
 */
export interface TopicMessage<T = unknown> extends PublishMessage<T> {
  readonly topic: string;
}
